/// The XML of JUnit reports, read for `merge`: elements with their attributes in document order, text with the
/// five predefined entities and character references decoded, CDATA sections, comments and processing
/// instructions skipped. UTF-8 only; a document type declaration is refused (no JUnit report has one, and refusing
/// it rules out entity expansion). Nesting is bounded by `maximumDepth`.
///
/// It replaces Foundation's `XMLParser`, whose libxml2 (with ICU, liblzma and zlib behind it) was loaded by every
/// start of the binary, 1.2 ms of each, for this one command, and made the binary refuse to start where libxml2
/// is missing.
struct XMLReader {
    /// Why a text is not a well-formed document, and the line where the reader stopped.
    struct Failure: Error, Equatable {
        let reason: String
        let line: Int
    }

    /// The deepest nesting accepted: a JUnit report has five levels; a hostile file cannot make the tree (or the
    /// recursive writer and deinitialisers that walk it) deep enough to exhaust the stack.
    static let maximumDepth = 256

    /// The root element of `bytes`.
    static func parse(_ bytes: [UInt8]) throws(Failure) -> ReportMerge.Element {
        var reader = XMLReader(bytes: bytes)
        return try reader.document()
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: - Document

    private mutating func document() throws(Failure) -> ReportMerge.Element {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw Failure(reason: "not UTF-8", line: 1)
        }
        if hasPrefix([0xEF, 0xBB, 0xBF]) { index += 3 }
        if hasPrefix("<?xml") { try declaration() }
        try skipMisc()
        if hasPrefix("<!DOCTYPE") { throw failure("a document type declaration is not supported") }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "<") else { throw failure("expected the root element") }
        let root = try elements()
        try skipMisc()
        guard index == bytes.count else { throw failure("content after the root element") }
        return root
    }

    /// `<?xml version="1.0" encoding="..."?>`: only a UTF-8 encoding (or none) is accepted.
    private mutating func declaration() throws(Failure) {
        let start = index
        try skip(past: "?>", what: "the XML declaration")
        let text = String(decoding: bytes[start..<index], as: UTF8.self).lowercased()
        if let range = text.range(of: "encoding") {
            let rest = text[range.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "'" }
            guard rest.hasPrefix("utf-8") || rest.hasPrefix("utf8") else {
                throw Failure(reason: "only UTF-8 is supported", line: 1)
            }
        }
    }

    /// Whitespace, comments and processing instructions, around the root element.
    private mutating func skipMisc() throws(Failure) {
        while true {
            skipWhitespace()
            if hasPrefix("<!--") {
                try skip(past: "-->", what: "a comment")
            } else if hasPrefix("<?") {
                try skip(past: "?>", what: "a processing instruction")
            } else {
                return
            }
        }
    }

    // MARK: - Elements

    /// The root element and everything in it, with an explicit stack instead of recursion.
    private mutating func elements() throws(Failure) -> ReportMerge.Element {
        var open: [ReportMerge.Element] = []
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<") else {
                let text = try characterData()
                open.last?.text += text
                continue
            }
            if hasPrefix("</") {
                index += 2
                let name = try self.name()
                skipWhitespace()
                try expect(">")
                guard let element = open.popLast(), element.name == name else {
                    throw failure("</\(name)> does not close the open element")
                }
                if open.isEmpty { return element }
            } else if hasPrefix("<!--") {
                try skip(past: "-->", what: "a comment")
            } else if hasPrefix("<![CDATA[") {
                index += 9
                let start = index
                try skip(past: "]]>", what: "a CDATA section")
                open.last?.text += String(decoding: normalizedLineEnds(bytes[start..<(index - 3)]), as: UTF8.self)
            } else if hasPrefix("<?") {
                try skip(past: "?>", what: "a processing instruction")
            } else if hasPrefix("<!") {
                throw failure("a markup declaration inside an element")
            } else {
                index += 1
                let element = ReportMerge.Element(name: try name(), attributes: try attributes())
                open.last?.children.append(element)
                if hasPrefix("/>") {
                    index += 2
                    if open.isEmpty { return element }
                } else {
                    try expect(">")
                    guard open.count < Self.maximumDepth else {
                        throw failure("elements nested deeper than \(Self.maximumDepth)")
                    }
                    open.append(element)
                }
            }
        }
        throw failure("the document ends inside <\(open.last?.name ?? "")>")
    }

    /// `name="value"` pairs up to `>` or `/>`, in document order; a repeated name is an error.
    private mutating func attributes() throws(Failure) -> [(String, String)] {
        var attributes: [(String, String)] = []
        while true {
            let before = index
            skipWhitespace()
            if hasPrefix(">") || hasPrefix("/>") { return attributes }
            guard index > before else { throw failure("expected whitespace, >, or /> after the element name") }
            let key = try name()
            skipWhitespace()
            try expect("=")
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                throw failure("expected a quoted value for \(key)")
            }
            let quote = bytes[index]
            index += 1
            var value: [UInt8] = []
            while true {
                guard index < bytes.count else { throw failure("the value of \(key) is not closed") }
                let byte = bytes[index]
                if byte == quote { break }
                switch byte {
                case UInt8(ascii: "<"):
                    throw failure("< in the value of \(key)")
                case UInt8(ascii: "&"):
                    try reference(into: &value)
                case UInt8(ascii: "\r"):
                    // A line end is one space, CR LF included (attribute-value normalisation).
                    value.append(UInt8(ascii: " "))
                    index += index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n") ? 2 : 1
                case UInt8(ascii: "\n"), UInt8(ascii: "\t"):
                    value.append(UInt8(ascii: " "))
                    index += 1
                default:
                    value.append(byte)
                    index += 1
                }
            }
            index += 1
            guard !attributes.contains(where: { $0.0 == key }) else { throw failure("\(key) is given twice") }
            attributes.append((key, String(decoding: value, as: UTF8.self)))
        }
    }

    /// Text up to the next `<`, references decoded and line ends normalised to LF.
    private mutating func characterData() throws(Failure) -> String {
        var text: [UInt8] = []
        while index < bytes.count, bytes[index] != UInt8(ascii: "<") {
            switch bytes[index] {
            case UInt8(ascii: "&"):
                try reference(into: &text)
            case UInt8(ascii: "\r"):
                text.append(UInt8(ascii: "\n"))
                index += index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n") ? 2 : 1
            default:
                text.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#N;` `&#xH;`, appended as UTF-8; any other entity is an error.
    private mutating func reference(into output: inout [UInt8]) throws(Failure) {
        let start = index + 1
        var end = start
        while end < bytes.count, end - start <= 10, bytes[end] != UInt8(ascii: ";") { end += 1 }
        guard end < bytes.count, bytes[end] == UInt8(ascii: ";"), end > start else {
            throw failure("& that starts no entity or character reference (write &amp;)")
        }
        let name = String(decoding: bytes[start..<end], as: UTF8.self)
        switch name {
        case "lt": output.append(UInt8(ascii: "<"))
        case "gt": output.append(UInt8(ascii: ">"))
        case "amp": output.append(UInt8(ascii: "&"))
        case "quot": output.append(UInt8(ascii: "\""))
        case "apos": output.append(UInt8(ascii: "'"))
        default:
            let value: UInt32?
            if name.hasPrefix("#x") {
                value = UInt32(name.dropFirst(2), radix: 16)
            } else if name.hasPrefix("#") {
                value = UInt32(name.dropFirst(), radix: 10)
            } else {
                throw failure("unknown entity &\(name);")
            }
            guard let value, let scalar = Unicode.Scalar(value), XMLEscaping.isAllowed(scalar) else {
                throw failure("&\(name); is not a character")
            }
            output.append(contentsOf: String(Character(scalar)).utf8)
        }
        index = end + 1
    }

    /// An element or attribute name: a letter, `_`, `:` or a non-ASCII byte, then those, digits, `-` and `.`.
    private mutating func name() throws(Failure) -> String {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            let letter =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: ":") || byte >= 0x80
            let inner =
                (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".")
            guard letter || (index > start && inner) else { break }
            index += 1
        }
        guard index > start else { throw failure("expected a name") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    // MARK: - Bytes

    private func hasPrefix(_ text: StaticString) -> Bool {
        hasPrefix(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private func hasPrefix(_ prefix: some Collection<UInt8>) -> Bool {
        guard bytes.count - index >= prefix.count else { return false }
        return zip(bytes[index...], prefix).allSatisfy { $0 == $1 }
    }

    private mutating func expect(_ text: StaticString) throws(Failure) {
        guard hasPrefix(text) else { throw failure("expected \(text)") }
        index += text.utf8CodeUnitCount
    }

    /// Moves past the next `terminator`; `what` names the construct for the error when there is none.
    private mutating func skip(past terminator: StaticString, what: String) throws(Failure) {
        while index < bytes.count {
            if hasPrefix(terminator) {
                index += terminator.utf8CodeUnitCount
                return
            }
            index += 1
        }
        throw failure("\(what) is not closed")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D
        {
            index += 1
        }
    }

    private func normalizedLineEnds(_ slice: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(slice.count)
        var previous: UInt8 = 0
        for byte in slice {
            if byte == UInt8(ascii: "\n"), previous == UInt8(ascii: "\r") {
                previous = byte
                continue
            }
            output.append(byte == UInt8(ascii: "\r") ? UInt8(ascii: "\n") : byte)
            previous = byte
        }
        return output
    }

    /// The error at the current position, with its line (counted only when there is an error).
    private func failure(_ reason: String) -> Failure {
        let end = min(index, bytes.count)
        return Failure(reason: reason, line: 1 + bytes[..<end].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) })
    }
}
