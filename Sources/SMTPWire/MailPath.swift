/// The domain part of a mailbox: a name or an address literal such as `[192.0.2.1]`.
public enum MailDomain: Sendable, Hashable, CustomStringConvertible {
    /// A domain name, as written.
    case name(String)
    /// The contents of an address literal, without brackets (`192.0.2.1`, `IPv6:::1`).
    case literal(String)

    public var description: String {
        switch self {
        case .name(let name): return name
        case .literal(let literal): return "[\(literal)]"
        }
    }
}

/// A mailbox from a MAIL FROM or RCPT TO path, parsed as RFC 5321 section 4.1.2 defines it.
public struct Mailbox: Sendable, Hashable, CustomStringConvertible {
    /// The local part, with quoting removed (`"a b"` becomes `a b`).
    public let localPart: String
    /// Whether the local part was a quoted string.
    public let isQuoted: Bool
    /// The domain, or nil for a bare local part (allowed for `<Postmaster>`, and by lenient servers).
    public let domain: MailDomain?

    /// Creates a mailbox.
    public init(localPart: String, isQuoted: Bool = false, domain: MailDomain?) {
        self.localPart = localPart
        self.isQuoted = isQuoted
        self.domain = domain
    }

    public var description: String {
        let local = isQuoted ? "\"\(localPart)\"" : localPart
        guard let domain else { return local }
        return "\(local)@\(domain)"
    }
}

/// A reverse-path or forward-path: `<>` or `<[@route,...:]mailbox>`, plus any ESMTP parameters after it.
public struct MailPath: Sendable, Hashable {
    /// The mailbox, or nil for the null reverse-path `<>`.
    public let mailbox: Mailbox?
    /// Source-route domains (`<@a,@b:user@c>` gives `[a, b]`); deprecated, and a relay attempt when present.
    public let sourceRoute: [String]
    /// ESMTP parameters after the path (`SIZE=1000`, `BODY=8BITMIME`), keywords upper-cased.
    public let parameters: [(keyword: String, value: String?)]

    public static func == (lhs: MailPath, rhs: MailPath) -> Bool {
        lhs.mailbox == rhs.mailbox && lhs.sourceRoute == rhs.sourceRoute
            && lhs.parameters.map(\.keyword) == rhs.parameters.map(\.keyword)
            && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(mailbox)
        hasher.combine(sourceRoute)
    }

    /// Why a path could not be parsed.
    public struct ParseError: Error, Sendable, Hashable {
        /// A short explanation for a 501 reply.
        public let reason: String
    }

    /// Parses the argument of `MAIL FROM:` or `RCPT TO:` (the text after the colon).
    ///
    /// Like Postfix with its default `strict_rfc821_envelopes = no`, a space after the colon and an address without
    /// angle brackets are accepted.
    public init(parsing argument: String) throws(ParseError) {
        var scanner = PathScanner(Array(argument.utf8))
        scanner.skipSpaces()
        let bracketed = scanner.peek == UInt8(ascii: "<")
        if bracketed { scanner.advance() }
        var route: [String] = []
        if bracketed, scanner.peek == UInt8(ascii: "@") {
            while scanner.peek == UInt8(ascii: "@") {
                scanner.advance()
                guard let domain = scanner.domain() else { throw ParseError(reason: "bad source route") }
                route.append(domain.description)
                if scanner.peek == UInt8(ascii: ",") {
                    scanner.advance()
                } else {
                    break
                }
            }
            guard scanner.peek == UInt8(ascii: ":") else { throw ParseError(reason: "source route must end with ':'") }
            scanner.advance()
        }
        var mailbox: Mailbox?
        if bracketed, scanner.peek == UInt8(ascii: ">") {
            guard route.isEmpty else { throw ParseError(reason: "source route without a mailbox") }
        } else {
            mailbox = try scanner.mailbox(bracketed: bracketed)
        }
        if bracketed {
            guard scanner.peek == UInt8(ascii: ">") else { throw ParseError(reason: "missing '>' after the address") }
            scanner.advance()
        }
        var parameters: [(String, String?)] = []
        while true {
            let hadSpace = scanner.skipSpaces()
            guard !scanner.atEnd else { break }
            guard hadSpace || parameters.isEmpty && !bracketed else {
                throw ParseError(reason: "unexpected text after the address")
            }
            let word = scanner.word()
            guard !word.isEmpty else { throw ParseError(reason: "unexpected text after the address") }
            if let equals = word.firstIndex(of: "=") {
                parameters.append((word[..<equals].uppercased(), String(word[word.index(after: equals)...])))
            } else {
                parameters.append((word.uppercased(), nil))
            }
        }
        self.mailbox = mailbox
        self.sourceRoute = route
        self.parameters = parameters
    }
}

