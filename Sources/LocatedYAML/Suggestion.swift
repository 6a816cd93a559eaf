/// "Did you mean ...?" suggestions by edit distance.
public enum Suggestion {
    /// The candidate closest to `word`, if it is close enough to be a plausible typo.
    public static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        let limit = max(2, word.count / 3)
        let length = lowered.unicodeScalars.count
        // A name whose length differs by more than the limit cannot be that close; of the rest, the first
        // `maxCandidates` are compared (a file with thousands of variables and thousands of misspellings would
        // otherwise compare every pair).
        var best: (candidate: String, distance: Int)?
        var compared = 0
        for candidate in candidates {
            let other = candidate.lowercased()
            guard abs(other.unicodeScalars.count - length) <= limit else { continue }
            let score = distance(lowered, other)
            if best == nil || score < best!.distance { best = (candidate, score) }
            compared += 1
            if compared == maxCandidates { break }
        }
        guard let best, best.distance <= limit else { return nil }
        return best.candidate
    }

    /// Candidates compared at most for one suggestion.
    public static let maxCandidates = 1_000

    /// Levenshtein distance over Unicode scalars (names are short; scalars spare the grapheme breaking).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
