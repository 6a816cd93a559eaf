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
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: URL? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let output = try Paths.temporaryDirectory("process-output")
        let stdoutURL = output.appendingPathComponent("stdout")
        let stderrURL = output.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let running = process
        let killer = Task {
            try await Task.sleep(for: timeout)
            guard running.isRunning else { return false }
            running.terminate()
            return true
        }
        await Task.detached { running.waitUntilExit() }.value
        killer.cancel()
        let timedOut = (try? await killer.value) ?? false
        try? stdoutHandle.close()
        try? stderrHandle.close()
        let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: output)
        return ProcessResult(status: process.terminationStatus, stdout: stdout, stderr: stderr, timedOut: timedOut)
    }

    /// Runs the built `smtp-scenario` binary.
    public static func smtpScenario(
        _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: URL? = Paths.repositoryRoot,
        timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        try await run(
            Paths.binary.path,
            arguments,
            environment: environment,
            currentDirectory: currentDirectory,
            timeout: timeout
        )
    }

    /// Whether a program is on the PATH.
    public static func which(_ program: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        for directory in ["/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(program)") {
            return "\(directory)/\(program)"
        }
        return nil
    }
}
