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
        var lines = entries.map { entry in
            let ms = String(entry.elapsedMilliseconds)
            let padded = String(repeating: " ", count: max(0, 6 - ms.count)) + ms
            let marker = entry.direction == .note ? "#" : entry.direction.rawValue + ":"
            return "[\(padded) ms] \(marker) \(entry.text)"
        }
        if droppedLines > 0 {
            lines.append("# transcript cut at \(Self.maxBytes / 1024) KiB: \(droppedLines) more lines not shown")
        }
        return lines.joined(separator: "\n")
    }
}
