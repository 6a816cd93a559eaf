/// Cuts long user text (a 100,000-character regex, a huge value) before it is quoted in a message, saying how
/// much was left out, so a diagnostic stays one readable line.
public enum Abbreviation {
    /// The longest text quoted in full, in characters.
    public static let defaultLimit = 120

    /// `text` when it is short; otherwise its start and `... (N more characters)`.
    public static func text(_ text: String, limit: Int = defaultLimit) -> String {
        // A text of at most `limit` bytes has at most `limit` characters: no need to walk its graphemes (every
        // step label passes here, and a walk cost about 2,500 instructions).
        if text.utf8.count <= limit { return text }
        var count = 0
        var end = text.startIndex
        while end < text.endIndex, count < limit {
            end = text.index(after: end)
            count += 1
        }
        guard end < text.endIndex else { return text }
        let rest = text[end...].count
        return "\(text[..<end])... (\(rest) more character\(rest == 1 ? "" : "s"))"
    }
}
