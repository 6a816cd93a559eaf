import Synchronization

/// Values the process's exit reclaims rather than freed one by one, as compilers leave their syntax trees to the exit
/// (clang's `-disable-free`): freeing the compiled plan of 10,000 scenarios at the end of `validate` cost 64 million
/// instructions on its one remaining thread, for memory the exit returns at once. Only for values a command reads until
/// it ends anyway (`validate`'s compiled files), so peak memory is unchanged. Not `run`'s: it drops the unfiltered plan
/// once it has the scenarios to run, and keeping it raised the resident set of 100,000 scenarios by 46 MB.
enum ProcessLifetime {
    /// A kept value. Unchecked: it is stored and never read again, so no thread can race on it.
    private final class Kept: @unchecked Sendable {
        let value: Any
        init(_ value: Any) { self.value = value }
    }

    private static let kept = Mutex<[Kept]>([])

    /// Keeps `value` alive until the process exits.
    static func keepUntilExit(_ value: Any) {
        let box = Kept(value)
        kept.withLock { $0.append(box) }
    }
}
