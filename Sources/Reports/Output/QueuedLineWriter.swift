import Foundation

/// Writes lines on a thread of its own, so that the caller (an event loop serving connections) never waits for a
/// reader: a pipe into a paused pager or a stalled `tee` would otherwise stop every session. At most `capacity`
/// bytes wait; beyond that lines are dropped and counted, and the count is written once the output takes lines again.
public final class QueuedLineWriter: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [String] = []
    private var pendingBytes = 0
    private var dropped = 0
    private var finishing = false
    private var writing = false
    /// Whether the thread waits for a first line; only then does a new line wake it.
    private var idle = false
    /// How long the thread lets lines gather after the first before writing them: under load one wake-up and
    /// one write for many lines (a wake-up per line cost the mock a fifth of its sessions a second at 50 clients).
    private let gathering: TimeInterval
    private let capacity: Int
    private let output: @Sendable (String) -> Void

    /// A writer to `output` holding at most `capacity` bytes of lines not yet written.
    public init(
        capacity: Int = 1 << 20,
        gathering: TimeInterval = 0.02,
        output: @escaping @Sendable (String) -> Void
    ) {
        self.capacity = capacity
        self.gathering = gathering
        self.output = output
        let thread = Thread { [self] in drain() }
        thread.name = "queued line writer"
        thread.start()
    }

    /// Queues `line` (with its newline); drops it when `capacity` bytes already wait.
    public func write(_ line: String) {
        condition.lock()
        defer { condition.unlock() }
        guard !finishing else { return }
        let size = line.utf8.count
        guard pendingBytes + size <= capacity else {
            dropped += 1
            return
        }
        pending.append(line)
        pendingBytes += size
        if idle { condition.signal() }
    }

    /// Writes what waits and stops the thread; returns false if the output did not take it within `timeout`.
    @discardableResult
    public func finish(timeout: TimeInterval = 2) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        finishing = true
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !pending.isEmpty || dropped > 0 || writing {
            guard condition.wait(until: deadline) else { return false }
        }
        return true
    }

    private func drain() {
        while true {
            condition.lock()
            while pending.isEmpty && dropped == 0 && !finishing {
                idle = true
                condition.wait()
            }
            idle = false
            if pending.isEmpty && dropped == 0 {
                condition.unlock()
                return
            }
            // Only finish() signals now, so this waits the whole gathering time unless the writer is finishing.
            let gathered = Date(timeIntervalSinceNow: gathering)
            while !finishing && condition.wait(until: gathered) {}
            // Lines are dropped only while the queue is full, so every dropped line came after this batch.
            var text = pending.joined()
            if dropped > 0 {
                text += "(\(dropped) log line\(dropped == 1 ? "" : "s") dropped: the output was not being read)\n"
            }
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            dropped = 0
            writing = true
            condition.unlock()
            output(text)
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
