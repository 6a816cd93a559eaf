import Foundation
import SMTPScenarioTesting
import Testing

@testable import SMTPScenarioApp

/// `smtp-scenario record` from a pipe, against the embedded mock: the typed session becomes a scenario that
/// validates and replays. (On a real terminal, and with TLS and AUTH, against Postfix: PostfixTests.)
@Suite("record from a pipe", .timeLimit(.minutes(2)))
struct RecordTests {
    /// Runs `record` with `input` on standard input, in `directory`.
    static func record(
        _ arguments: [String],
        input: String,
        in directory: URL,
        environment: [String: String]? = nil
    ) async throws -> ProcessResult {
        let inputFile = directory.appendingPathComponent("session-\(UUID().uuidString.prefix(6)).txt")
        try input.write(to: inputFile, atomically: true, encoding: .utf8)
        return try await ProcessRunner.run(
            "/bin/sh",
            ["-c", "exec \"$0\" record \"$@\" < \"\(inputFile.path)\"", Paths.binary.path] + arguments,
            environment: environment,
            currentDirectory: directory
        )
    }

    @Test func aTypedSessionBecomesAScenarioThatReplays() async throws {
        let directory = try Paths.temporaryDirectory("record")
        let session = """
            EHLO client.example
            MAIL FROM:<sender@example.net>
            RCPT TO:<nobody@example.com>
            RCPT TO:<alice@example.com>
            NOOP ${not.a.variable}
            AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=
            :bogus
            DATA
            Subject: recorded

            ..a line that began with a dot
            .
            :wait 50ms

            """
        let result = try await Self.record(
            ["--server", "mock", "--out", "session.yaml", "--name", "typed session"],
            input: session,
            in: directory
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // Each reply is shown with its meaning, in the words of the status code table.
        #expect(result.stdout.contains("S: 550 5.1.1 "), "\(result.stdout)")
        #expect(result.stdout.contains("(mailbox unavailable; bad destination mailbox address)"))
        #expect(result.stderr.contains("not sent: type :auth MECHANISM USER"), "\(result.stderr)")
        #expect(result.stderr.contains("unknown command :bogus"))
        #expect(result.stdout.contains("wrote session.yaml (9 steps)"), "\(result.stdout)")

        let file = try String(contentsOf: directory.appendingPathComponent("session.yaml"), encoding: .utf8)
        #expect(file.contains("name: typed session"))
        #expect(file.contains("server: mock"))
        #expect(
            file.contains("- send: RCPT TO:<nobody@example.com>\n  expect: {code: 550, enhanced: 5.1.1}"),
            "\(file)"
        )
        #expect(file.contains("- send: EHLO client.example\n  expect: 250\n"))
        #expect(file.contains("send: NOOP $${not.a.variable}"), "typed text stays literal on replay")
        #expect(file.contains("  - data: |\n") || file.contains("- data: |\n"), "\(file)")
        #expect(file.contains("    .a line that began with a dot\n"), "the content is kept un-stuffed: \(file)")
        #expect(file.contains("- wait: 50ms"))
        #expect(file.contains("- send: QUIT\n  expect: {code: 221, enhanced: 2.0.0}"), "end of input quits")
        #expect(!file.contains("AUTH"), "a typed AUTH line is neither sent nor recorded")

        let validate = try await ProcessRunner.smtpScenario(["validate", "session.yaml"], currentDirectory: directory)
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        let replay = try await ProcessRunner.smtpScenario(
            ["run", "session.yaml", "--verbose", "--color", "never"],
            currentDirectory: directory
        )
        #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
        #expect(replay.stdout.contains("C: ..a line that began with a dot"), "replayed identically: \(replay.stdout)")
        #expect(replay.stdout.contains("C: NOOP ${not.a.variable}"))
    }

    @Test func anExistingFileIsKeptAndAnUnreachableServerWritesNothing() async throws {
        let directory = try Paths.temporaryDirectory("record-errors")
        try "keep me".write(to: directory.appendingPathComponent("taken.yaml"), atomically: true, encoding: .utf8)
        let taken = try await Self.record(["--server", "mock", "--out", "taken.yaml"], input: "", in: directory)
        #expect(taken.status == 2)
        #expect(taken.stderr.contains("taken.yaml exists"), "\(taken.stderr)")
        #expect(try String(contentsOf: directory.appendingPathComponent("taken.yaml"), encoding: .utf8) == "keep me")

        let port = try Ports.free()
        let unreachable = try await Self.record(
            ["--server", "127.0.0.1:\(port)", "--out", "none.yaml"],
            input: "EHLO a\n",
            in: directory
        )
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("nothing was written"), "\(unreachable.stderr)")
        // Said once: the failure was shown as the session's note and again as the step's problem.
        #expect(
            unreachable.stdout == "# connect to 127.0.0.1:\(port) failed: 127.0.0.1: connection refused\n",
            "\(unreachable.stdout)"
        )
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!left.contains("none.yaml"))
        #expect(!left.contains { $0.hasSuffix(".tmp") })
    }

    @Test func aServerThatClosesEndsTheRecordingWithItsReply() async throws {
        let directory = try Paths.temporaryDirectory("record-close")
        let policy = directory.appendingPathComponent("policy.yaml")
        try "limits: {max-errors: 2}\n".write(to: policy, atomically: true, encoding: .utf8)
        let result = try await Self.record(
            ["--server", "mock:policy.yaml", "--out", "closed.yaml"],
            input: "EHLO a\nXYZZY\nXYZZY\nNOOP\n",
            in: directory
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("# the server closed the connection"), "\(result.stdout)")
        let file = try String(contentsOf: directory.appendingPathComponent("closed.yaml"), encoding: .utf8)
        #expect(!file.contains("NOOP"), "nothing after the close: \(file)")
        // The 421 came in the same write as the second 500: it is shown and recorded where it arrived.
        #expect(result.stdout.contains("S: 421 4.7.0"), "\(result.stdout)")
        #expect(!result.stdout.contains("C: NOOP"), "no line is read after the server closed: \(result.stdout)")
        #expect(file.contains("421"), "the closing reply is recorded: \(file)")
        let replay = try await ProcessRunner.smtpScenario(["run", "closed.yaml"], currentDirectory: directory)
        #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)\n\(file)")
    }

    /// libedit is opened at run time (the binary does not link it): its run-time name and the four symbols
    /// `record` uses must resolve, or a terminal silently loses line editing. (The terminal test in PostfixTests
    /// drives the editing and the history through it.)
    @Test func libeditOpensByItsRunTimeNameWithEverySymbolRecordUses() {
        #expect(LineEditor.load() != nil, "dlopen(\(LineEditor.library)) or one of its symbols failed")
    }

    /// Every command starts without loading libedit or libxml2 (with ICU behind it): `record` opens libedit itself,
    /// `merge` reads XML with its own reader.
    @Test func theBinaryNeedsNeitherLibeditNorLibxml2ToStart() async throws {
        let dynamic = try await ProcessRunner.run("/usr/bin/readelf", ["-d", Paths.binary.path])
        #expect(dynamic.status == 0, "\(dynamic.stderr)")
        let needed = dynamic.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(!needed.isEmpty, "\(dynamic.stdout.prefix(500))")
        for library in ["libedit", "libxml2", "FoundationXML", "libicu"] {
            #expect(!needed.contains { $0.contains(library) }, "\(library) is loaded at start-up: \(needed)")
        }
    }
}
