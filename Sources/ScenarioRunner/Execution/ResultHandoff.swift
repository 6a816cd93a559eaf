import NIOConcurrencyHelpers
import NIOCore
import ScenarioResults

/// Hands out a run's scenarios to the tasks that run them (on the event loops) and carries their results back to the
/// run's own task, which reports them (off the loops at more than one job, so output that blocks holds up no open
/// connection).
///
/// A scenario task takes its next scenario itself when one ends, so starting a scenario waits for no other thread.
/// Results gather for up to `gathering` before they wake the run's task, and it takes every result waiting at once:
/// at 50 jobs one wake-up of a pool thread every few milliseconds rather than one a scenario (2,000 sessions against
/// `smtp-sink`: 810-1,240 context switches and 2,600-3,700 futex calls when the run's task started each scenario,
/// 177 and 830 now; a sleep of the run's task between batches left 450 and 700, its timer thread waking for each
/// sleep, and a sleeping task cannot be woken by the last result). The last result wakes it at once. Once
/// `capacity` results wait, a scenario task that hands over another waits before it starts the next (so at most
/// `capacity` plus one a task wait): a run whose output is blocked stops starting scenarios rather than keeping their
/// results in memory.
final class ResultHandoff: Sendable {
    /// A scenario's position in the plan and its result.
    typealias Item = (index: Int, result: ScenarioResult)

    private struct State {
        var nextIndex = 0
        var waiting: [Item] = []
        /// The run's task, when it waits for results.
        var reader: UnsafeContinuation<[Item]?, Never>?
        /// Whether a loop will hand the waiting results to the reader when the gathering time is up.
        var flushScheduled = false
        /// Scenario tasks that have not finished yet.
        var writersLeft: Int
        /// Scenario tasks waiting for room.
        var blockedWriters: [UnsafeContinuation<Void, Never>] = []
    }

    private let state: NIOLockedValueBox<State>
    private let count: Int
    private let capacity: Int
    private let gathering: TimeAmount?

    /// A hand-off for `count` scenarios run by `writers` tasks, where `capacity` results waiting hold up the tasks;
    /// results gather for `gathering` before they wake the run's task (nil: each wakes it at once).
    init(count: Int, writers: Int, capacity: Int, gathering: TimeAmount?) {
        self.count = count
        self.capacity = max(1, capacity)
        self.gathering = gathering
        state = NIOLockedValueBox(State(writersLeft: writers))
    }

    /// The index of the next scenario to run; nil when every one has been handed out.
    func claim() -> Int? {
        state.withLockedValue { state in
            guard state.nextIndex < count else { return nil }
            defer { state.nextIndex += 1 }
            return state.nextIndex
        }
    }

    /// Hands `item` over from a task running on `loop`; then waits while `capacity` results wait for the run's task.
    func put(_ item: Item, on loop: any EventLoop) async {
        enum Next {
            case proceed
            case wakeReader(UnsafeContinuation<[Item]?, Never>, [Item])
            case scheduleFlush(TimeAmount)
            case waitForRoom
        }
        let next: Next = state.withLockedValue { state in
            state.waiting.append(item)
            if let reader = state.reader {
                guard let gathering, state.waiting.count < capacity / 2 else {
                    state.reader = nil
                    return .wakeReader(reader, Self.takeAll(&state.waiting))
                }
                if state.flushScheduled { return .proceed }
                state.flushScheduled = true
                return .scheduleFlush(gathering)
            }
            return state.waiting.count >= capacity ? .waitForRoom : .proceed
        }
        switch next {
        case .proceed:
            return
        case .wakeReader(let reader, let batch):
            reader.resume(returning: batch)
        case .scheduleFlush(let gathering):
            loop.scheduleTask(in: gathering) { self.flush() }
        case .waitForRoom:
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let roomAlready = state.withLockedValue { state in
                    if state.waiting.count < capacity { return true }
                    state.blockedWriters.append(continuation)
                    return false
                }
                if roomAlready { continuation.resume() }
            }
        }
    }

    /// The gathering time is up: the waiting results go to the reader, if it still waits.
    private func flush() {
        let wake: (UnsafeContinuation<[Item]?, Never>, [Item])? = state.withLockedValue { state in
            state.flushScheduled = false
            guard let reader = state.reader, !state.waiting.isEmpty else { return nil }
            state.reader = nil
            return (reader, Self.takeAll(&state.waiting))
        }
        wake.map { $0.0.resume(returning: $0.1) }
    }

    /// Marks one scenario task as done: the last one wakes the run's task with what waits, or with nil.
    func finishWriter() {
        let wake: (UnsafeContinuation<[Item]?, Never>, [Item]?)? = state.withLockedValue { state in
            state.writersLeft -= 1
            guard state.writersLeft == 0, let reader = state.reader else { return nil }
            state.reader = nil
            return (reader, state.waiting.isEmpty ? nil : Self.takeAll(&state.waiting))
        }
        wake.map { $0.0.resume(returning: $0.1) }
    }

    /// Every result waiting (at once when some are, else once the gathering time is up or the last task ends); nil
    /// when every scenario task has finished and all results were taken.
    func take() async -> [Item]? {
        if let ready = takeWaiting(orWait: nil) { return ready }
        return await withUnsafeContinuation { continuation in
            if let ready = takeWaiting(orWait: continuation) { continuation.resume(returning: ready) }
        }
    }

    /// What is waiting (nil inside when no task is left); or, when nothing is and tasks are left, registers `reader`
    /// (when given) and returns nil.
    private func takeWaiting(orWait reader: UnsafeContinuation<[Item]?, Never>?) -> [Item]?? {
        let (ready, writers): ([Item]??, [UnsafeContinuation<Void, Never>]) = state.withLockedValue { state in
            if !state.waiting.isEmpty {
                var writers: [UnsafeContinuation<Void, Never>] = []
                swap(&writers, &state.blockedWriters)
                return (.some(Self.takeAll(&state.waiting)), writers)
            }
            if state.writersLeft == 0 { return (.some(nil), []) }
            if let reader { state.reader = reader }
            return (nil, [])
        }
        for writer in writers { writer.resume() }
        return ready
    }

    /// Whether the run's task waits for results, and how many scenario tasks wait for room (for tests).
    var waiters: (reader: Bool, writers: Int) {
        state.withLockedValue { ($0.reader != nil, $0.blockedWriters.count) }
    }

    private static func takeAll(_ waiting: inout [Item]) -> [Item] {
        var batch: [Item] = []
        swap(&batch, &waiting)
        return batch
    }
}
