import NIOCore
import Testing

@testable import SMTPWire

@Suite("Reply parser")
struct ReplyParserTests {
    /// Feeds `bytes` split at `cut` and returns every reply and the error, if any.
    private func parseAll(_ chunks: [[UInt8]], parser: ReplyParser = ReplyParser()) -> ([Reply], ReplyParseError?) {
        var parser = parser
        var buffer = ByteBuffer()
        var replies: [Reply] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            do {
                while let reply = try parser.parse(&buffer) { replies.append(reply) }
            } catch {
                return (replies, error)
            }
        }
        return (replies, nil)
    }

    @Test func singleLineReply() throws {
        let (replies, error) = parseAll([Array("250 2.1.0 Ok\r\n".utf8)])
        #expect(error == nil)
        let reply = try #require(replies.first)
        #expect(reply.code == 250)
        #expect(reply.text == "2.1.0 Ok")
        #expect(reply.enhancedCode == EnhancedStatusCode("2.1.0"))
    }

    @Test func multiLineReplyJoinsEveryLine() throws {
        let text = "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 SMTPUTF8\r\n"
        let (replies, _) = parseAll([Array(text.utf8)])
        let reply = try #require(replies.first)
        #expect(replies.count == 1)
        #expect(reply.rawLines.count == 4)
        #expect(reply.text == "mx.example.test\nPIPELINING\nSIZE 1000\nSMTPUTF8")
        #expect(EHLOCapabilities(reply: reply).advertises("size 1000"))
    }

    @Test func splitAtEveryByteBoundaryGivesTheSameReplies() {
        let text = Array("220 hello\r\n250-a\r\n250-b\n250 c\r\n354 go ahead\r\n".utf8)
        let (whole, _) = parseAll([text])
        #expect(whole.count == 3)
        for cut in 0...text.count {
            let (replies, error) = parseAll([Array(text[..<cut]), Array(text[cut...])])
            #expect(error == nil, "cut at \(cut)")
            #expect(replies.map(\.rawLines) == whole.map(\.rawLines), "cut at \(cut)")
        }
        let (dripped, _) = parseAll(text.map { [$0] })
        #expect(dripped.map(\.rawLines) == whole.map(\.rawLines))
    }

    @Test func bareLineFeedsAreTolerated() throws {
        let (replies, error) = parseAll([Array("250-first\n250 second\n".utf8)])
        #expect(error == nil)
        #expect(try #require(replies.first).textLines == ["first", "second"])
    }

    @Test func aBareCodeIsAFinalLine() throws {
        let (replies, _) = parseAll([Array("250\r\n".utf8)])
        #expect(try #require(replies.first).code == 250)
    }

    @Test(arguments: ["hello world\r\n", "25 x\r\n", "2500 x\r\n", "abc def\r\n", "650 out of range\r\n", "250_x\r\n"])
    func nonNumericOrMalformedCodesAreErrors(_ line: String) {
        let (replies, error) = parseAll([Array(line.utf8)])
        #expect(replies.isEmpty)
        #expect(error?.kind == .malformedLine)
        #expect(error?.line == Array(line.utf8.dropLast(2)))
    }

    @Test func continuationWithAnotherCodeIsAnError() {
        let (_, error) = parseAll([Array("250-a\r\n550 b\r\n".utf8)])
        #expect(error?.kind == .inconsistentCode)
    }

    @Test func anOversizeLineIsAnErrorWithoutBufferingItAll() {
        var parser = ReplyParser(maxLineLength: 64)
        var buffer = ByteBuffer()
        buffer.writeString("250-" + String(repeating: "x", count: 70))
        #expect(throws: ReplyParseError.self) { _ = try parser.parse(&buffer) }
        #expect(buffer.readableBytes == 0, "the overlong bytes were dropped, not kept")
    }

    @Test func anEndlessLineFailsOnceItExceedsTheLimit() {
        var parser = ReplyParser(maxLineLength: 100)
        var buffer = ByteBuffer()
        var thrown: ReplyParseError?
        for _ in 0..<50 where thrown == nil {
            buffer.writeString(String(repeating: "z", count: 10))
            do { _ = try parser.parse(&buffer) } catch { thrown = error }
        }
        #expect(thrown?.kind == .lineTooLong)
        #expect(thrown?.description.hasPrefix("reply line too long: more than 100 bytes without a line end") == true)
    }

    @Test func tooManyLinesIsAnError() {
        let text = String(repeating: "250-x\r\n", count: 20) + "250 end\r\n"
        let (_, error) = parseAll([Array(text.utf8)], parser: ReplyParser(maxLines: 10))
        #expect(error?.kind == .tooManyLines)
        #expect(error?.description.hasPrefix("reply has too many lines: 10 lines without a last line") == true)
    }

    @Test func controlBytesAndInvalidUTF8AreKeptAndShownEscaped() throws {
        let bytes: [UInt8] =
            Array("250 ok ".utf8) + [0x1B, 0x5B, 0x30, 0x6D, 0xFF, 0x20] + Array("é".utf8) + [0x0D, 0x0A]
        let (replies, error) = parseAll([bytes])
        #expect(error == nil)
        let reply = try #require(replies.first)
        #expect(reply.displayLines == ["250 ok \\x1b[0m\\xff é"])
        #expect(reply.summary == "250 ok \\x1b[0m\\xff é")
    }

    @Test func twoRepliesInOneRead() {
        let (replies, _) = parseAll([Array("250 one\r\n221 bye\r\n".utf8)])
        #expect(replies.map(\.code) == [250, 221])
    }
}

