import NIOCore
import Testing

@testable import SMTPWire

@Suite("Command lines")
struct CommandLineTests {
    @Test func everyVerbIsFoundByItsBytes() {
        for verb in SMTPVerb.allCases {
            #expect(SMTPVerb(keyword: verb.rawValue) == verb)
        }
    }

    @Test(arguments: ["", "EHL", "EHLOX", "STARTTLSX", "X-UNKNOWN", "\0EHLO", "EHLO\0", "ehlo", "ÉHLO"])
    func nonVerbsAreNotVerbs(_ keyword: String) {
        #expect(SMTPVerb(keyword: keyword) == nil)
        #expect(SMTPVerb(keyword: keyword) == SMTPVerb(rawValue: keyword))
    }

    @Test func aLineSplitsIntoUpperCasedVerbAndArgument() {
        let mail = SMTPCommandLine("mail FROM:<a@b.example> SIZE=10")
        #expect(mail.keyword == "MAIL")
        #expect(mail.verb == .mail)
        #expect(mail.argument == "FROM:<a@b.example> SIZE=10")

        let tabbed = SMTPCommandLine("StartTLS\tnow")
        #expect(tabbed.verb == .starttls)
        #expect(tabbed.argument == "now")

        let bare = SMTPCommandLine("quit")
        #expect(bare.verb == .quit)
        #expect(bare.argument == "")

        let unknown = SMTPCommandLine("x-ünknown arg")
        #expect(unknown.keyword == "X-ÜNKNOWN")
        #expect(unknown.verb == nil)
    }

    /// Received bytes split before they are decoded: invalid UTF-8 becomes U+FFFD in whichever part it is.
    @Test func receivedBytesSplitThenDecodeLeniently() {
        let line = SMTPCommandLine(ByteBuffer(bytes: Array("mail FROM:<".utf8) + [0xFF, 0xC3] + Array(">".utf8)))
        #expect(line.verb == .mail)
        #expect(line.argument == "FROM:<\u{FFFD}\u{FFFD}>")

        let odd = SMTPCommandLine(ByteBuffer(bytes: [0x65, 0xC3, 0x20, 0x61]))
        #expect(odd.keyword == "E\u{FFFD}")
        #expect(odd.verb == nil)
        #expect(odd.argument == "a")

        let empty = SMTPCommandLine(ByteBuffer())
        #expect(empty.keyword == "" && empty.argument == "" && empty.verb == nil)
    }

    @Test func aLineBreakIsACRorAnLFAnywhere() {
        #expect(!SMTPCommandLine.containsLineBreak("MAIL FROM:<a@b.example>\t SIZE=10 ü"))
        for text in ["a\r\nb", "a\nb", "a\rb", "\n", "end\r"] {
            #expect(SMTPCommandLine.containsLineBreak(text), "\(text.debugDescription)")
        }
        #expect(!SMTPCommandLine.containsLineBreak("line\u{2028}separator"), "only CR and LF end an SMTP line")
    }

    @Test func aLineIsEncodedWithItsCRLFAfterWhatTheBufferHolds() {
        var buffer = ByteBuffer(string: "RSET\r\n")
        SMTPCommandLine.encode("MAIL FROM:<jos\u{E9}@example.org>", into: &buffer)
        SMTPCommandLine.encode("", into: &buffer)
        #expect(Array(buffer.readableBytesView) == Array("RSET\r\nMAIL FROM:<jos\u{E9}@example.org>\r\n\r\n".utf8))
        var empty = ByteBuffer()
        SMTPCommandLine.encode("QUIT", into: &empty)
        #expect(String(buffer: empty) == "QUIT\r\n")
    }
}
