import Foundation
import SMTPScenarioTesting
import Testing

/// `serve` past its file descriptor limit: it says so, waits instead of spinning, and serves again once
/// connections close.
@Suite("serve out of file descriptors", .timeLimit(.minutes(1)))
struct ServeLimitsTests {
    /// User plus system CPU time of `pid` so far, in clock ticks (1/100 s).
    private func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name in parentheses: state is the first, utime the 12th, stime the 13th.
        let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
        return try #require(Int(fields[11])) + #require(Int(fields[12]))
    }

    @Test func aFloodPastTheDescriptorLimitIsLoggedWaitsAndRecovers() async throws {
        let port = try Ports.free()
        let server = try BackgroundProcess(
            "/bin/sh",
            ["-c", "ulimit -n 48; exec \"$0\" serve --listen 127.0.0.1:\(port)", Paths.binary.path]
        )
        do {
            try await server.waitForOutput(containing: "listening on 127.0.0.1:\(port)")
            // More connections than descriptors: the kernel's backlog holds the ones the mock cannot accept.
            var clients = try (0..<80).map { _ in try RawClient(port: port) }
            let output = try await server.waitForOutput(containing: "cannot accept connections")
            #expect(
                output.contains(
                    "127.0.0.1:\(port) cannot accept connections: too many open files (this process's file descriptor limit 48 is reached"
                ),
                "\(output)"
            )

            // The backlog stays readable while the mock is out of descriptors. This second is the subject of the
            // test, not a wait for readiness: retrying `accept` at once used 85% of a core here; pausing between
            // tries uses next to nothing.
            let before = try cpuTicks(server.pid)
            try await Task.sleep(for: .seconds(1))
            let used = try cpuTicks(server.pid) - before
            #expect(used < 20, "\(used) clock ticks of CPU in one second with the backlog waiting")

            for client in clients { client.abort() }
            clients.removeAll()
            let late = try RawClient(port: port)
            #expect(late.readReplies(1).first?.hasPrefix("220 ") == true, "served again once descriptors are free")
            late.send("QUIT\r\n")
            #expect(late.readReplies(2).last?.hasPrefix("221 ") == true)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
