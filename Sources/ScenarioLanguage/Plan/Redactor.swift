/// Replaces secret values with `***` wherever they would appear in output.
public struct Redactor: Sendable, Hashable {
    private var secrets: [String]

    /// Masks `secrets` (empty strings are ignored; longer secrets are masked first).
    public init(secrets: [String]) {
        self.secrets = []
        add(secrets)
    }

    /// Adds secrets learned while running (a password that came from a capture).
    public mutating func add(_ more: [String]) {
        // Most scenarios have no secret: each made a set and a sorted array of nothing (490 instructions a scenario).
        let new = more.filter { !$0.isEmpty && !secrets.contains($0) }
        guard !new.isEmpty else { return }
        secrets = Array(Set(secrets + new)).sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by `***`.
    public func mask(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return result
    }
}
