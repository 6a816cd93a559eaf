import Foundation

/// Runs a program and collects its exit status and output, with a deadline so a hung program fails the test.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Whether the deadline killed it.
    public let timedOut: Bool
}

public enum ProcessRunner {
    /// Runs `executable` with `arguments`; kills it after `timeout`.
    /// With `closedStandardOutput`, its standard output is a pipe nobody reads (``ProcessResult/stdout`` is empty).
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: URL? = nil,
        timeout: Duration = .seconds(120),
        closedStandardOutput: Bool = false
    ) async throws -> ProcessResult {
        let directory = try Paths.temporaryDirectory("process-output")
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("output").path
        let stderrPath = directory.appendingPathComponent("stderr").path
        // Standard output and error go to separate files: run through a shell that redirects stderr.
        let shellArguments = ["-c", "exec \"$0\" \"$@\" 2>\"\(stderrPath)\"", executable] + arguments
        let child = try ChildProcess(
            "/bin/sh",
            shellArguments,
            environment: ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 },
            currentDirectory: currentDirectory?.path,
            output: output,
            closedStandardOutput: closedStandardOutput
        )
        let killer = Task {
            try await Task.sleep(for: timeout)
            child.signal(SIGKILL)
            return true
        }
        let status = await child.wait()
        killer.cancel()
        let timedOut = (try? await killer.value) ?? false
        let stdout = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return ProcessResult(status: status, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// Runs the built `smtp-scenario` binary.
    public static func smtpScenario(
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: URL? = Paths.repositoryRoot,
        timeout: Duration = .seconds(120),
        closedStandardOutput: Bool = false
    ) async throws -> ProcessResult {
        try await run(
            Paths.binary.path,
            arguments,
            environment: environment,
            currentDirectory: currentDirectory,
            timeout: timeout,
            closedStandardOutput: closedStandardOutput
        )
    }

    /// Whether a program is on the PATH.
    public static func which(_ program: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        for directory in ["/usr/sbin", "/sbin"]
        where FileManager.default.isExecutableFile(atPath: "\(directory)/\(program)") {
            return "\(directory)/\(program)"
        }
        return nil
    }
}
