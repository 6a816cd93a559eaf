import Dispatch
import Foundation
import NIOConcurrencyHelpers
import Reports
import ScenarioResults

/// Ctrl-C and SIGTERM: the first cancels the running work (which still writes its reports); a second exits at once.
/// Standard output that fails (its reader went away, `| head`; a full disk) ends the work the same way: nothing
/// more can be shown, and the other reports are still written.
enum Interruption {
    /// Why the work was cancelled, as the exit status it gives.
    enum Cause: Sendable {
        case signal(Int32)
        case outputFailed(errno: Int32)

        /// 128 + the signal; for failed output 141 (as if killed by SIGPIPE) when the reader went away, else 74
        /// (EX_IOERR).
        var exitStatus: Int32 {
            switch self {
            case .signal(let number): 128 + number
            case .outputFailed(let error): error == EPIPE ? 128 + SIGPIPE : 74
            }
        }
    }

    /// Runs `body`, cancelling it on SIGINT, SIGTERM or failed standard output. Returns its value and what
    /// cancelled it. `finishing` says what the cancelled work still does (a run writes its reports, serve stops).
    static func run<T: Sendable>(
        finishing: String = "finishing reports",
        _ body: @escaping @Sendable () async -> T
    ) async -> (value: T, cause: Cause?) {
        let received = NIOLockedValueBox<Cause?>(nil)
        // Set once the work has started; a cause that comes first (output failing at once) cancels it then.
        let work = NIOLockedValueBox<Task<T, Never>?>(nil)
        /// Records `cause` and cancels the work if it is the first cause; true when it is.
        let cancel: @Sendable (Cause) -> Bool = { cause in
            let first = received.withLockedValue { current in
                guard current == nil else { return false }
                current = cause
                return true
            }
            if first { work.withLockedValue { $0 }?.cancel() }
            return first
        }
        var sources: [DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if cancel(.signal(number)) {
                    StandardStream.error.write("\ninterrupted: \(finishing) (press Ctrl-C again to quit now)\n")
                } else {
                    exit(128 + number)
                }
            }
            source.resume()
            sources.append(source)
        }
        StandardStream.whenOutputFails { error in
            guard cancel(.outputFailed(errno: error)), error != EPIPE else { return }
            StandardStream.error.write(
                "cannot write standard output: \(SystemError.describe(error)); \(finishing)\n"
            )
        }
        let task = Task { await body() }
        work.withLockedValue { $0 = task }
        if received.withLockedValue({ $0 }) != nil { task.cancel() }
        let value = await task.value
        for source in sources { source.cancel() }
        return (value, received.withLockedValue { $0 })
    }
}
