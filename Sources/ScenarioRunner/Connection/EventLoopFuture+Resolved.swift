import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// The future's value, awaited on the caller's executor. A scenario runs on its connection's event loop, where
    /// the future completes: it resumes right there, where `get()` (a nonisolated async function) would hop to the
    /// global executor and back, two thread switches per wait.
    ///
    /// (An `isolated` parameter rather than `nonisolated(nonsending)`: called from an actor, Swift 6.3 with
    /// optimisation started such methods on the global executor. Its callers, ``SMTPConnection``'s methods, are
    /// nonisolated(nonsending) on a task that prefers the loop, where both forms run on the loop.)
    func resolved(isolation: isolated (any Actor)? = #isolation) async throws -> Value {
        try await withUnsafeThrowingContinuation { continuation in
            whenComplete { continuation.resume(with: $0) }
        }
    }
}

/// An event loop as a task executor (SE-0417). A scenario's task prefers its connection's loop, so whatever the
/// concurrency runtime would send to the global executor (a continuation's resumption, a nonisolated async
/// function, all of ``ScenarioExecution``) runs on that loop: the scenario never leaves the thread its socket lives
/// on.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
