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
}
