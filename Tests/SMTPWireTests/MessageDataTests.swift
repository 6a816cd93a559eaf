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

    /// `receiveLines` copies runs of plain lines in one piece; it must still agree with `receive` fed line by
    /// line, for every policy, size limit and line limit, however the input is split. Inputs are drawn from the
    /// pieces that matter (dots, bare CR and LF, the end sequence, long runs) by a fixed-seed generator.
    @Test(arguments: [BareLineEndingPolicy.reject, .normalize, .accept])
    func receivingLinesInBatchesAgreesWithOneLineAtATime(_ policy: BareLineEndingPolicy) {
        let pieces = ["ab", ".", "..", "\r", "\n", "\r\n", "\r\n.\r\n", "\n.\n", "xxxxxxxxxx", "", " "]
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            // SplitMix64: reproducible without depending on the standard generator's algorithm.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
        for round in 0..<3_000 {
            let wire = Array((0..<next(24)).map { _ in pieces[next(pieces.count)] }.joined().utf8)
            let maxSize = [8, 40, 1 << 20][round % 3]
            let maxLine = [6, 1000][round % 2]

            var reference = DataReceiver(policy: policy, maxSize: maxSize)
            var referenceFramer = LineFramer(maxLineLength: maxLine)
            var referenceInput = ByteBuffer(bytes: wire)
            var expected: DataReceiver.Outcome?
            while expected == nil, let line = referenceFramer.next(from: &referenceInput) {
                expected = reference.receive(line)
            }

            var receiver = DataReceiver(policy: policy, maxSize: maxSize)
            var framer = LineFramer(maxLineLength: maxLine)
            var input = ByteBuffer()
            var outcome: DataReceiver.Outcome?
            var offset = 0
            while outcome == nil, offset < wire.count {
                let length = 1 + next(wire.count - offset)
                input.writeBytes(wire[offset..<offset + length])
                offset += length
                outcome = receiver.receiveLines(from: &input, framer: &framer)
            }
            #expect(
                outcome == expected,
                "\(policy) \(maxSize) \(maxLine): \(String(decoding: wire, as: UTF8.self).debugDescription)"
            )
            if outcome != nil {
                let rest = Array(input.readableBytesView) + wire[offset...]
                #expect(rest.elementsEqual(referenceInput.readableBytesView), "the bytes after the end stay")
            }
        }
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
