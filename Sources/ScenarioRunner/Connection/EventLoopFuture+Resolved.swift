import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// The future's value, awaited on the caller's executor. A scenario runs on its connection's event loop, where
    /// the future completes: it resumes right there, where `get()` (a nonisolated async function) would hop to the
    /// global executor and back, two thread switches per wait.
    ///
    /// (An `isolated` parameter rather than `nonisolated(nonsending)`: with optimisation, Swift 6.3 still started
    /// such instance methods on the global executor; the parameter form is kept exactly.)
    func resolved(isolation: isolated (any Actor)? = #isolation) async throws -> Value {
        try await withUnsafeThrowingContinuation { continuation in
            whenComplete { continuation.resume(with: $0) }
        }
    }
}

/// An event loop as a task executor (SE-0417). A scenario's task prefers its connection's loop, so whatever the
/// concurrency runtime would send to the global executor (a continuation's resumption, a nonisolated async
/// function) runs on that loop too: the scenario never leaves the thread its socket lives on.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

/// The same loop as the serial executor of a scenario's actor, running the actor's jobs as isolated to it *and*
/// on the task executor its task prefers.
///
/// Run through NIO's own executor, an actor job ran with no task executor while its task preferred one; the
/// runtime counts that as a different execution context, so every await point in the actor (six or more per
/// step) went back through the loop's task queue: 81 enqueues per five-command session, about 10% of the
/// runner's instructions. With both set as the task expects, an actor-to-actor call continues in place.
final class ScenarioLoopExecutor: SerialExecutor, @unchecked Sendable {
    let taskExecutor: EventLoopTaskExecutor

    init(_ taskExecutor: EventLoopTaskExecutor) { self.taskExecutor = taskExecutor }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let serial = asUnownedSerialExecutor()
        let task = taskExecutor.asUnownedTaskExecutor()
        taskExecutor.loop.execute { job.runSynchronously(isolatedTo: serial, taskExecutor: task) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    func checkIsolated() { taskExecutor.loop.preconditionInEventLoop() }
}
