import NIOCore
import Testing

@testable import SMTPWire

@Suite("DATA encoding and the server's DATA reader")
struct MessageDataTests {
    @Test func dotStuffingAndLineEndings() {
        let encoded = MessageData.encode("Subject: x\n\n.hidden\r\n..two\rlast")
        #expect(String(buffer: encoded) == "Subject: x\r\n\r\n..hidden\r\n...two\r\nlast\r\n.\r\n")
    }

    @Test func aMessageEndingInANewlineGetsNoExtraBlankLine() {
        #expect(String(buffer: MessageData.encode("a\n")) == "a\r\n.\r\n")
        #expect(String(buffer: MessageData.encode("")) == ".\r\n")
    }

    /// Every text of up to six bytes from `a . \r \n`, against the rule written out byte by byte.
    @Test func everyShortMixOfDotsAndLineEndingsEncodesAsTheByteByByteRule() {
        func reference(_ bytes: [UInt8], dotStuffing: Bool) -> [UInt8] {
            var out: [UInt8] = []
            var atLineStart = true
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 13 || byte == 10 {
                    out += [13, 10]
                    if byte == 13, index + 1 < bytes.count, bytes[index + 1] == 10 { index += 1 }
                    atLineStart = true
                } else {
                    if dotStuffing, atLineStart, byte == 46 { out.append(46) }
                    out.append(byte)
                    atLineStart = false
                }
                index += 1
            }
            if !atLineStart { out += [13, 10] }
            return out
        }
        let alphabet: [UInt8] = [97, 46, 13, 10]
        var texts: [[UInt8]] = [[]]
        var last: [[UInt8]] = [[]]
        for _ in 1...6 {
            last = last.flatMap { prefix in alphabet.map { prefix + [$0] } }
            texts += last
        }
        for bytes in texts {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(
                Array(MessageData.encode(text).readableBytesView) == reference(bytes, dotStuffing: true) + [46, 13, 10]
            )
            #expect(MessageData.chunkContent(text) == reference(bytes, dotStuffing: false))
        }
    }

    @Test func aChunkIsNormalisedToCRLFButNeverDotStuffed() {
        #expect(
            MessageData.chunkContent("Subject: x\n\n.hidden\rlast")
                == Array("Subject: x\r\n\r\n.hidden\r\nlast\r\n".utf8)
        )
        #expect(MessageData.chunkContent("") == [])
    }

    @Test func bdatCarriesItsComputedSizeAndTheBytesInOneBuffer() {
        let bytes: [UInt8] = [0x00, 0x0A, 0x2E, 0x0D]
        #expect(Array(MessageData.bdat(bytes, last: true).readableBytesView) == Array("BDAT 4 LAST\r\n".utf8) + bytes)
        #expect(String(buffer: MessageData.bdat([], last: false)) == "BDAT 0\r\n")
    }

    @Test func theChunkReceiverKeepsExactBytesAndCountsPastTheLimit() {
        var receiver = ChunkReceiver(maxSize: 8)
        receiver.begin(size: 5, last: false)
        var buffer = ByteBuffer(string: "ab\r\n.NOOP")
        #expect(receiver.consume(&buffer) == .chunkAccepted(size: 5))
        #expect(String(buffer: buffer) == "NOOP", "what follows the chunk stays for the command reader")
        receiver.begin(size: 3, last: true)
        var rest = ByteBuffer(string: "xyz")
        guard case .message(let content)? = receiver.consume(&rest) else {
            Issue.record("expected the message")
            return
        }
        #expect(String(buffer: content) == "ab\r\n.xyz")

        var small = ChunkReceiver(maxSize: 4)
        small.begin(size: 6, last: true)
        var six = ByteBuffer(string: "abc")
        #expect(small.consume(&six) == nil, "half a chunk is no outcome")
        six = ByteBuffer(string: "def")
        #expect(small.consume(&six) == .tooLarge(size: 6))
        #expect(small.contentCapacity == 0)
    }

    private func receive(
        _ wire: String,
        policy: BareLineEndingPolicy,
        maxSize: Int = 1 << 20
    ) -> (DataReceiver.Outcome?, String) {
        var receiver = DataReceiver(policy: policy, maxSize: maxSize)
        var framer = LineFramer(maxLineLength: 1000)
        var buffer = ByteBuffer(string: wire)
        let outcome = receiver.receiveLines(from: &buffer, framer: &framer)
        return (outcome, String(buffer: buffer))
    }

    /// The content arrives in pieces that split lines and the final dot: each call takes the complete lines, keeps
    /// the partial one for the next, and the end leaves the following command in the buffer.
    @Test func contentInPiecesEndsOnceWithTheRestLeft() {
        var receiver = DataReceiver(policy: .reject, maxSize: 1 << 20)
        var framer = LineFramer(maxLineLength: 1000)
        var buffer = ByteBuffer()
        var outcomes: [DataReceiver.Outcome?] = []
        for piece in ["Subject: a\r\n\r\nfir", "st\r\n..second\r\n", ".", "\r", "\nQUIT\r\n"] {
            buffer.writeString(piece)
            outcomes.append(receiver.receiveLines(from: &buffer, framer: &framer))
            if outcomes.last! != nil { break }
        }
        #expect(outcomes.count == 5)
        #expect(outcomes.dropLast().allSatisfy { $0 == nil })
        #expect(outcomes.last! == .message(ByteBuffer(string: "Subject: a\r\n\r\nfirst\r\n.second\r\n")))
        #expect(String(buffer: buffer) == "QUIT\r\n")
    }

    @Test func roundTripRemovesTheStuffing() {
        let text = "Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nend"
        let wire = String(buffer: MessageData.encode(text))
        let (outcome, rest) = receive(wire + "QUIT\r\n", policy: .reject)
        guard case .message(let content) = outcome else {
            Issue.record("expected a message, got \(String(describing: outcome))")
            return
        }
        #expect(String(buffer: content) == "Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nend\r\n")
        #expect(rest == "QUIT\r\n", "bytes after the end of data are left for the command reader")
    }

    @Test(arguments: ["\n.\n", "\n.\r\n", "\r.\r\n"])
    func smugglingSequencesDoNotEndDataAndAreRefusedByDefault(_ sequence: String) {
        let wire = "Subject: x\r\n\r\nfirst\(sequence)MAIL FROM:<a@b>\r\n.\r\n"
        let (outcome, _) = receive(wire, policy: .reject)
        #expect(outcome == .bareLineEnding)
    }

    @Test(arguments: ["\n.\n", "\n.\r\n", "\r.\r\n"])
    func normalizeKeepsReadingToTheRealEnd(_ sequence: String) {
        let wire = "first\(sequence)MAIL FROM:<a@b>\r\n.\r\n"
        let (outcome, _) = receive(wire, policy: .normalize)
        guard case .message(let content) = outcome else {
            Issue.record("expected a message, got \(String(describing: outcome))")
            return
        }
        #expect(String(buffer: content).contains("MAIL FROM:<a@b>"), "the smuggled command stays message content")
    }

    @Test(arguments: [("\n.\n", true), ("\n.\r\n", true), ("\r.\r\n", false)])
    func acceptIsDeliberatelyVulnerable(_ sequence: String, _ endsEarly: Bool) {
        let (outcome, rest) = receive("first\(sequence)MAIL FROM:<a@b>\r\n.\r\n", policy: .accept)
        #expect(outcome != nil)
        #expect(rest.hasPrefix("MAIL FROM") == endsEarly)
    }

    @Test func anOversizeMessageIsCountedNotKept() {
        let body = String(repeating: "0123456789\r\n", count: 100)
        let (outcome, _) = receive(body + ".\r\n", policy: .reject, maxSize: 500)
        #expect(outcome == .tooLarge(size: 1200))
    }
}
