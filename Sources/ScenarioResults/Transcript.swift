import Foundation

/// The telnet-style record of one scenario: `C:` lines sent, `S:` lines received, `#` notes, each with the
/// milliseconds elapsed since the scenario started.
public struct Transcript: Sendable, Hashable {
    /// Who a line is from.
    public enum Direction: String, Sendable, Hashable {
        case client = "C"
        case server = "S"
        case note = "#"
    }

    /// One line.
    public struct Entry: Sendable, Hashable {
        /// Milliseconds since the scenario started.
        public let elapsedMilliseconds: Int
        /// Who said it.
        public let direction: Direction
        /// The text, already escaped and with secrets masked.
        public let text: String
    }

    /// The lines in order.
    public private(set) var entries: [Entry] = []
    /// Lines dropped because the transcript reached its cap.
    public private(set) var droppedLines = 0
    private var size = 0

    /// Keep at most this many bytes of text; later lines are counted, not kept.
    public static let maxBytes = 256 * 1024

    /// An empty transcript.
    public init() {}

    /// An empty transcript with room for `lines` entries before its storage grows (a scenario's session writes
    /// twenty-odd lines; grown from empty, the array was reallocated and moved six times).
    public init(reservingLines lines: Int) {
        entries.reserveCapacity(lines)
    }

    /// Appends a line unless the transcript is full (the text must already be escaped and masked).
    public mutating func append(_ direction: Direction, _ text: String, elapsedMilliseconds: Int) {
        guard size + text.utf8.count <= Self.maxBytes else {
            droppedLines += 1
            return
        }
        size += text.utf8.count + 8
        entries.append(Entry(elapsedMilliseconds: elapsedMilliseconds, direction: direction, text: text))
    }

    /// The transcript as text, one `[   12 ms] C: EHLO example.com` line per entry, with a note when lines were cut.
    public func rendered() -> String {
        // Written as bytes: small appends to a `String` cost about 600 instructions each here, 100,000 a scenario.
        var out: [UInt8] = []
        out.reserveCapacity(size + entries.count * 8 + 80)
        for (index, entry) in entries.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "\n")) }
            out.append(UInt8(ascii: "["))
            let ms = String(entry.elapsedMilliseconds).utf8
            if ms.count < 6 { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 6 - ms.count)) }
            out.append(contentsOf: ms)
            out.append(contentsOf: " ms] ".utf8)
            out.append(contentsOf: entry.direction.rawValue.utf8)
            if entry.direction != .note { out.append(UInt8(ascii: ":")) }
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: entry.text.utf8)
        }
        if droppedLines > 0 {
            if !entries.isEmpty { out.append(UInt8(ascii: "\n")) }
            out.append(
                contentsOf: "# transcript cut at \(Self.maxBytes / 1024) KiB: \(droppedLines) more lines not shown".utf8
            )
        }
        return String(decoding: out, as: UTF8.self)
    }
}
