/// JSON text written member by member, for the parts of a record that are many and uniform (steps, replies, transcript
/// entries): built as `JSONValue` nodes, they cost more to allocate, write and free than the text itself.
struct JSONText {
    private(set) var bytes: [UInt8] = []
    /// Whether the next value or key follows another in the same container.
    private var needsComma = false

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// The text, to place in a `JSONValue` record.
    var written: JSONValue { .written(bytes) }

    mutating func beginObject() { open(UInt8(ascii: "{")) }
    mutating func endObject() { close(UInt8(ascii: "}")) }
    mutating func beginArray() { open(UInt8(ascii: "[")) }
    mutating func endArray() { close(UInt8(ascii: "]")) }

    /// A member's key: a literal of plain ASCII, written as it is. Byte by byte: appending it as a buffer cost
    /// about 170 instructions a call, more than the bytes of a short key one at a time.
    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { for byte in $0 { bytes.append(byte) } }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A string, escaped, or null.
    mutating func string(_ value: String?) {
        separate()
        if let value { JSONValue.writeString(value, into: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
        needsComma = true
    }

    /// An integer, or null.
    mutating func int(_ value: Int?) {
        separate()
        // A short number's digits one at a time, as for a key.
        for byte in (value.map { String($0) } ?? "null").utf8 { bytes.append(byte) }
        needsComma = true
    }

    /// Any other value.
    mutating func value(_ value: JSONValue) {
        separate()
        value.write(into: &bytes)
        needsComma = true
    }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        needsComma = false
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}
