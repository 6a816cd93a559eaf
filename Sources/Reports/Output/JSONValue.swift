import Foundation

/// A JSON value with its object keys in a fixed order, so reports are deterministic and diff well.
enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    /// Seconds written with three decimals from a count of milliseconds.
    case seconds(milliseconds: Int64)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])
    /// JSON text already written by `JSONText`, for the many uniform parts of a record (steps, replies, transcript
    /// entries), where a node per field cost more to build, write and free than the text itself.
    case written([UInt8])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.text == rhs.text }
    func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// An optional string, or null.
    static func string(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    /// Seconds as a number with millisecond precision.
    static func seconds(_ duration: Duration) -> JSONValue {
        .seconds(milliseconds: DurationText.milliseconds(duration))
    }

    /// ISO 8601 UTC with a `Z`.
    static func timestamp(_ date: Date) -> JSONValue {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return .string(String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Compact JSON text.
    var text: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON text's UTF-8 to `out`. Bytes, not a `String`: each small append to a string cost about 150
    /// instructions, several times a byte array's.
    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case .seconds(let milliseconds): out.append(contentsOf: DurationText.seconds(milliseconds: milliseconds).utf8)
        case .string(let value): Self.writeString(value, into: &out)
        case .written(let text): out.append(contentsOf: text)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 8259 string escaping: quotes, backslash and every control character, and U+2028/U+2029 (lead byte 0xE2)
    /// for JavaScript readers.
    static func writeString(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        stringEscaping.append(value, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    private static let stringEscaping = TextEscaping(
        marking: (0x00..<0x20).map(UInt8.init) + [0x22, 0x5C, 0x7F],
        leadBytes: [0xE2]
    ) { scalar in
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{7F}", "\u{2028}", "\u{2029}", "\u{0}"..."\u{1F}": return unicodeEscape(scalar)
        default: return nil
        }
    }

    /// `\u` and four lowercase hex digits.
    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
