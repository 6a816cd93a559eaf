import Foundation
import SMTPScenarioTesting
import Testing

/// `serve` past its file descriptor limit: it says so, waits instead of spinning, and serves again once
/// connections close. And `serve` and `run` on IPv6 loopback.
@Suite("serve at its limits and on IPv6", .timeLimit(.minutes(1)))
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

    /// On IPv6 every address is written `[::1]:PORT`: the banner, the session log and the transcript said
    /// `::1:PORT`, whose colons run into the port's.
    @Test func ipv6AddressesAreWrittenInBrackets() async throws {
        let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var loopback = sockaddr_in6()
        loopback.sin6_family = sa_family_t(AF_INET6)
        loopback.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &loopback) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        close(probe)
        if bound != 0 { try Test.cancel("this machine has no IPv6 loopback") }

        let port = try Ports.free()
        let server = try BackgroundProcess(Paths.binary.path, ["serve", "--listen", "[::1]:\(port)"])
        do {
            try await server.waitForOutput(containing: "listening on [::1]:\(port)\n")
            let directory = try Paths.temporaryDirectory("ipv6")
            defer { try? FileManager.default.removeItem(at: directory) }
            try "name: v6\nsteps:\n  - {send: EHLO a, expect: 250}\n".write(
                to: directory.appendingPathComponent("v6.yaml"),
                atomically: true,
                encoding: .utf8
            )
            let run = try await ProcessRunner.smtpScenario(
                ["run", "v6.yaml", "--server", "[::1]:\(port)", "--json", "r.json"],
                currentDirectory: directory
            )
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            let report = try String(contentsOf: directory.appendingPathComponent("r.json"), encoding: .utf8)
            #expect(report.contains("connected to [::1]:\(port)"), "\(report)")
            let log = try await server.waitForOutput(containing: " helo=a ")
            let line = try #require(log.split(separator: "\n").first { $0.contains(" helo=a ") })
            let shape =
                #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[::1\]:\d+ helo=a tls=no auth=- commands=\d+ mail=\d+ rcpt=\d+/\d+ messages=\d+ duration=\d+ms( \([^)]*\))*$/#
            #expect(line.wholeMatch(of: shape) != nil, "\(line)")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Reads what `descriptor` has until `done` says so or `timeout` passes; the text read.
    private func read(_ descriptor: Int32, until done: (String) -> Bool, timeout: Duration) -> String {
        var text = ""
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !done(text), ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            text += String(decoding: buffer[..<count], as: UTF8.self)
        }
        return text
    }

    /// A reader that stops reading serve's output (a paused pager, a stalled `tee`) no longer stops the sessions:
    /// each session line was written from the event loop, so once the pipe was full the next one blocked it and no
    /// client got another greeting. Nothing is lost either: the lines wait and come out when the reader reads again.
    @Test func anOutputNobodyReadsDoesNotStopTheSessions() async throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let port = try Ports.free()
        let server = try BackgroundProcess(
            Paths.binary.path,
            ["serve", "--listen", "127.0.0.1:\(port)"],
            standardOutput: ends[1]
        )
        close(ends[1])
        let banner = read(ends[0], until: { $0.contains("fingerprint") }, timeout: .seconds(20))
        do {
            #expect(banner.contains("listening on 127.0.0.1:\(port)"), "\(banner)\n\(server.output)")
            // About 110 bytes of log a session: 1,500 sessions are 165 KB, well past the pipe's 64 KiB.
            let sessions = 1500
            for session in 1...sessions {
                let client = try RawClient(port: port)
                let greeting = client.readReplies(1, timeout: .seconds(5)).first ?? ""
                guard greeting.hasPrefix("220 ") else {
                    Issue.record("session \(session) got no greeting (\(greeting)): the unread output stopped the mock")
                    break
                }
                client.send("QUIT\r\n")
                _ = client.readReplies(2, timeout: .seconds(5))
            }
            let log = read(
                ends[0],
                until: { $0.components(separatedBy: " helo=").count - 1 == sessions },
                timeout: .seconds(20)
            )
            #expect(log.components(separatedBy: " helo=").count - 1 == sessions, "every session line, once read")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
