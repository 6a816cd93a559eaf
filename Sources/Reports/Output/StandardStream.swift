import Foundation

/// The process's standard output or error, written with write(2). Foundation's `FileHandle.write(_:)` traps on any
/// error, so `smtp-scenario run | head -1` or output to a full disk crashed the run before its reports were
/// written. Here a stream that fails is dropped: later writes to it do nothing, and the first failure of standard
/// output is handed to the handler set with ``whenOutputFails(_:)`` (the command line ends the run there, as on
/// Ctrl-C, and still writes the other reports).
public enum StandardStream: Sendable {
    /// Standard output: report lines.
    case output
    /// Standard error: diagnostics and notes.
    case error

    /// Which streams failed, and what to call when standard output does (Reports imports Foundation only).
    private final class State: @unchecked Sendable {
        private let lock = NSLock()
        private var failed: Set<StandardStream> = []
        private var handler: (@Sendable (Int32) -> Void)?

        func hasFailed(_ stream: StandardStream) -> Bool { lock.withLock { failed.contains(stream) } }

        /// Marks `stream` failed; returns the handler to call when this is standard output's first failure.
        func markFailed(_ stream: StandardStream) -> (@Sendable (Int32) -> Void)? {
            lock.withLock { failed.insert(stream).inserted && stream == .output ? handler : nil }
        }

        func setHandler(_ newHandler: @escaping @Sendable (Int32) -> Void) { lock.withLock { handler = newHandler } }
    }

    private static let state = State()

    /// Writes all of `text`, unless the stream already failed.
    public func write(_ text: String) {
        guard !hasFailed else { return }
        var text = text
        guard let error = text.withUTF8({ Self.writeAll($0, to: descriptor) }) else { return }
        Self.state.markFailed(self)?(error)
    }

    /// Whether an earlier write failed (the stream is dropped).
    public var hasFailed: Bool { Self.state.hasFailed(self) }

    /// Sets what happens at the first failed write to standard output; the handler gets the errno (EPIPE when the
    /// reader went away) and may run on any thread.
    public static func whenOutputFails(_ handler: @escaping @Sendable (Int32) -> Void) {
        state.setHandler(handler)
    }

    private var descriptor: Int32 { self == .output ? STDOUT_FILENO : STDERR_FILENO }

    /// Writes every byte, across partial writes and EINTR; returns the errno of a failure, nil on success.
    private static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to descriptor: Int32) -> Int32? {
        guard var next = bytes.baseAddress else { return nil }
        var remaining = bytes.count
        while remaining > 0 {
            let written = Foundation.write(descriptor, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            next += written
            remaining -= written
        }
        return nil
    }
}
