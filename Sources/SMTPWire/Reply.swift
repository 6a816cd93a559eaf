import NIOCore

/// One SMTP reply as received: a three-digit code and one or more lines of text (RFC 5321 section 4.2).
///
/// Replies are kept as bytes: a server may send invalid UTF-8 or control bytes, which never fail a step by
/// themselves; ``text`` decodes leniently and ``displayLines`` escapes what is not printable.
public struct Reply: Sendable, Hashable {
    /// The reply code, 200...599.
    public let code: Int
    /// Each line exactly as received, without its line terminator (`250-PIPELINING`).
    public let rawLines: [[UInt8]]

    /// Creates a reply from its raw lines; every line must start with `code`.
    public init(code: Int, rawLines: [[UInt8]]) {
        self.code = code
        self.rawLines = rawLines
    }

    /// The text after `NNN-`/`NNN ` of every line, joined with `\n` (enhanced status code included).
    public var text: String {
        rawLines.map { String(decoding: $0.dropFirst(4), as: UTF8.self) }.joined(separator: "\n")
    }

    /// Text lines after the code and separator, decoded leniently.
    public var textLines: [String] {
        rawLines.map { String(decoding: $0.dropFirst(4), as: UTF8.self) }
    }

    /// The RFC 3463 enhanced status code at the start of the first line's text, when present.
    public var enhancedCode: EnhancedStatusCode? {
        // The first line only: an EHLO reply has a dozen, and each decoded would be thrown away.
        rawLines.first.flatMap { EnhancedStatusCode(prefixOf: $0.dropFirst(4)) }
    }

    /// The queue ID a server names when it accepts a message (`250 2.0.0 Ok: queued as 4F1X2Y`, as Postfix and the
    /// mock say it): the ASCII letters and digits after the first `queued as `; nil when there are none.
    ///
    /// Read from the raw bytes: decoding and searching the text cost a runner about 17,000 instructions a message.
    public var queueID: String? {
        let phrase: StaticString = "queued as "
        let needle = UnsafeBufferPointer(start: phrase.utf8Start, count: phrase.utf8CodeUnitCount)
        for line in rawLines where line.count > 4 + needle.count {
            var start = 4
            while start + needle.count <= line.count {
                guard line[start] == needle[0], line[start..<start + needle.count].elementsEqual(needle) else {
                    start += 1
                    continue
                }
                let id = line[(start + needle.count)...].prefix { byte in
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                        || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                }
                return id.isEmpty ? nil : String(decoding: id, as: UTF8.self)
            }
        }
        return nil
    }

    /// The lines for people to read: control bytes and invalid UTF-8 shown as `\xNN`.
    public var displayLines: [String] { rawLines.map(ByteEscaping.escaped) }

    /// The whole reply on one line for messages: `550 5.1.1 <x>: Recipient address rejected`.
    ///
    /// Continuation lines are appended after ` | ` so nothing the server said is hidden.
    public var summary: String {
        let texts = rawLines.map { ByteEscaping.escaped(Array($0.dropFirst(4))) }
        return "\(code) " + texts.joined(separator: " | ")
    }
}

/// Escapes bytes for display: printable UTF-8 passes through, everything else becomes `\xNN`.
public enum ByteEscaping {
    /// Escapes control bytes (except tab), DEL and invalid UTF-8 as `\xNN`; everything else passes through.
    public static func escaped<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        escaped(ArraySlice(bytes))
    }

    /// The same for a whole line as the reply parser keeps it, without a generic call per byte.
    public static func escaped(_ bytes: [UInt8]) -> String { escaped(bytes[...]) }

    /// The same for part of a line (its text after the code), without a copy.
    public static func escaped(_ bytes: ArraySlice<UInt8>) -> String {
        // Nearly every line a server sends is printable ASCII: one check and one copy, not a string per byte.
        if bytes.withUnsafeBytes({ PrintableASCII.firstOtherByte(in: $0) }) == nil {
            return String(decoding: bytes, as: UTF8.self)
        }
        let array = Array(bytes)
        var out = ""
        var index = 0
        while index < array.count {
            let byte = array[index]
            if byte < 0x80 {
                out += escapedASCII(byte)
                index += 1
                continue
            }
            let length = utf8SequenceLength(byte)
            if length > 1, index + length <= array.count,
                let scalar = decodeScalar(array[index..<index + length]), !isControlScalar(scalar)
            {
                out.unicodeScalars.append(scalar)
                index += length
                continue
            }
            out += hex(byte)
            index += 1
        }
        return out
    }

    private static func decodeScalar(_ bytes: ArraySlice<UInt8>) -> Unicode.Scalar? {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return nil
    }

    private static func escapedASCII(_ byte: UInt8) -> String {
        switch byte {
        case 0x09: return "\t"
        case 0x00..<0x20, 0x7F: return hex(byte)
        default: return String(UnicodeScalar(byte))
        }
    }

    private static func isControlScalar(_ scalar: Unicode.Scalar) -> Bool {
        (0x80...0x9F).contains(scalar.value)
    }

    private static func utf8SequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 0
        }
    }

    private static let digits = Array("0123456789abcdef")

    private static func hex(_ byte: UInt8) -> String {
        "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}
