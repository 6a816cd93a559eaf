import Foundation
import Testing

/// A program on a real terminal: a tmux session on a private tmux server, driven with `send-keys` and read with
/// `capture-pane`. Readiness is awaited by watching the screen, never by sleeping a fixed time.
public final class TerminalSession: Sendable {
    private let tmux: String
    private let socket: String
    private let name = "record"

    /// Starts `command` (run by /bin/sh in `directory`) on a fresh 160x50 terminal. Skips the test (fails it with
    /// `CI=true`) when tmux is not installed.
    public static func start(
        _ command: String,
        in directory: URL,
        environment: [String: String] = [:]
    ) async throws -> TerminalSession {
        guard let tmux = ProcessRunner.which("tmux") else {
            let reason = "tmux is not installed (scripts/install-test-deps installs it)"
            if Paths.inCI { throw FixtureError(description: "CI=true but \(reason)") }
            try Test.cancel(Comment(rawValue: reason))
        }
        let session = TerminalSession(tmux: tmux, socket: "smtp-scenario-test-\(UUID().uuidString.prefix(8))")
        let exports = environment.map { "export \($0.key)='\($0.value)'; " }.joined()
        let result = try await session.tmux([
            "new-session", "-d", "-s", session.name, "-x", "160", "-y", "50", "-c", directory.path,
            "/bin/sh", "-c", "\(exports)\(command)",
        ])
        guard result.status == 0 else {
            throw FixtureError(description: "tmux new-session failed: \(result.stdout)\(result.stderr)")
        }
        return session
    }

    private init(tmux: String, socket: String) {
        self.tmux = tmux
        self.socket = socket
    }

    @discardableResult
    private func tmux(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(
            tmux,
            ["-L", socket, "-f", "/dev/null"] + arguments,
            environment: ["TERM": "xterm-256color"],
            timeout: .seconds(20)
        )
    }

    /// Types `text` literally, then presses Enter unless `enter` is false.
    public func type(_ text: String, enter: Bool = true) async throws {
        try await tmux(["send-keys", "-t", name, "-l", text])
        if enter { try await press("Enter") }
    }

    /// Presses keys by tmux name: `Enter`, `Up`, `BSpace`, `C-c`, `C-d`.
    public func press(_ keys: String...) async throws {
        try await tmux(["send-keys", "-t", name] + keys)
    }

    /// What the terminal shows now (with its scrollback).
    public func screen() async throws -> String {
        try await tmux(["capture-pane", "-p", "-t", name, "-S", "-200"]).stdout
    }

    /// Waits until the screen shows `text` `count` times; throws with the screen when it does not within `timeout`.
    @discardableResult
    public func waitFor(_ text: String, count: Int = 1, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var shown = ""
        while ContinuousClock.now < deadline {
            shown = try await screen()
            if shown.components(separatedBy: text).count - 1 >= count { return shown }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FixtureError(description: "the terminal did not show \"\(text)\" \(count) time(s); it shows:\n\(shown)")
    }

    /// Ends the terminal and its tmux server.
    public func stop() async { _ = try? await tmux(["kill-server"]) }
}
