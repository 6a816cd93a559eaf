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
        guard [2, 4, 5].contains(statusClass), (0...999).contains(subject), (0...999).contains(detail) else {
            return nil
        }
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses exactly `c.s.d`, for example from a scenario's `enhanced: 5.7.1`.
    public init?(_ string: String) {
        let parts = string.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(statusClass: c, subject: s, detail: d)
    }

    /// Parses the code at the start of reply text (`5.1.1 <x>: Recipient address rejected`), if any.
    public init?(prefixOf text: String) {
        let token = text.prefix { $0 != " " && $0 != "\t" }
        self.init(String(token))
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
