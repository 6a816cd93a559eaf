import Foundation

extension String {
    /// Whether the two are equal ignoring case, exactly as Foundation's `caseInsensitiveCompare` says, but byte by
    /// byte when both are ASCII (mailbox names, extension keywords): the mock compares one per recipient and per
    /// advertised keyword, and Foundation's comparison costs about 4,000 instructions each.
    public func equalsIgnoringCase(_ other: String) -> Bool {
        let lhs = utf8
        let rhs = other.utf8
        guard lhs.allSatisfy({ $0 < 0x80 }), rhs.allSatisfy({ $0 < 0x80 }) else {
            return caseInsensitiveCompare(other) == .orderedSame
        }
        guard lhs.count == rhs.count else { return false }
        func lower(_ byte: UInt8) -> UInt8 {
            byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
        }
        return zip(lhs, rhs).allSatisfy { lower($0) == lower($1) }
    }
}
