import Foundation
import Testing

@testable import SMTPWire

@Suite("RFC 5321 paths")
struct MailPathTests {
    @Test func aPlainMailbox() throws {
        let path = try MailPath(parsing: "<alice@example.com> SIZE=100 BODY=8BITMIME")
        #expect(path.mailbox == Mailbox(localPart: "alice", domain: .name("example.com")))
        #expect(path.parameters.map(\.keyword) == ["SIZE", "BODY"])
        #expect(path.parameters.first?.value == "100")
    }

    @Test func theNullPath() throws {
        #expect(try MailPath(parsing: "<>").mailbox == nil)
    }

    @Test func lenientFormsPostfixAccepts() throws {
        #expect(try MailPath(parsing: " <a@b.c>").mailbox?.description == "a@b.c")
        #expect(try MailPath(parsing: "a@b.c").mailbox?.description == "a@b.c")
    }

    @Test func quotedLocalPartsAndLiterals() throws {
        let quoted = try MailPath(parsing: #"<"T@D"@[192.0.2.1]>"#)
        #expect(quoted.mailbox?.isQuoted == true)
        #expect(quoted.mailbox?.localPart == "T@D")
        #expect(quoted.mailbox?.domain == .literal("192.0.2.1"))
        #expect(quoted.mailbox?.embeddedDomain == "D")
        // Escapes drop the backslash whatever follows, a multi-byte character included; literals keep any
        // character above the space.
        let escaped = try MailPath(parsing: #"<"a\é\"b\\c d"@[IPv6:2001:db8::1]> SMTPUTF8"#)
        #expect(escaped.mailbox?.localPart == #"aé"b\c d"#)
        #expect(escaped.mailbox?.domain == .literal("IPv6:2001:db8::1"))
        #expect(escaped.parameters.map(\.keyword) == ["SMTPUTF8"])
        let unicode = try MailPath(parsing: "<jürgen.ölß@bücher.例え.jp>")
        #expect(unicode.mailbox?.localPart == "jürgen.ölß")
        #expect(unicode.mailbox?.domain == .name("bücher.例え.jp"))
        #expect(throws: MailPath.ParseError.self) { try MailPath(parsing: "<\"é\\>") }
        #expect(throws: MailPath.ParseError.self) { try MailPath(parsing: "<a@[é\\]>") }
    }

    @Test func sourceRoutesAreKept() throws {
        let path = try MailPath(parsing: "<@[10.0.0.1],@relay.example:user@dest.example>")
        #expect(path.sourceRoute == ["[10.0.0.1]", "relay.example"])
        #expect(path.mailbox?.description == "user@dest.example")
    }

    @Test(arguments: [
        ("user%dest.example@here.example", "dest.example"), ("dest.example!user", "dest.example"),
        ("dest.example!user@here", "dest.example"), ("plain@here", nil),
        ("\"ü%dést@dömain\"@here", "dömain"), ("\"ü%dést\"@here", "dést"), ("dömäin!ü@here", "dömäin"),
    ])
    func relayConventionsInLocalParts(_ address: String, _ embedded: String?) throws {
        #expect(try MailPath(parsing: "<\(address)>").mailbox?.embeddedDomain == embedded)
    }

    @Test(arguments: [
        "<a@b", "<@x:>", "<.a@b>", "<a..b@c>", "<a.@b>", "<.@b>", "<a@-b.c>", "<a@b>x", "<a@[]>", "<\"open@b>",
        "<a@b-.c>", "<a@b..c>", "<a@.b>", "<a@b.>", "<a@b.c->", "<a@->", "<a@.>", "<a(b@c>",
    ])
    func malformedPathsAreRefused(_ text: String) {
        #expect(throws: MailPath.ParseError.self) { try MailPath(parsing: text) }
    }

    @Test(arguments: [
        "a-b.example", "xn--bcher-kva.example", "b", "1.2.3.example", "ünïcode.example", "a.b-c.d", "x--y.z",
    ])
    func wellFormedDomainsAreKept(_ domain: String) throws {
        let mailbox = try #require(try MailPath(parsing: "<u!#$%&'*+-/=?^_`{|}~@\(domain)>").mailbox)
        #expect(mailbox.domain == .name(domain))
        #expect(mailbox.localPart == "u!#$%&'*+-/=?^_`{|}~", "every atext character")
    }

    @Test(arguments: [
        ("Postmaster", "postmaster"), ("ALICE", "alice"), ("a", "b"), ("ab", "a"), ("", ""), ("straße", "STRASSE"),
        ("ÄRGER", "ärger"), ("é", "e"), ("PIPELINING", "pipelining"), ("x-1", "X-1"), ("@[", "`{"),
    ])
    func caseInsensitiveEqualityAgreesWithFoundation(_ lhs: String, _ rhs: String) {
        #expect(lhs.equalsIgnoringCase(rhs) == (lhs.caseInsensitiveCompare(rhs) == .orderedSame))
    }

    @Test(arguments: [
        "FROM:<a@b>", "from:<a@b>", "fRoM:", "FROM", "FRO", "", "FROX:<a>", " FROM:<a>", "[ROM:", "{ROM:",
        "\u{FB00}ROM:", "ＦROM:", "TO:<a>", "to:", "tO", "To :", "mx:host", "MX:", "smtps://h", "SMTP://h", "ſmtp://",
        "\u{212A}", "ı",
    ])
    func prefixIgnoringCaseAgreesWithTheCaseMappingItReplaced(_ text: String) {
        // The prefixes the mock (upper-cased before) and the server target syntax (lower-cased) look for.
        for prefix in ["FROM:", "TO:"] {
            #expect(text.hasPrefixIgnoringCase(prefix) == text.uppercased().hasPrefix(prefix), "\(text) \(prefix)")
        }
        for prefix in ["mx:", "smtp://", "smtps://"] {
            #expect(text.hasPrefixIgnoringCase(prefix) == text.lowercased().hasPrefix(prefix), "\(text) \(prefix)")
        }
        // Case is ASCII's only: the long s upper-cases to S and the Kelvin sign lower-cases to k in Unicode.
        #expect(!"\u{17F}MTP://".hasPrefixIgnoringCase("SMTP://"))
        #expect(!"\u{212A}".hasPrefixIgnoringCase("k"))
    }

    @Test func afterPrefixIgnoringCaseRemovesThePrefixAsBytes() {
        #expect("from:<a@b>".afterPrefixIgnoringCase("FROM:") == "<a@b>")
        #expect("SMTPS://host:465".afterPrefixIgnoringCase("smtps://") == "host:465")
        #expect("FROM:".afterPrefixIgnoringCase("FROM:") == "")
        #expect("FRO".afterPrefixIgnoringCase("FROM:") == nil)
        #expect("TO :<a>".afterPrefixIgnoringCase("TO:") == nil)
        // A combining mark after the colon stays with what follows; dropping five characters would take it.
        let marked = "FROM:\u{301}<a@b>"
        #expect(marked.afterPrefixIgnoringCase("FROM:")?.unicodeScalars.first == "\u{301}")
        #expect(marked.dropFirst(5).unicodeScalars.first == "<")
    }

    @Test(arguments: [
        "  client.example \t", "client.example", "", "   ", "\t", "\u{A0}name\u{2003}", "a b", " \u{301}x ",
        "\u{3000}\u{3000}", "\u{85}x\u{85}", "\n x \n", "é ",
    ])
    func trimmingWhitespaceAgreesWithFoundation(_ text: String) {
        #expect(String(text.trimmingWhitespace()) == text.trimmingCharacters(in: .whitespaces))
    }
}
