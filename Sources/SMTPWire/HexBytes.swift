/// Hexadecimal text <-> bytes, ASCII digits only (`Character.isHexDigit` also accepts fullwidth digits, which no
/// byte parser understands).
public enum HexBytes {
    /// The bytes of `text` (hex digit pairs; whitespace between them ignored), or nil when it is empty, has an odd
    /// number of digits, or holds anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for unit in text.utf8 {
            if unit == 0x20 || unit == 0x09 || unit == 0x0A || unit == 0x0D { continue }
            guard let nibble = value(of: unit) else { return nil }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        guard high == nil, !bytes.isEmpty else { return nil }
        return bytes
    }

    /// Lower-case hex of `bytes`, two digits per byte.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(of unit: UInt8) -> UInt8? {
        switch unit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return unit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return unit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return unit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
