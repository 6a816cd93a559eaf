/// XML 1.0 escaping done by hand: Foundation's `XMLDocument` writes control characters raw, which CI systems
/// reject. Characters XML 1.0 does not allow are written visibly as `\xNN` instead.
enum XMLEscaping {
    /// Escapes text content.
    static func text(_ string: String) -> String { textEscaping.escape(string) }

    /// Appends `string` escaped as text content to the UTF-8 bytes `out`.
    static func appendText(_ string: String, to out: inout [UInt8]) { textEscaping.append(string, to: &out) }

    /// Escapes an attribute value (quotes, and line breaks as character references so they survive).
    static func attribute(_ string: String) -> String { attributeEscaping.escape(string) }

    private static let textEscaping = escaping(attribute: false)
    private static let attributeEscaping = escaping(attribute: true)

    /// Marks `& < >`, CR, the control characters XML 1.0 does not allow, and U+FFFE/U+FFFF (lead byte 0xEF); an
    /// attribute also marks the quote, LF and tab.
    private static func escaping(attribute: Bool) -> TextEscaping {
        let kept: [UInt8] = attribute ? [] : [0x09, 0x0A]
        let controls = (0x00..<0x20).map(UInt8.init).filter { !kept.contains($0) }
        let marked = controls + Array("&<>".utf8) + (attribute ? Array("\"".utf8) : [])
        return TextEscaping(marking: marked, leadBytes: [0xEF]) { scalar in
            switch scalar {
            case "&": return "&amp;"
            case "<": return "&lt;"
            case ">": return "&gt;"
            case "\"": return "&quot;"
            case "\n": return "&#10;"
            case "\r": return attribute ? "&#13;" : "\n"
            case "\t": return "&#9;"
            default: return isAllowed(scalar) ? nil : visible(scalar)
            }
        }
    }

    /// XML 1.0 `Char`: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    private static func visible(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        if scalar.value <= 0xFF { return "\\x" + (hex.count == 1 ? "0" : "") + hex }
        return "\\u{\(hex)}"
    }
}
