import Foundation

/// A regular expression from a scenario (`/pattern/` or `/pattern/i`), compiled once.
///
/// The dialect is ICU's, as used by `NSRegularExpression`; documented in the README.
public final class PatternRegex: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written between the slashes.
    public let pattern: String
    /// Whether `i` was given.
    public let caseInsensitive: Bool
    private let regex: NSRegularExpression

    /// Compiles `pattern`; throws the ICU error message when it is not a valid pattern.
    public init(pattern: String, caseInsensitive: Bool) throws {
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
        self.regex = try NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
    }

    /// The compiled regex for `pattern`, shared: a suite repeats the same few patterns in thousands of steps, and
    /// compiling one costs more than the rest of its step. At most 4,096 patterns are kept.
    public static func shared(pattern: String, caseInsensitive: Bool) throws -> PatternRegex {
        let key = Key(pattern: pattern, caseInsensitive: caseInsensitive)
        if let cached = cacheLock.withLock({ cache[key] }) { return cached }
        let compiled = try PatternRegex(pattern: pattern, caseInsensitive: caseInsensitive)
        cacheLock.withLock {
            if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
            cache[key] = compiled
        }
        return compiled
    }

    private struct Key: Hashable {
        let pattern: String
        let caseInsensitive: Bool
    }

    // An NSLock (a pthread mutex), not Synchronization.Mutex: ThreadSanitizer sees a pthread mutex's ordering, but
    // not that of the standard library's futex-based Mutex, and reported every concurrent compile as a race.
    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [Key: PatternRegex] = [:]

    /// Number of capture groups in the pattern.
    public var groupCount: Int { regex.numberOfCaptureGroups }

    /// Whether the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// The first group of the first match (or the whole match when the pattern has no group), or nil.
    public func firstGroup(in text: String) -> String? {
        guard let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        let group = match.numberOfRanges > 1 ? 1 : 0
        guard let range = Range(match.range(at: group), in: text) else { return "" }
        return String(text[range])
    }

    /// `/pattern/` or `/pattern/i`.
    public var description: String { "/\(pattern)/" + (caseInsensitive ? "i" : "") }

    public static func == (lhs: PatternRegex, rhs: PatternRegex) -> Bool {
        lhs.pattern == rhs.pattern && lhs.caseInsensitive == rhs.caseInsensitive
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(pattern)
        hasher.combine(caseInsensitive)
    }

    /// Splits `/pattern/flags` into pattern and flags; nil when `text` is not written between slashes. The flags are
    /// only ever `i`, so non-empty flags mean case-insensitive.
    public static func split(_ text: String) -> (pattern: String, flags: String)? {
        // Byte-wise: the slashes and flags are ASCII, so their UTF-8 indices are valid indices of the string too.
        let utf8 = text.utf8
        let slash = UInt8(ascii: "/")
        guard utf8.first == slash, let close = utf8.lastIndex(of: slash), close != utf8.startIndex else { return nil }
        let flags = text[utf8.index(after: close)...]
        guard flags.utf8.allSatisfy({ $0 == UInt8(ascii: "i") }) else { return nil }
        return (String(text[utf8.index(after: utf8.startIndex)..<close]), String(flags))
    }
}
