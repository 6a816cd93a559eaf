import NIOConcurrencyHelpers

/// Greylisting memory shared by every connection of a server, so the state carries over reconnects.
public final class Greylist: Sendable {
    private struct Triple: Hashable {
        let client: String
        let sender: String
        let recipient: String
    }

    private let firstSeen = NIOLockedValueBox<[Triple: ContinuousClock.Instant]>([:])
    private let maxEntries = 100_000

    /// Creates an empty greylist.
    public init() {}

    /// How long the triple must still wait: nil when it may pass now, else the remaining time.
    /// The first sighting records the triple.
    func remainingDelay(
        at now: ContinuousClock.Instant = .now,
        client: String,
        sender: String,
        recipient: String,
        delay: Duration
    ) -> Duration? {
        let key = Triple(client: client, sender: sender.lowercased(), recipient: recipient.lowercased())
        return firstSeen.withLockedValue { seen in
            guard let first = seen[key] else {
                if seen.count >= maxEntries { seen.removeAll() }
                seen[key] = now
                return delay
            }
            let waited = now - first
            return waited >= delay ? nil : delay - waited
        }
    }
}
