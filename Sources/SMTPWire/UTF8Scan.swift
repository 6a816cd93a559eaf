extension String {
    /// Whether any byte of the UTF-8 form satisfies `predicate`, scanned over the contiguous bytes: the generic walk
    /// of `utf8` costs tens of instructions a byte, and the compiler and runner scan every line a scenario sends.
    @inlinable
    public func containsUTF8Byte(where predicate: (UInt8) -> Bool) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.contains(where: predicate) } ?? utf8.contains(where: predicate)
    }
}

/// Whether bytes are printable ASCII (0x20...0x7E) or tab: the test every reply line (for the transcript) and every
/// command line the mock receives passes, eight bytes at a time.
public enum PrintableASCII {
    /// The offset of the first byte that is neither printable ASCII nor a tab; nil when every byte is one.
    ///
    /// A word of eight bytes is checked by arithmetic: one that may hold another byte (a tab, a control byte, DEL or
    /// a byte above 0x7F) is then checked byte by byte. A 40-byte line takes five word tests instead of 40 byte tests.
    public static func firstOtherByte(in bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        while index + 8 <= bytes.count {
            if mayHoldOtherByte(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                for offset in index..<index + 8 where !isPrintable(bytes[offset]) { return offset }
            }
            index += 8
        }
        while index < bytes.count {
            if !isPrintable(bytes[index]) { return index }
            index += 1
        }
        return nil
    }

    /// Printable ASCII or tab.
    @inline(__always)
    public static func isPrintable(_ byte: UInt8) -> Bool { (0x20...0x7E).contains(byte) || byte == 0x09 }

    /// False only when all eight bytes are 0x20...0x7E; true when any byte is below 0x20 (tab included), 0x7F or above
    /// it. (The standard word tests: `(w - 0x20..) & ~w & 0x80..` is nonzero exactly when some byte is below 0x20,
    /// the same with `w ^ 0x7F..` and 0x01.. when some byte is 0x7F, `w & 0x80..` when some byte has its top bit.)
    @inline(__always)
    static func mayHoldOtherByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let tops: UInt64 = 0x8080_8080_8080_8080
        let belowSpace = (word &- ones &* 0x20) & ~word & tops
        let delete = word ^ (ones &* 0x7F)
        let isDelete = (delete &- ones) & ~delete & tops
        return (word & tops) | belowSpace | isDelete != 0
    }
}
