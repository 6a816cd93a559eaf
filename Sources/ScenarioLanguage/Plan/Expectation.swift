import LocatedYAML
import SMTPWire
import ScenarioResults

/// What a step expects to happen after it acted.
public enum Expectation: Sendable, Hashable {
    /// Read no reply (a `raw` step without `expect`, a `wait`).
    case noReply
    /// Read one reply and check it.
    case reply(ReplyExpectation)
    /// The server closes the connection (orderly close or reset) instead of replying.
    case closed
    /// No reply arrives within the step's timeout.
    case nothing
}

/// One accepted reply code form: `250` or a class such as `5xx`.
public enum CodePattern: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this code.
    case exact(Int)
    /// Any code whose first digit is this (2, 3, 4 or 5).
    case anyOfClass(Int)
    /// Any reply at all (`expect: any`).
    case any

    /// Whether `code` matches.
    public func matches(_ code: Int) -> Bool {
        switch self {
        case .exact(let expected): return code == expected
        case .anyOfClass(let digit): return code / 100 == digit
        case .any: return true
        }
    }

    /// `250` or `5xx`.
    public var description: String {
        switch self {
        case .exact(let code): return String(code)
        case .anyOfClass(let digit): return "\(digit)xx"
        case .any: return "any reply"
        }
    }

    /// Parses `250`, `"5xx"` (also `5XX`); nil otherwise.
    public init?(_ text: String) {
        // Byte-wise: every accepted form is three ASCII bytes, and a suite parses thousands of these.
        var bytes = text.utf8.makeIterator()
        guard let first = bytes.next(), let second = bytes.next(), let third = bytes.next(), bytes.next() == nil,
            (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(first)
        else { return nil }
        let digit = Int(first &- UInt8(ascii: "0"))
        func isX(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "x") || byte == UInt8(ascii: "X") }
        func decimal(_ byte: UInt8) -> Int? {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte &- UInt8(ascii: "0")) : nil
        }
        if isX(second), isX(third) {
            self = .anyOfClass(digit)
        } else if let tens = decimal(second), let units = decimal(third) {
            self = .exact(digit * 100 + tens * 10 + units)
        } else {
            return nil
        }
    }
}

extension CodePattern {
    /// `[pattern]`, one shared list per code: a suite repeats `expect: 250` in thousands of steps, and each list of
    /// its own would be one more allocation of the compiled plan.
    public static func list(_ pattern: CodePattern) -> [CodePattern] {
        switch pattern {
        case .exact(let code) where (200...599).contains(code): return sharedExact[code - 200]
        case .anyOfClass(let digit) where (2...5).contains(digit): return sharedClasses[digit - 2]
        default: return [pattern]
        }
    }

    private static let sharedExact: [[CodePattern]] = (200...599).map { [.exact($0)] }
    private static let sharedClasses: [[CodePattern]] = (2...5).map { [.anyOfClass($0)] }
}

/// How reply text is matched: a case-insensitive substring, or a regular expression.
public enum TextMatch: Sendable, Hashable, CustomStringConvertible {
    /// Case-insensitive substring; may contain run-time variables.
    case substring(Template)
    /// A regular expression compiled at compile time.
    case regex(PatternRegex)
    /// A regular expression containing run-time variables; their values are escaped and it is compiled when run.
    case dynamicRegex(pattern: Template, caseInsensitive: Bool)

    public var description: String {
        switch self {
        case .substring(let template): return "text containing \"\(template)\""
        case .regex(let regex): return "text matching \(regex)"
        case .dynamicRegex(let pattern, let insensitive): return "text matching /\(pattern)/" + (insensitive ? "i" : "")
        }
    }
}

/// TLS facts a `starttls` step (or an implicit-TLS greeting) expects.
public struct TLSExpectation: Sendable, Hashable {
    /// How a TLS version requirement compares.
    public enum VersionRequirement: Sendable, Hashable, CustomStringConvertible {
        case exactly(TLSVersion)
        case atLeast(TLSVersion)

        public var description: String {
            switch self {
            case .exactly(let version): return version.rawValue
            case .atLeast(let version): return ">=\(version.rawValue)"
            }
        }
    }

    /// Whether the handshake must succeed (the default) or must be refused by the server.
    public var handshakeMustFail: Bool = false
    /// Required negotiated version.
    public var version: VersionRequirement?
    /// Names every one of which the certificate's subjectAltNames must cover (RFC 6125 wildcards).
    public var certificateNames: [Template] = []
    /// Minimum remaining validity of the certificate.
    public var validForAtLeast: Duration?
    /// Pattern the issuer DN (RFC 4514 form) must match.
    public var issuer: TextMatch?

    /// Creates an empty expectation (handshake succeeds, nothing else checked).
    public init() {}
}

/// A TLS protocol version.
public enum TLSVersion: String, Sendable, Hashable, CaseIterable, Comparable {
    case v1_0 = "1.0"
    case v1_1 = "1.1"
    case v1_2 = "1.2"
    case v1_3 = "1.3"

    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The checks applied to one reply.
public struct ReplyExpectation: Sendable, Hashable, CustomStringConvertible {
    /// Any of these codes passes.
    public var codes: [CodePattern]
    /// The enhanced status code that must start the reply text.
    public var enhanced: EnhancedStatusCode?
    /// The reply text must match this.
    public var text: TextMatch?
    /// The reply text must not match this (`not-text`), e.g. a software version in a banner.
    public var notText: TextMatch?
    /// EHLO keywords that must be advertised (`PIPELINING`, `AUTH PLAIN`).
    public var advertises: [Template] = []
    /// EHLO keywords that must not be advertised.
    public var lacks: [Template] = []
    /// TLS facts, for `starttls` steps.
    public var tls: TLSExpectation?
    /// The reply must be a single line (`single-line: true`).
    public var singleLine = false

    /// Creates an expectation of the given codes.
    public init(codes: [CodePattern]) { self.codes = codes }

    /// 2xx or 3xx: the default of a `send` without `expect`.
    public static let positive = ReplyExpectation(codes: [.anyOfClass(2), .anyOfClass(3)])

    /// Any reply (`expect: any`).
    public static let anyReply = ReplyExpectation(codes: [.any])

    /// `250`, `250 or 251`, `4xx or 5xx`, then ` with enhanced 5.7.1`, ... as one readable phrase.
    public var description: String {
        var text = codes.map(\.description).joined(separator: " or ")
        if let enhanced { text += ", enhanced \(enhanced)" }
        if let match = self.text { text += ", \(match)" }
        if let match = notText { text += ", without \(match)" }
        if !advertises.isEmpty { text += ", advertising \(advertises.map(\.description).joined(separator: ", "))" }
        if !lacks.isEmpty { text += ", not advertising \(lacks.map(\.description).joined(separator: ", "))" }
        if singleLine { text += ", on a single line" }
        return text
    }
}

/// `capture: {NAME: '/regex/'}`: the first group of a match against the reply text becomes variable NAME.
public struct Capture: Sendable, Hashable {
    /// The variable as written.
    public let name: String
    /// Where the runner stores it: the name, or inside a group call a private key (`call3/name`), so a group's
    /// captures never overwrite its caller's variables.
    public let key: String
    /// The pattern.
    public let regex: PatternRegex
    /// Where the capture is written.
    public let location: SourceLocation

    /// Creates a capture stored under `key` (default: the name).
    public init(name: String, key: String? = nil, regex: PatternRegex, location: SourceLocation) {
        self.name = name
        self.key = key ?? name
        self.regex = regex
        self.location = location
    }
}
