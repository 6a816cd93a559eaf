extension String {
    /// Whether any byte of the UTF-8 form satisfies `predicate`, scanned over the contiguous bytes: the generic walk
    /// of `utf8` costs tens of instructions a byte, and the compiler and runner scan every line a scenario sends.
    @inlinable
    public func containsUTF8Byte(where predicate: (UInt8) -> Bool) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.contains(where: predicate) } ?? utf8.contains(where: predicate)
    }
}
