import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// Ctrl-C and SIGTERM: the first cancels the running work (which still writes its reports); a second exits at once.
enum Interruption {
    /// Runs `body`, cancelling it on SIGINT or SIGTERM. Returns its value and the signal that interrupted it.
    static func run<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> (value: T, signal: Int32?) {
        let task = Task { await body() }
        let received = NIOLockedValueBox<Int32?>(nil)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let first = received.withLockedValue { current -> Bool in
                    guard current == nil else { return false }
                    current = number
                    return true
                }
                if first {
                    FileHandle.standardError.write(
                        Data("\ninterrupted: finishing reports (press Ctrl-C again to quit now)\n".utf8)
                    )
                    task.cancel()
                } else {
                    exit(128 + number)
                }
            }
            source.resume()
            sources.append(source)
        }
        let value = await task.value
        for source in sources { source.cancel() }
        return (value, received.withLockedValue { $0 })
    }
}
