import Testing

@testable import SMTPWire

@Suite("Printable ASCII scan")
struct PrintableASCIITests {
    /// The definition the word scan must agree with.
    private func firstOtherByteOneByOne(_ bytes: [UInt8]) -> Int? {
        bytes.firstIndex { !((0x20...0x7E).contains($0) || $0 == 0x09) }
    }

    private func scan(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { PrintableASCII.firstOtherByte(in: $0) }
    }

    /// Every byte value at every position of a printable line of three words and a tail: where the scan finds it
    /// depends on the byte alone, not on its place in a word or in the tail.
    @Test func everyByteValueAtEveryPosition() {
        let line = Array("250-mx.example.org Hello ok".utf8)  // 27 bytes: three words of eight, three after them
        for position in 0..<line.count {
            for value in 0...255 {
                var bytes = line
                bytes[position] = UInt8(value)
                let expected = firstOtherByteOneByOne(bytes)
                #expect(scan(bytes) == expected, "byte \(value) at \(position)")
            }
        }
        #expect(scan(line) == nil)
        #expect(scan([]) == nil)
    }

    /// Random lines of every length up to 40, mostly printable with tabs, control bytes, DEL and high bytes mixed
    /// in (a fixed seed, so a failure repeats), against the byte-by-byte definition.
    @Test func randomLinesAgreeWithTheDefinition() {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let rare: [UInt8] = [0x00, 0x09, 0x0D, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xA0, 0xC3, 0xFF]
        for _ in 0..<20_000 {
            let length = Int(next() % 41)
            let bytes = (0..<length).map { _ -> UInt8 in
                let roll = next()
                return roll % 16 == 0 ? rare[Int(roll / 16 % UInt64(rare.count))] : UInt8(0x20 + roll / 16 % 95)
            }
            #expect(scan(bytes) == firstOtherByteOneByOne(bytes), "\(bytes)")
        }
    }
}
