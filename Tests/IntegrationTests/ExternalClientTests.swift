import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

/// Independent programs against our code: swaks against `serve`, nmap's relay check against the mock.
@Suite("Independent clients against the mock", .serialized, .timeLimit(.minutes(3)))
struct ExternalClientTests {
    /// Starts `smtp-scenario serve` on a free port and returns it with its port.
    private func serve(_ arguments: [String]) async throws -> (BackgroundProcess, Int, Int) {
        let port = try Ports.free()
        let tlsPort = try Ports.free()
        let server = try BackgroundProcess(
            Paths.binary.path,
            ["serve", "--listen", "127.0.0.1:\(port)", "--tls-listen", "127.0.0.1:\(tlsPort)"] + arguments
        )
        do {
            try await server.waitForOutput(containing: "listening on 127.0.0.1:\(port)")
        } catch {
            await server.stop()
            throw error
        }
        return (server, port, tlsPort)
    }

    private func tool(_ name: String) throws -> String {
        if let path = ProcessRunner.which(name) { return path }
        if Paths.inCI { throw FixtureError(description: "CI=true but \(name) is not installed") }
        try Test.cancel("\(name) is not installed (scripts/install-test-deps installs it)")
    }

    @Test func swaksDeliversIntoTheStoreWithItsBodyIntact() async throws {
        let swaks = try tool("swaks")
        let store = try Paths.temporaryDirectory("store")
        defer { try? FileManager.default.removeItem(at: store) }
        let (server, port, _) = try await serve(["--store", store.path])
        defer { Task { await server.stop() } }
        let body = "First line\n.a line that begins with a dot\n..two dots\n.\nafter a lone dot\n"
        let result = try await ProcessRunner.run(
            swaks,
            [
                "--server", "127.0.0.1:\(port)", "--from", "sender@example.org", "--to", "alice@example.com",
                "--header", "Subject: swaks test", "--body", body, "--silent", "2",
            ]
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(server.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: store.path).filter { $0.hasSuffix(".eml") }
        #expect(files.count == 1)
        let stored = try String(contentsOf: store.appendingPathComponent(try #require(files.first)), encoding: .utf8)
        #expect(stored.contains("Subject: swaks test"))
        #expect(
            stored.contains("First line\r\n.a line that begins with a dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n")
        )
        #expect(
            stored.hasPrefix(
                "Return-Path: <sender@example.org>\r\nX-Envelope-To: <alice@example.com>\r\nReceived: from "
            )
        )
        // The log line is written by serve's log thread, a moment after the session ends.
        let log = try await server.waitForOutput(containing: "messages=1")
        #expect(log.components(separatedBy: " helo=").count - 1 == 1, "one log line per session")
    }

    @Test func swaksWithSTARTTLSAndAuthAndWithImplicitTLS() async throws {
        let swaks = try tool("swaks")
        let store = try Paths.temporaryDirectory("store")
        defer { try? FileManager.default.removeItem(at: store) }
        let (server, port, tlsPort) = try await serve(["--store", store.path])
        defer { Task { await server.stop() } }
        for (mechanism, extra) in [
            ("PLAIN", ["--tls"]), ("LOGIN", ["--tls"]), ("CRAM-MD5", ["--tls"]), ("PLAIN", ["--tlsc"]),
        ] {
            let target = extra == ["--tlsc"] ? tlsPort : port
            let result = try await ProcessRunner.run(
                swaks,
                [
                    "--server", "127.0.0.1:\(target)", "--from", "demo@example.com", "--to",
                    "someone@elsewhere.example", "--auth", mechanism, "--auth-user", "demo", "--auth-password",
                    "demo-password", "--silent", "2",
                ] + extra
            )
            #expect(result.status == 0, "\(mechanism) \(extra): \(result.stdout)\(result.stderr)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: store.path).filter { $0.hasSuffix(".eml") }
        #expect(files.count == 4, "authenticated users may relay; every message landed")
        // swaks leaves TLS sessions without a close-notify after QUIT: a normal end, not an error.
        let log = server.output
        #expect(!log.contains("error:"), "\(log)")
        #expect(log.contains("tls=yes"), "\(log)")
        let wrong = try await ProcessRunner.run(
            swaks,
            [
                "--server", "127.0.0.1:\(port)", "--tls", "--auth", "PLAIN", "--auth-user", "demo", "--auth-password",
                "nope", "--quit-after", "AUTH", "--silent", "2",
            ]
        )
        #expect(wrong.status == 28, "swaks exit code 28 is an AUTH failure")
        let noTLS = try await ProcessRunner.run(
            swaks,
            [
                "--server", "127.0.0.1:\(port)", "--auth", "PLAIN", "--auth-user", "demo", "--auth-password",
                "demo-password", "--quit-after", "AUTH", "--silent", "2",
            ]
        )
        #expect(noTLS.status != 0, "AUTH is not offered before TLS")
    }

    @Test func serveStopsCleanlyOnSIGINT() async throws {
        let (server, _, _) = try await serve([])
        #expect(await server.stop(signal: SIGINT) == 0)
        #expect(server.output.contains("stopped"))
        #expect(server.output.contains("TLS certificate SHA-256 fingerprint: "))
    }

    @Test func nmapAgreesWithRelayCheckOnSingleWriteServers() async throws {
        let nmap = try tool("nmap")
        let directory = try Paths.temporaryDirectory("nmap")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, policy, open) in [("closed", "relay: closed\n", false), ("open", "relay: open\n", true)] {
            let file = directory.appendingPathComponent("\(name).yaml")
            try ("# yaml-language-server: $schema=x\n" + policy).write(to: file, atomically: true, encoding: .utf8)
            let (server, port, _) = try await serve(["--config", file.path])
            let ours = try await ProcessRunner.smtpScenario(["relay-check", "--server", "127.0.0.1:\(port)"])
            let theirs = try await ProcessRunner.run(
                nmap,
                [
                    "-Pn", "-n", "-p", String(port), "--script", "+smtp-open-relay", "--script-args",
                    "smtp-open-relay.domain=relay-test.invalid,smtp-open-relay.from=antispam,smtp-open-relay.to=relaytest",
                    "127.0.0.1",
                ]
            )
            await server.stop()
            #expect(theirs.status == 0, "\(theirs.stdout)\(theirs.stderr)")
            #expect(ours.status == (open ? 1 : 0), "\(name): \(ours.stdout)")
            let nmapSaysOpen = theirs.stdout.contains("Server is an open relay")
            #expect(nmapSaysOpen == open, "\(name): nmap said\n\(theirs.stdout)")
        }
    }

    @Test func lineByLineRepliesDoNotFoolRelayCheck() async throws {
        let directory = try Paths.temporaryDirectory("split")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("split.yaml")
        try "# yaml-language-server: $schema=x\nsplit-multiline-replies: true\n".write(
            to: file,
            atomically: true,
            encoding: .utf8
        )
        let (server, port, _) = try await serve(["--config", file.path])
        defer { Task { await server.stop() } }
        let ours = try await ProcessRunner.smtpScenario(["relay-check", "--server", "127.0.0.1:\(port)"])
        #expect(ours.status == 0, "\(ours.stdout)")
        #expect(ours.stdout.contains("not an open relay: 16/16 refused"))
    }
}
