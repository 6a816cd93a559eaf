/// XML 1.0 escaping done by hand: Foundation's `XMLDocument` writes control characters raw, which CI systems
/// reject. Characters XML 1.0 does not allow are written visibly as `\xNN` instead.
enum XMLEscaping {
    /// Escapes text content.
    static func text(_ string: String) -> String { escape(string, attribute: false) }

    /// Escapes an attribute value (quotes, and line breaks as character references so they survive).
    static func attribute(_ string: String) -> String { escape(string, attribute: true) }

    private static func escape(_ string: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "\n" where attribute: out += "&#10;"
            case "\r": out += attribute ? "&#13;" : "\n"
            case "\t": out += attribute ? "&#9;" : "\t"
            case "\n": out += "\n"
            default:
                if isAllowed(scalar) {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += visible(scalar)
                }
            }
        }
        return out
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
