import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// One bit per stream that failed (`bit`: 1 for output, 2 for error).
    private static let failedStreams = Atomic<UInt8>(0)
    private static let outputFailureHandler = Mutex<(@Sendable (Int32) -> Void)?>(nil)

    /// Writes all of `text`, unless the stream already failed.
    public func write(_ text: String) {
        guard !hasFailed else { return }
        var text = text
        guard let error = text.withUTF8({ Self.writeAll($0, to: descriptor) }) else { return }
        let before = Self.failedStreams.bitwiseOr(bit, ordering: .acquiringAndReleasing).oldValue
        guard before & bit == 0, self == .output, let handler = Self.outputFailureHandler.withLock({ $0 }) else {
            return
        }
        handler(error)
    }

    /// Whether an earlier write failed (the stream is dropped).
    public var hasFailed: Bool { Self.failedStreams.load(ordering: .acquiring) & bit != 0 }

    /// Sets what happens at the first failed write to standard output; the handler gets the errno (EPIPE when the
    /// reader went away) and may run on any thread.
    public static func whenOutputFails(_ handler: @escaping @Sendable (Int32) -> Void) {
        outputFailureHandler.withLock { $0 = handler }
    }

    private var descriptor: Int32 { self == .output ? STDOUT_FILENO : STDERR_FILENO }
    private var bit: UInt8 { self == .output ? 1 : 2 }

    /// Writes every byte, across partial writes and EINTR; returns the errno of a failure, nil on success.
    private static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to descriptor: Int32) -> Int32? {
        guard var next = bytes.baseAddress else { return nil }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(descriptor, next, remaining)
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

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
