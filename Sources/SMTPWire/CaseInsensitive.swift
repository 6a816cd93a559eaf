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

extension StringProtocol {
    /// The text without leading and trailing whitespace as Foundation's `CharacterSet.whitespaces` defines it
    /// (Unicode's space separators and the tab), without Foundation's bridging: the mock trims every EHLO
    /// argument, where `trimmingCharacters(in: .whitespaces)` cost about 14,000 instructions.
    public func trimmingWhitespace() -> Substring {
        func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == " " || scalar == "\t"
                || (scalar.value >= 0x80 && scalar.properties.generalCategory == .spaceSeparator)
        }
        let scalars = Substring(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhitespace($0) }),
            let last = scalars.lastIndex(where: { !isWhitespace($0) })
        else { return Substring(self)[endIndex...] }
        return Substring(scalars[first...last])
    }
}
