/// The walk shared by the XML and JSON escapers: the text's UTF-8 bytes are read in place, runs that need no change
/// are copied whole, and only the scalars a format must rewrite are handed to it.
///
/// Appending a string scalar by scalar cost about 400 instructions a byte, more than running the session it reports.
struct TextEscaping: Sendable {
    /// The ASCII bytes (bit N of the pair for byte N) whose scalar may need rewriting.
    let asciiMarks: (low: UInt64, high: UInt64)
    /// The lead bytes of multi-byte scalars that may need rewriting (`0xE2` for U+2028, `0xEF` for U+FFFE).
    let leadBytes: [UInt8]
    /// The text for a marked scalar, or nil to keep it as it is.
    let replacement: @Sendable (Unicode.Scalar) -> String?

    /// A walk that marks the given ASCII scalars and the multi-byte scalars starting with one of `leadBytes`.
    init(marking ascii: [UInt8], leadBytes: [UInt8], replacement: @escaping @Sendable (Unicode.Scalar) -> String?) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for byte in ascii {
            precondition(byte < 0x80, "only ASCII bytes are marked one by one")
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        asciiMarks = (low, high)
        self.leadBytes = leadBytes
        self.replacement = replacement
    }

    /// `text` with every marked scalar replaced; the same string when nothing was.
    func escape(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            guard let first = firstMarked(in: bytes, from: 0) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + bytes.count / 8 + 16)
            write(bytes, from: first, into: &out)
            return String(decoding: out, as: UTF8.self)
        } ?? text
    }

    /// Appends `text` with every marked scalar replaced to `out`.
    func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            if let first = firstMarked(in: bytes, from: 0) {
                write(bytes, from: first, into: &out)
            } else {
                out.append(contentsOf: bytes)
            }
        }
    }

    /// Appends `bytes` to `out`, replacing marked scalars; `first` is the first marked one.
    private func write(_ bytes: UnsafeBufferPointer<UInt8>, from first: Int, into out: inout [UInt8]) {
        var copied = 0
        var index = first
        while true {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<index]))
            let (scalar, length) = Self.scalar(in: bytes, at: index)
            if let replaced = replacement(scalar) {
                out.append(contentsOf: replaced.utf8)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<index + length]))
            }
            copied = index + length
            guard let next = firstMarked(in: bytes, from: copied) else { break }
            index = next
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied...]))
    }

    /// The index of the first byte at or after `start` that begins a marked scalar.
    private func firstMarked(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 64 {
                if asciiMarks.low & (1 << UInt64(byte)) != 0 { return index }
            } else if byte < 0x80 {
                if asciiMarks.high & (1 << UInt64(byte - 64)) != 0 { return index }
            } else if leadBytes.contains(byte) {
                return index
            }
            index += 1
        }
        return nil
    }

    /// The scalar that starts at `index` of valid UTF-8, and its length in bytes.
    private static func scalar(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (Unicode.Scalar, Int) {
        var iterator = bytes[index...].makeIterator()
        var decoder = UTF8()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else {
            preconditionFailure("a Swift string holds valid UTF-8")
        }
        return (scalar, UTF8.width(scalar))
    }
}
