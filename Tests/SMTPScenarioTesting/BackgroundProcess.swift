import Foundation

/// A long-running program (`smtp-scenario serve`) started for a test and always stopped afterwards.
/// Readiness is awaited by watching its output, never by sleeping a fixed time.
public final class BackgroundProcess: @unchecked Sendable {
    private let child: ChildProcess
    private let outputFile: URL
    private let exit: Task<Int32, Never>

    /// Starts `executable` with `arguments`, standard output and error going to one file; with `standardOutput`,
    /// standard output goes to that descriptor instead (a pipe the test reads, or leaves unread).
    public init(
        _ executable: String,
        _ arguments: [String],
        currentDirectory: URL? = nil,
        standardOutput: Int32? = nil
    ) throws {
        let directory = try Paths.temporaryDirectory("background")
        outputFile = directory.appendingPathComponent("output")
        let child = try ChildProcess(
            executable,
            arguments,
            environment: ProcessInfo.processInfo.environment,
            currentDirectory: currentDirectory?.path,
            output: outputFile.path,
            standardOutput: standardOutput
        )
        self.child = child
        exit = Task { await child.wait() }
    }

    /// Everything the program printed so far.
    public var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }

    /// Waits until the output contains `text`; throws with the output when it does not within `timeout`.
    @discardableResult
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = output
            if current.contains(text) { return current }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FixtureError(description: "the process did not print \"\(text)\"; output:\n\(output)")
    }

    /// Sends `signal` and waits for the exit (SIGKILL after 10 s); returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) async -> Int32 {
        child.signal(signal)
        let child = self.child
        let killer = Task {
            try await Task.sleep(for: .seconds(10))
            child.signal(SIGKILL)
        }
        let status = await exit.value
        killer.cancel()
        return status
    }

    /// The process id, to send signals.
    public var pid: Int32 { child.pid }
}