@Suite("Enhanced status codes, EHLO capabilities, escaping")
struct SmallCodecTests {
    @Test(arguments: [
        ("5.7.1", true), ("2.0.0", true), ("4.999.999", true), ("3.1.1", false), ("5.1000.1", false), ("5.7", false),
        ("5.7.1.2", false), ("a.b.c", false), ("05.1.1", true), ("5..1", false), (".5.1", false), ("5.1.", false),
        ("5.1.1.", false), ("", false), ("5.1.1x", false), ("٥.1.1", false), ("5.1.1\u{301}", false),
    ])
    func enhancedCodeForms(_ text: String, _ valid: Bool) {
        #expect((EnhancedStatusCode(text) != nil) == valid)
    }

    @Test func enhancedCodeAtTheStartOfReplyText() {
        #expect(EnhancedStatusCode(prefixOf: "5.1.1 <x@y>: Recipient address rejected")?.description == "5.1.1")
        #expect(EnhancedStatusCode(prefixOf: "Ok") == nil)
        let multiline = Reply(code: 250, rawLines: ["250-2.0.0 mx", "250 5.7.1 later"].map { Array($0.utf8) })
        #expect(multiline.enhancedCode?.description == "2.0.0", "the first line's code")
        let later = Reply(code: 250, rawLines: ["250-mx", "250 2.0.0 later"].map { Array($0.utf8) })
        #expect(later.enhancedCode == nil, "only the first line is read")
        let tabbed = Reply(code: 550, rawLines: [Array("550 5.7.1\tno".utf8)])
        #expect(tabbed.enhancedCode?.description == "5.7.1", "a tab ends the code too")
        let binary = Reply(code: 550, rawLines: [Array("550 5.1.1 ".utf8) + [0xFF, 0x00]])
        #expect(binary.enhancedCode?.description == "5.1.1", "bytes after the code are not decoded")
        let glued = Reply(code: 550, rawLines: [Array("550 5.1.1".utf8) + [0xFF]])
        #expect(glued.enhancedCode == nil, "a code must end at a space, a tab or the end of the line")
        let bare = Reply(code: 250, rawLines: [Array("250".utf8)])
        #expect(bare.enhancedCode == nil)
    }

    @Test func authMechanismsAreParameters() {
        let reply = Reply(
            code: 250,
            rawLines: ["250-mx", "250-AUTH PLAIN LOGIN", "250 PIPELINING"].map { Array($0.utf8) }
        )
        let capabilities = EHLOCapabilities(reply: reply)
        #expect(capabilities.advertises("AUTH PLAIN"))
        #expect(capabilities.advertises("auth login"))
        #expect(!capabilities.advertises("AUTH CRAM-MD5"))
        #expect(capabilities.advertises("PIPELINING"))
        #expect(!capabilities.advertises("STARTTLS"))
        #expect(!capabilities.advertises("MX"), "the greeting line is not an extension")
    }

