import Foundation

extension String {
    /// Whether the two are equal ignoring case, exactly as Foundation's `caseInsensitiveCompare` says, but byte by
    /// byte when both are ASCII (mailbox names, extension keywords): the mock compares one per recipient and per
    /// advertised keyword, and Foundation's comparison costs about 4,000 instructions each.
    public func equalsIgnoringCase(_ other: String) -> Bool {
        // Over the contiguous bytes when both are native strings (the mock compares every recipient with its
        // mailbox list); the generic walk of the UTF-8 views otherwise.
        let ascii =
            utf8.withContiguousStorageIfAvailable { lhs in
                other.utf8.withContiguousStorageIfAvailable { rhs in Self.asciiEqualsIgnoringCase(lhs, rhs) }
                    ?? Self.asciiEqualsIgnoringCase(lhs, other.utf8)
            } ?? Self.asciiEqualsIgnoringCase(utf8, other.utf8)
        return ascii ?? (caseInsensitiveCompare(other) == .orderedSame)
    }

    /// What follows `prefix` when the text starts with it ignoring ASCII case (``hasPrefixIgnoringCase(_:)``), nil
    /// otherwise. The prefix is removed as bytes, not as characters: a combining mark after it stays with the rest
    /// (`FROM:\u{301}<a@b>` leaves `\u{301}<a@b>`), where `dropFirst(5)` would take the mark with the colon.
    @inlinable
    public func afterPrefixIgnoringCase(_ prefix: String) -> Substring? {
        guard hasPrefixIgnoringCase(prefix) else { return nil }
        return Substring(utf8.dropFirst(prefix.utf8.count))
    }

    /// The answer when both are ASCII; nil otherwise (Unicode case folding is Foundation's to decide).
    private static func asciiEqualsIgnoringCase(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool? {
        guard !lhs.contains(where: { $0 >= 0x80 }), !rhs.contains(where: { $0 >= 0x80 }) else { return nil }
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { asciiLowercase($0) == asciiLowercase($1) }
    }
}

extension StringProtocol {
    /// Whether the text starts with `prefix` ignoring ASCII case, as SMTP keywords are compared: for `FROM:`,
    /// `TO:` or `smtp://` the answer `uppercased().hasPrefix` or `lowercased().hasPrefix` gives (Unicode maps only
    /// a few letters, such as the long s to S, onto ASCII ones), without building the case-mapped copy of a whole
    /// `MAIL` or `RCPT` argument (about 1,000 instructions each). To take what follows the prefix, use
    /// ``Swift/String/afterPrefixIgnoringCase(_:)``.
    @inlinable
    public func hasPrefixIgnoringCase(_ prefix: String) -> Bool {
        var text = utf8.makeIterator()
        for expected in prefix.utf8 {
            guard let byte = text.next(), asciiLowercase(byte) == asciiLowercase(expected) else { return false }
        }
        return true
    }

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

/// `byte` with A-Z mapped to a-z; every other byte as it is.
@inlinable @inline(__always)
func asciiLowercase(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
}