/// A small scanner over the UTF-8 bytes of a path, for the RFC 5321 grammar. Every delimiter is ASCII and every
/// byte of a non-ASCII character is 0x80 or more (SMTPUTF8 allows them where it allows letters), so bytes give
/// the same answers as characters: a scanner over Unicode scalars cost about 7,000 instructions per path.
private struct PathScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    mutating func advance() { index += 1 }

    private func text(from start: Int) -> String { String(decoding: bytes[start..<index], as: UTF8.self) }

    @discardableResult
    mutating func skipSpaces() -> Bool {
        let start = index
        while peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") { advance() }
        return index > start
    }

    mutating func word() -> String {
        let start = index
        while let c = peek, c != UInt8(ascii: " "), c != UInt8(ascii: "\t") { advance() }
        return text(from: start)
    }

    /// RFC 5321 atext plus the UTF-8 allowed by SMTPUTF8.
    static func isAtext(_ c: UInt8) -> Bool {
        if isLetterOrDigit(c) { return true }
        switch c {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// ASCII letters and digits, and any byte of a non-ASCII character (SMTPUTF8).
    static func isLetterOrDigit(_ c: UInt8) -> Bool {
        c >= 0x80 || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }

    mutating func mailbox(bracketed: Bool) throws(MailPath.ParseError) -> Mailbox {
        let local: String
        var quoted = false
        if peek == UInt8(ascii: "\"") {
            quoted = true
            advance()
            var content: [UInt8] = []
            while true {
                guard let c = peek else { throw MailPath.ParseError(reason: "unterminated quoted local part") }
                advance()
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    // The escaped character's first byte; the rest of a multi-byte one follows as plain bytes.
                    guard let escaped = peek else {
                        throw MailPath.ParseError(reason: "unterminated quoted local part")
                    }
                    content.append(escaped)
                    advance()
                } else {
                    content.append(c)
                }
            }
            local = String(decoding: content, as: UTF8.self)
        } else {
            let start = index
            while let c = peek, Self.isAtext(c) || c == UInt8(ascii: ".") { advance() }
            if index == start { throw MailPath.ParseError(reason: "missing local part") }
            // One pass: no dot first or last, no two in a row.
            var afterDot = true
            for byte in bytes[start..<index] {
                if byte == UInt8(ascii: "."), afterDot {
                    throw MailPath.ParseError(reason: "bad dots in the local part")
                }
                afterDot = byte == UInt8(ascii: ".")
            }
            if afterDot { throw MailPath.ParseError(reason: "bad dots in the local part") }
            local = text(from: start)
        }
        guard peek == UInt8(ascii: "@") else {
            // A bare local part: `<Postmaster>`, `<D!T>` or `<"T@D">`; the server decides what it means.
            return Mailbox(localPart: local, isQuoted: quoted, domain: nil)
        }
        advance()
        guard let domain = domain() else { throw MailPath.ParseError(reason: "bad domain") }
        return Mailbox(localPart: local, isQuoted: quoted, domain: domain)
    }

    /// `Domain` or `address-literal`.
    mutating func domain() -> MailDomain? {
        if peek == UInt8(ascii: "[") {
            advance()
            let start = index
            while let c = peek, c != UInt8(ascii: "]") {
                guard c != UInt8(ascii: "["), c != UInt8(ascii: "\\"), c > 32 else { return nil }
                advance()
            }
            guard peek == UInt8(ascii: "]"), index > start else { return nil }
            let literal = text(from: start)
            advance()
            return .literal(literal)
        }
        let start = index
        while let c = peek, Self.isLetterOrDigit(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") { advance() }
        // Every label non-empty, and none starting or ending with a hyphen.
        var previous = UInt8(ascii: ".")
        for c in bytes[start..<index] {
            if c == UInt8(ascii: "."), previous == UInt8(ascii: ".") || previous == UInt8(ascii: "-") { return nil }
            if c == UInt8(ascii: "-"), previous == UInt8(ascii: ".") { return nil }
            previous = c
        }
        guard index > start, previous != UInt8(ascii: "."), previous != UInt8(ascii: "-") else { return nil }
        return .name(text(from: start))
    }
}

extension Mailbox {
    /// Where this mailbox really routes to once the old relay conventions are applied, as an MTA would read it:
    /// a quoted `"user@domain"`, the `%` hack `user%domain` and UUCP bang paths `domain!user` all name another
    /// domain inside the local part. Returns nil when the local part names no other domain.
    public var embeddedDomain: String? {
        let local = localPart
        // Searched byte by byte, as an MTA reads it (a Character search cost about 1,800 instructions each).
        let bytes = local.utf8
        if let at = bytes.lastIndex(of: UInt8(ascii: "@")) { return String(local[bytes.index(after: at)...]) }
        if let percent = bytes.lastIndex(of: UInt8(ascii: "%")) { return String(local[bytes.index(after: percent)...]) }
        if let bang = bytes.firstIndex(of: UInt8(ascii: "!")) { return String(local[..<bang]) }
        return nil
    }
}
