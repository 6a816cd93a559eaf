import Testing

@testable import SMTPWire

/// The generated table, spot-checked against the RFCs' own text (quoted here from RFC 5321 section 4.2.2/4.2.3,
/// RFC 4954 section 6 and RFC 3463 section 3), and the parsing of `explain`'s input.
@Suite("Reply and enhanced status code meanings")
struct StatusCodeRegistryTests {
    @Test(arguments: [
        (250, "Requested mail action okay, completed"),
        (354, "Start mail input; end with <CRLF>.<CRLF>"),
        (421, "<domain> Service not available, closing transmission channel"),
        (
            450,
            "Requested mail action not taken: mailbox unavailable (e.g., mailbox busy or temporarily blocked for policy reasons)"
        ),
        (452, "Requested action not taken: insufficient system storage"),
        (503, "Bad sequence of commands"),
        (
            550,
            "Requested action not taken: mailbox unavailable (e.g., mailbox not found, no access, or command rejected for policy reasons)"
        ),
        (552, "Requested mail action aborted: exceeded storage allocation"),
        (554, "Transaction failed (Or, in the case of a connection-opening response, \"No SMTP service here\")"),
        (535, "Authentication credentials invalid"),
        (538, "Encryption required for requested authentication mechanism"),
    ])
    func basicCodesCarryTheRFCWording(_ code: Int, _ text: String) throws {
        #expect(try #require(StatusCodeRegistry.reply(code)).text == text)
    }

    @Test(arguments: [
        ("5.1.1", "Bad destination mailbox address"), ("4.2.2", "Mailbox full"),
        ("5.3.4", "Message too big for system"), ("4.4.5", "Mail system congestion"), ("5.5.3", "Too many recipients"),
        ("5.7.1", "Delivery not authorized, message refused"), ("5.7.8", "Authentication credentials invalid"),
        ("5.7.11", "Encryption required for requested authentication mechanism"),
        ("5.1.10", "Recipient address has null MX"),
    ])
    func enhancedCodesCarryTheRegisteredSummaries(_ code: String, _ summary: String) throws {
        let parsed = try #require(EnhancedStatusCode(code))
        #expect(StatusCodeRegistry.entries(for: parsed).detail?.summary == summary)
    }

    @Test func everyClassAndSubjectIsThere() {
        for statusClass in [2, 4, 5] {
            #expect(
                StatusCodeRegistry.entries(for: EnhancedStatusCode(statusClass: statusClass, subject: 0, detail: 0)!)
                    .class != nil
            )
        }
        for subject in 0...7 {
            #expect(
                StatusCodeRegistry.entries(for: EnhancedStatusCode(statusClass: 5, subject: subject, detail: 99)!)
                    .subject != nil
            )
        }
    }

    @Test func explainTakesAnyLeadingPartOfAReplyLine() throws {
        let full = try #require(StatusCodeRegistry.explain("550-5.7.1 Relay access denied"))
        #expect(full.code == 550)
        #expect(full.enhanced == EnhancedStatusCode("5.7.1"))
        #expect(full.detailEntry?.summary == "Delivery not authorized, message refused")
        #expect(full.text == "Relay access denied")
        #expect(StatusCodeRegistry.explain("550")?.enhanced == nil)
        #expect(StatusCodeRegistry.explain("4.7.1")?.code == nil)
        #expect(StatusCodeRegistry.explain("  452 4.5.3")?.detailEntry?.summary == "Too many recipients")
        #expect(StatusCodeRegistry.explain("hello") == nil)
        #expect(StatusCodeRegistry.explain("5500") == nil)
        #expect(StatusCodeRegistry.explain("9.9.9") == nil)
    }

    @Test func failureMessagesAndExplainShareTheTable() {
        #expect(
            StatusCodeRegistry.meaning(of: 550, enhanced: EnhancedStatusCode("5.1.1"))
                == "mailbox unavailable; bad destination mailbox address"
        )
        #expect(StatusCodeRegistry.meaning(of: 599) == "permanent failure")
    }
}
