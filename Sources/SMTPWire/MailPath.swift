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
        var scanner = PathScanner(Array(argument.unicodeScalars))
        scanner.skipSpaces()
        let bracketed = scanner.peek == "<"
        if bracketed { scanner.advance() }
        var route: [String] = []
        if bracketed, scanner.peek == "@" {
            while scanner.peek == "@" {
                scanner.advance()
                guard let domain = scanner.domain() else { throw ParseError(reason: "bad source route") }
                route.append(domain.description)
                if scanner.peek == "," {
                    scanner.advance()
                } else {
                    break
                }
            }
            guard scanner.peek == ":" else { throw ParseError(reason: "source route must end with ':'") }
            scanner.advance()
        }
        var mailbox: Mailbox?
        if bracketed, scanner.peek == ">" {
            guard route.isEmpty else { throw ParseError(reason: "source route without a mailbox") }
        } else {
            mailbox = try scanner.mailbox(bracketed: bracketed)
        }
        if bracketed {
            guard scanner.peek == ">" else { throw ParseError(reason: "missing '>' after the address") }
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

/// A small scanner over Unicode scalars for the RFC 5321 path grammar.
private struct PathScanner {
    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    var atEnd: Bool { index >= scalars.count }
    var peek: Unicode.Scalar? { atEnd ? nil : scalars[index] }
    mutating func advance() { index += 1 }

    @discardableResult
    mutating func skipSpaces() -> Bool {
        let start = index
        while peek == " " || peek == "\t" { advance() }
        return index > start
    }

    mutating func word() -> String {
        var out = String.UnicodeScalarView()
        while let c = peek, c != " ", c != "\t" {
            out.append(c)
            advance()
        }
        return String(out)
    }

    /// RFC 5321 atext plus the UTF-8 allowed by SMTPUTF8.
    static func isAtext(_ c: Unicode.Scalar) -> Bool {
        if isLetterOrDigit(c) { return true }
        // A switch, not a search of a string of them: this runs for every character of every local part.
        switch c {
        case "!", "#", "$", "%", "&", "'", "*", "+", "-", "/", "=", "?", "^", "_", "`", "{", "|", "}", "~": return true
        default: return false
        }
    }

    /// ASCII letters and digits, and any non-ASCII scalar (SMTPUTF8).
    static func isLetterOrDigit(_ c: Unicode.Scalar) -> Bool {
        c.value >= 0x80 || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }

    mutating func mailbox(bracketed: Bool) throws(MailPath.ParseError) -> Mailbox {
        var local = String.UnicodeScalarView()
        var quoted = false
        if peek == "\"" {
            quoted = true
            advance()
            while true {
                guard let c = peek else { throw MailPath.ParseError(reason: "unterminated quoted local part") }
                advance()
                if c == "\"" { break }
                if c == "\\" {
                    guard let escaped = peek else {
                        throw MailPath.ParseError(reason: "unterminated quoted local part")
                    }
                    local.append(escaped)
                    advance()
                } else {
                    local.append(c)
                }
            }
        } else {
            while let c = peek, Self.isAtext(c) || c == "." {
                local.append(c)
                advance()
            }
            let text = String(local)
            if text.isEmpty { throw MailPath.ParseError(reason: "missing local part") }
            // One pass over the bytes: no dot first or last, no two in a row.
            var afterDot = true
            for byte in text.utf8 {
                if byte == UInt8(ascii: "."), afterDot {
                    throw MailPath.ParseError(reason: "bad dots in the local part")
                }
                afterDot = byte == UInt8(ascii: ".")
            }
            if afterDot { throw MailPath.ParseError(reason: "bad dots in the local part") }
        }
        guard peek == "@" else {
            // A bare local part: `<Postmaster>`, `<D!T>` or `<"T@D">`; the server decides what it means.
            return Mailbox(localPart: String(local), isQuoted: quoted, domain: nil)
        }
        advance()
        guard let domain = domain() else { throw MailPath.ParseError(reason: "bad domain") }
        return Mailbox(localPart: String(local), isQuoted: quoted, domain: domain)
    }

    /// `Domain` or `address-literal`.
    mutating func domain() -> MailDomain? {
        if peek == "[" {
            advance()
            var literal = String.UnicodeScalarView()
            while let c = peek, c != "]" {
                guard c != "[", c != "\\", c.value > 32 else { return nil }
                literal.append(c)
                advance()
            }
            guard peek == "]", !literal.isEmpty else { return nil }
            advance()
            return .literal(String(literal))
        }
        var name = String.UnicodeScalarView()
        while let c = peek, Self.isLetterOrDigit(c) || c == "-" || c == "." {
            name.append(c)
            advance()
        }
        // Every label non-empty, and none starting or ending with a hyphen: checked on the scalars as read.
        var previous: Unicode.Scalar = "."
        for c in name {
            if c == ".", previous == "." || previous == "-" { return nil }
            if c == "-", previous == "." { return nil }
            previous = c
        }
        guard !name.isEmpty, previous != ".", previous != "-" else { return nil }
        return .name(String(name))
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