    @Test func escapingKeepsPrintableUTF8() {
        #expect(ByteEscaping.escaped(Array("a\tb ü €".utf8)) == "a\tb ü €")
        #expect(ByteEscaping.escaped([0x00, 0x7F, 0xC3]) == "\\x00\\x7f\\xc3")
        #expect(
            ByteEscaping.escaped(Array("250 2.0.0 Ok: queued as 4F1X\t~".utf8)) == "250 2.0.0 Ok: queued as 4F1X\t~"
        )
        #expect(ByteEscaping.escaped(Array("ok\r".utf8)) == "ok\\x0d", "a printable line with one control byte")
        #expect(ByteEscaping.escaped(Array("250-mx".utf8).dropFirst(4)) == "mx", "a slice")
        #expect(ByteEscaping.escaped([UInt8]()) == "")
    }

    /// Every byte value, alone and inside printable text: tab and 0x20-0x7E pass, anything else is `\xNN`.
    @Test func escapingDecidesEachByteValue() {
        for value in 0...255 {
            let byte = UInt8(value)
            let printable = (0x20...0x7E).contains(byte) || byte == 0x09
            let shown =
                printable ? String(UnicodeScalar(byte)) : "\\x" + (value < 16 ? "0" : "") + String(value, radix: 16)
            #expect(ByteEscaping.escaped([byte]) == shown, "\(value)")
            #expect(ByteEscaping.escaped(Array("250 ok".utf8) + [byte] + [0x21]) == "250 ok" + shown + "!", "\(value)")
        }
    }

    @Test func ehloKeywordsAreUpperCasedWhateverTheirCase() {
        let reply = Reply(
            code: 250,
            rawLines: ["250-mx", "250-size 1000", "250-8bitmime", "250 x-ünicode Param"].map { Array($0.utf8) }
        )
        let capabilities = EHLOCapabilities(reply: reply)
        #expect(capabilities.keywords == ["SIZE", "8BITMIME", "X-ÜNICODE"])
        #expect(capabilities.advertises("Size 1000"))
        #expect(capabilities.advertises("x-Ünicode param"))
    }

    @Test func replyEncoderWritesContinuationLines() {
        var buffer = ByteBuffer()
        ReplyEncoder.encode(code: 250, enhanced: EnhancedStatusCode("2.0.0"), lines: ["one", "two"], into: &buffer)
        #expect(String(buffer: buffer) == "250-2.0.0 one\r\n250 2.0.0 two\r\n")
    }

    /// Codes and enhanced codes are written digit by digit: every number reads as String formatting writes it.
    @Test(arguments: [0, 7, 10, 250, 999, 1234, -5, -10, -15, Int.min, Int.max])
    func replyEncoderWritesNumbersAsDecimalText(_ code: Int) throws {
        var buffer = ByteBuffer()
        let enhanced = try #require(EnhancedStatusCode(statusClass: 4, subject: 12, detail: 345))
        ReplyEncoder.encode(code: code, enhanced: enhanced, lines: ["x", ""], into: &buffer)
        ReplyEncoder.encode(code: code, lines: [], into: &buffer)
        #expect(String(buffer: buffer) == "\(code)-4.12.345 x\r\n\(code) 4.12.345\r\n\(code) \r\n")
    }

    /// The queue ID `delivered` steps look for: letters and digits after the first `queued as `, on any line.
    @Test(
        arguments: [
            ("250 2.0.0 Ok: queued as 4F1X2Y", "4F1X2Y"),
            ("250 2.0.0 Ok: queued as 4dQ9z7; id=123", "4dQ9z7"),
            ("250-first line\r\n250 Ok queued as AB12", "AB12"),
            ("250 queued as 1 queued as 2", "1"),
            ("250 2.0.0 Ok: queued as ", nil),
            ("250 2.0.0 Ok: queued as <x>", nil),
            ("250 2.0.0 Ok: Queued As X1", nil),
            ("250 queued as", nil),
            ("250 ok", nil),
            ("354 End data with <CR><LF>.<CR><LF>", nil),
        ] as [(String, String?)]
    )
    func queueIDIsTheWordAfterQueuedAs(_ reply: String, _ id: String?) throws {
        var buffer = ByteBuffer(string: reply + "\r\n")
        var parser = ReplyParser()
        #expect(try #require(try parser.parse(&buffer)).queueID == id)
    }

    @Test func hostPortBracketsIPv6Only() {
        #expect(HostPort.text("127.0.0.1", 25) == "127.0.0.1:25")
        #expect(HostPort.text("mail.example.org", 587) == "mail.example.org:587")
        #expect(HostPort.text("::1", 2525) == "[::1]:2525")
        #expect(HostPort.text("fe80::1%eth0", 25) == "[fe80::1%eth0]:25")
    }
}
