import NIOCore

/// The runner times steps, transcripts and scenarios with NIO's `NIODeadline`, not `ContinuousClock.Instant`.
///
/// `ContinuousClock` comes from the Concurrency module, which is built for library evolution, so the compiler cannot
/// lay its `Instant` out in an async function's frame: every local, optional or temporary of it became a task
/// allocation of its own, made on entry whatever path ran (about 45 a step in `execute(_:at:)`, 270 of a
/// session's 370), and every copy a value-witness call. `NIODeadline` is a plain `UInt64` read from the same kind of
/// clock the event loop's timers use (CLOCK_MONOTONIC).
extension NIODeadline {
    /// The time from this instant until now.
    var elapsed: Duration { .nanoseconds((NIODeadline.now() - self).nanoseconds) }
}
