/// An RFC 3463 enhanced status code, `class.subject.detail` (for example `5.7.1`).
public struct EnhancedStatusCode: Sendable, Hashable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public let statusClass: Int
    /// 0...999.
    public let subject: Int
    /// 0...999.
    public let detail: Int

    /// Creates a code; returns nil when a part is out of RFC 3463's ranges.
    public init?(statusClass: Int, subject: Int, detail: Int) {
        guard statusClass == 2 || statusClass == 4 || statusClass == 5, (0...999).contains(subject),
            (0...999).contains(detail)
        else {
            return nil
        }
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses exactly `c.s.d`, for example from a scenario's `enhanced: 5.7.1`.
    public init?(_ string: String) {
        // Over the contiguous bytes (a literal's, or a native string's): the generic walk of `utf8` cost about 300
        // instructions for five bytes, and the mock parses the code of every reply it sends.
        let parsed = string.utf8.withContiguousStorageIfAvailable { Self(bytes: $0) } ?? Self(bytes: string.utf8)
        guard let parsed else { return nil }
        self = parsed
    }

    /// Parses the code at the start of reply text (`5.1.1 <x>: Recipient address rejected`), if any.
    public init?(prefixOf text: String) {
        self.init(prefixOf: text.utf8)
    }

    /// The same on a reply line's bytes after `NNN-`, without decoding them: every reply's record asks.
    public init?<Bytes: Collection<UInt8>>(prefixOf text: Bytes) {
        self.init(bytes: text.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") })
    }

    /// Three dot-separated runs of one to three ASCII digits, byte by byte.
    private init?<Bytes: Collection<UInt8>>(bytes: Bytes) {
        var parts = (0, 0, 0)
        var part = 0
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, part < 2 else { return nil }
                part += 1
                digits = 0
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 3 else { return nil }
            digits += 1
            let digit = Int(byte &- UInt8(ascii: "0"))
            switch part {
            case 0: parts.0 = parts.0 * 10 + digit
            case 1: parts.1 = parts.1 * 10 + digit
            default: parts.2 = parts.2 * 10 + digit
            }
        }
        guard part == 2, digits > 0 else { return nil }
        self.init(statusClass: parts.0, subject: parts.1, detail: parts.2)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
