/// Per-server politeness for fleet sweeps: at most `maxConnections` open connections to one server
/// (`--max-connections-per-server`) and new connections to it no faster than `interval` apart (`--rate`).
///
/// A server is its `host:port`. Waiting ends early when the task is cancelled (Ctrl-C).
actor ConnectionGate {
    private let maxConnections: Int?
    private let interval: Duration?
    private var open: [String: Int] = [:]
    private var waiters: [String: [(id: Int, continuation: CheckedContinuation<Void, Never>)]] = [:]
    private var nextStart: [String: ContinuousClock.Instant] = [:]
    private var nextWaiter = 0

    init(maxConnections: Int?, interval: Duration?) {
        self.maxConnections = maxConnections
        self.interval = interval
    }

    /// Whether the gate limits anything at all.
    nonisolated var isOpen: Bool { maxConnections == nil && interval == nil }

    /// Waits for a connection slot to `server` and its turn by rate; false when cancelled while waiting.
    func acquire(_ server: String) async -> Bool {
        if let maxConnections {
            while open[server, default: 0] >= maxConnections {
                if Task.isCancelled { return false }
                nextWaiter += 1
                let id = nextWaiter
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        waiters[server, default: []].append((id, continuation))
                    }
                } onCancel: {
                    Task { await self.cancelWaiter(id, server: server) }
                }
            }
            open[server, default: 0] += 1
        }
        if let interval {
            let now = ContinuousClock.now
            let start = max(now, nextStart[server] ?? now)
            nextStart[server] = start + interval
            if start > now {
                do {
                    try await Task.sleep(until: start, clock: .continuous)
                } catch {
                    release(server)
                    return false
                }
            }
        }
        return true
    }

    /// Gives back a slot taken by ``acquire(_:)``.
    func release(_ server: String) {
        guard maxConnections != nil else { return }
        open[server, default: 1] -= 1
        if var queue = waiters[server], !queue.isEmpty {
            let first = queue.removeFirst()
            waiters[server] = queue
            first.continuation.resume()
        }
    }

    private func cancelWaiter(_ id: Int, server: String) {
        guard let index = waiters[server]?.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters[server]!.remove(at: index)
        waiter.continuation.resume()
    }
}
