import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

/// Scenarios and relay-check against a real Postfix (with Dovecot SASL) started once for this suite, on
/// 127.0.0.1 only, every transport set to discard. The tests share it, so they run one at a time.
@Suite("Against a real Postfix", .postfix, .serialized, .timeLimit(.minutes(5)))
struct PostfixTests {
    private func run(_ arguments: [String], environment: [String: String]? = nil) async throws -> ProcessResult {
        try await ProcessRunner.smtpScenario(arguments + ["--color", "never"], environment: environment)
    }

    private func temporaryFile(_ name: String) throws -> URL {
        try Paths.temporaryDirectory("postfix-test").appendingPathComponent(name)
    }

    /// The shipped top-level scenarios (the language examples).
    private var basics: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: Paths.scenarios.path)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "scenarios/\($0)" }
    }

    @Test func theShippedExamplesPassWithAValidJUnitFile() async throws {
        let postfix = try PostfixFixture.required()
        let junit = try temporaryFile("basics.xml")
        let result = try await run(
            ["run"] + basics + ["--server", "127.0.0.1:\(postfix.closedPort)", "--junit", junit.path]
        )
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("11 passed, 0 failed"))
        let validation = try await JUnitValidation.validate(junit)
        #expect(validation.ok, "\(validation.output)")
        let strict = try temporaryFile("strict.xml")
        _ = try await run(
            ["run"] + basics + [
                "--server", "127.0.0.1:\(postfix.closedPort)", "--junit", strict.path, "--junit-strict",
            ]
        )
        #expect(try await JUnitValidation.validate(strict, schema: "xunit").ok)
    }

    @Test func aRepeatPastTheRecipientLimitGets452() async throws {
        let postfix = try PostfixFixture.required()
        let scenario = try temporaryFile("limit.yaml")
        try """
        name: recipient limit
        steps:
          - send: EHLO client.example
          - send: MAIL FROM:<sender@example.net>
          - repeat: 50
            index: i
            steps:
              - send: RCPT TO:<alice@example.com>
                name: recipient ${i}
                expect: 250
          - send: RCPT TO:<bob@example.com>
            expect: {code: 452, enhanced: 4.5.3, text: too many recipients}
        """.write(to: scenario, atomically: true, encoding: .utf8)
        let result = try await run(["run", scenario.path, "--server", "127.0.0.1:\(postfix.pipelinePort)", "--verbose"])
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("S: 452 4.5.3 Error: too many recipients"))
        #expect(result.stdout.contains("1 passed, 0 failed"))
    }

    @Test func bdatChunksAreAcceptedByPostfix() async throws {
        let postfix = try PostfixFixture.required()
        let scenario = try temporaryFile("chunking.yaml")
        try """
        name: CHUNKING (RFC 3030)
        steps:
          - send: EHLO client.example
            expect: {code: 250, advertises: [CHUNKING]}
          - send: MAIL FROM:<sender@example.net>
          - send: RCPT TO:<alice@example.com>
          - bdat: {text: "Subject: chunked\\n\\n.a line with a leading dot\\n", last: false}
          - bdat: {hex: "0d0a", last: false}
          - bdat: "last chunk\\n"
            expect: {code: 250, enhanced: 2.0.0, text: queued as}
          - send: MAIL FROM:<sender@example.net>
          - send: RCPT TO:<alice@example.com>
          - send: DATA
            name: DATA is still fine in a new transaction
            expect: 354
          - data: "Subject: plain\\n\\nx"
        """.write(to: scenario, atomically: true, encoding: .utf8)
        let result = try await run(["run", scenario.path, "--server", "127.0.0.1:\(postfix.closedPort)", "--verbose"])
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("C: BDAT 48\n"), "\(result.stdout)")
        #expect(result.stdout.contains("C: BDAT 12 LAST"), "\(result.stdout)")
        #expect(result.stdout.contains("1 passed, 0 failed"))
    }

    @Test func recordWithSTARTTLSAndAuthFromAPipeReplaysWithoutThePassword() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("record-submission")
        let server = "127.0.0.1:\(postfix.submissionPort)"
        let session = """
            EHLO client.example
            :starttls
            EHLO client.example
            :auth PLAIN \(postfix.user)
            MAIL FROM:<\(postfix.user)@example.com>
            RCPT TO:<bob@example.com>
            DATA
            Subject: recorded over TLS

            Hello.
            .
            :quit

            """
        let environment = ["SMTP_PASSWORD": postfix.password]
        let result = try await RecordTests.record(
            ["--server", server, "--out", "submission.yaml", "--tls-ca", postfix.caFile],
            input: session,
            in: directory,
            environment: environment
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)\n\(postfix.logTail)")
        #expect(result.stdout.contains("(authentication succeeded"), "\(result.stdout)")
        #expect(!result.stdout.contains(postfix.password) && !result.stderr.contains(postfix.password))
        let file = try String(contentsOf: directory.appendingPathComponent("submission.yaml"), encoding: .utf8)
        #expect(file.contains("- starttls: {}"), "\(file)")
        #expect(file.contains("password: '${env.SMTP_PASSWORD}'"), "\(file)")
        #expect(file.contains("tls: {ca: \(postfix.caFile)}"), "\(file)")
        #expect(!file.contains(postfix.password))
        let replay = try await run(
            ["run", directory.appendingPathComponent("submission.yaml").path],
            environment: environment
        )
        #expect(replay.status == 0, "\(replay.stdout)\n\(file)\n\(postfix.logTail)")
        #expect(!replay.stdout.contains(postfix.password))
    }

    @Test func recordOnARealTerminalWithLineEditingAndHistory() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("record-terminal")
        let terminal = try await TerminalSession.start(
            "\"\(Paths.binary.path)\" record --server 127.0.0.1:\(postfix.closedPort) --out typed.yaml; "
                + "echo \"record exited $?\"; exec sleep 600",
            in: directory
        )
        defer { Task { await terminal.stop() } }
        try await terminal.waitFor("smtp>")
        #expect(try await terminal.screen().contains("220 mail.example.test ESMTP  (service ready)"))
        try await terminal.type("EHLO client.example")
        try await terminal.waitFor("250 CHUNKING  (requested action completed)")
        try await terminal.type("MAIL FROM:<sender@example.net>")
        try await terminal.waitFor("250 2.1.0 Ok")
        // Line editing: a typo rubbed out with Backspace before Enter.
        try await terminal.type("RCPT TO:<alice@example.cmo", enter: false)
        try await terminal.press("BSpace", "BSpace", "BSpace")
        try await terminal.type("com>")
        try await terminal.waitFor("250 2.1.5 Ok")
        try await terminal.type("NOOP")
        try await terminal.waitFor("250 2.0.0 Ok  (", count: 1)
        // History: Up brings back NOOP.
        try await terminal.press("Up", "Enter")
        try await terminal.waitFor("250 2.0.0 Ok  (", count: 2)
        // Ctrl-D (end of input) quits and writes, like :quit.
        try await terminal.press("C-d")
        let screen = try await terminal.waitFor("record exited 0")
        #expect(screen.contains("wrote typed.yaml (6 steps)"), "\(screen)")

        let file = try String(contentsOf: directory.appendingPathComponent("typed.yaml"), encoding: .utf8)
        #expect(file.contains("- send: RCPT TO:<alice@example.com>\n  expect: {code: 250, enhanced: 2.1.5}"), "\(file)")
        #expect(file.components(separatedBy: "- send: NOOP").count == 3, "\(file)")
        let replay = try await run(["run", directory.appendingPathComponent("typed.yaml").path])
        #expect(replay.status == 0, "\(replay.stdout)\n\(file)")
    }

    @Test func authOnATerminalAsksForThePasswordWithoutEcho() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("record-auth")
        let terminal = try await TerminalSession.start(
            "\"\(Paths.binary.path)\" record --server 127.0.0.1:\(postfix.submissionPort) --tls-ca \(postfix.caFile) "
                + "--out auth.yaml; echo \"record exited $?\"; exec sleep 600",
            in: directory
        )
        defer { Task { await terminal.stop() } }
        try await terminal.waitFor("smtp>")
        try await terminal.type(":starttls")
        try await terminal.waitFor("# TLS")
        try await terminal.type(":auth LOGIN \(postfix.user)")
        try await terminal.waitFor("Password for \(postfix.user) (not recorded):")
        try await terminal.type(postfix.password)
        try await terminal.waitFor("235 2.7.0 Authentication successful  (authentication succeeded")
        try await terminal.press("C-d")
        let screen = try await terminal.waitFor("record exited 0")
        #expect(!screen.contains(postfix.password), "\(screen)")
        let file = try String(contentsOf: directory.appendingPathComponent("auth.yaml"), encoding: .utf8)
        #expect(file.contains("mechanism: LOGIN") && file.contains("${env.SMTP_PASSWORD}"), "\(file)")
        #expect(!file.contains(postfix.password))
        let replay = try await run(
            ["run", directory.appendingPathComponent("auth.yaml").path],
            environment: ["SMTP_PASSWORD": postfix.password]
        )
        #expect(replay.status == 0, "\(replay.stdout)\n\(file)")
    }

    @Test func ctrlCOnATerminalLeavesNothingWritten() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("record-interrupt")
        // The shell survives the Ctrl-C (it traps it) to report how record ended and how it left the terminal.
        let terminal = try await TerminalSession.start(
            "trap true INT; \"\(Paths.binary.path)\" record --server 127.0.0.1:\(postfix.closedPort) --out never.yaml; "
                + "echo \"record exited $?\"; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\{0,1\\}echo'; echo 'terminal checked'; exec sleep 600",
            in: directory
        )
        defer { Task { await terminal.stop() } }
        try await terminal.waitFor("smtp>")
        try await terminal.type("EHLO client.example")
        try await terminal.waitFor("250 CHUNKING")
        try await terminal.type("MAIL FROM:<half@typed", enter: false)
        try await terminal.press("C-c")
        let screen = try await terminal.waitFor("terminal checked")
        #expect(screen.contains("record exited 130"), "\(screen)")
        #expect(screen.contains("interrupted: nothing was written"), "\(screen)")
        let lines = screen.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("echo") && !lines.contains("-echo"), "the terminal echoes again: \(screen)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func theSubmissionPackPassesWithTLSAndDovecotAuth() async throws {
        let postfix = try PostfixFixture.required()
        let result = try await run(
            [
                "run", "scenarios/submission", "--server", "127.0.0.1:\(postfix.submissionPort)", "--var",
                "user=\(postfix.user)",
            ],
            environment: ["SMTP_CA": postfix.caFile, "SMTP_PASSWORD": postfix.password]
        )
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("7 passed, 0 failed"))
        #expect(!result.stdout.contains(postfix.password))
    }

    @Test func withoutTheCAVerificationFailsClearly() async throws {
        let postfix = try PostfixFixture.required()
        let result = try await run(
            ["run", "scenarios/submission", "--server", "127.0.0.1:\(postfix.submissionPort)", "--tag", "none-such"],
            environment: ["SMTP_CA": ""]
        )
        #expect(result.status == 2, "no scenario has that tag")
        let verified = try await run(
            [
                "run", "scenarios/submission/submission.yaml", "--server", "127.0.0.1:\(postfix.submissionPort)",
                "--var", "user=alice",
            ],
            environment: ["SMTP_CA": ""]
        )
        #expect(verified.status == 1)
        #expect(verified.stdout.contains("TLS handshake failed: certificate verification failed"))
    }

    @Test func implicitTLSWithTheCAAndWithout() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("smtps")
        let scenario = directory.appendingPathComponent("smtps.yaml")
        try """
        name: implicit TLS (RFC 8314)
        tls: {ca: "${env.SMTP_CA:-}"}
        greeting:
          code: 220
          tls: {version: ">=1.2", certificate: {names: [mail.example.test], valid-for-at-least: 14d, issuer: /test CA/}}
        steps:
          - send: EHLO client.example.org
            expect: {code: 250, advertises: [AUTH PLAIN, AUTH LOGIN], lacks: [STARTTLS]}
          - auth: {mechanism: LOGIN, username: alice, password: "${env.SMTP_PASSWORD}"}
        """.write(to: scenario, atomically: true, encoding: .utf8)
        let server = "smtps://127.0.0.1:\(postfix.smtpsPort)"
        let trusted = try await run(
            ["run", scenario.path, "--server", server],
            environment: ["SMTP_CA": postfix.caFile, "SMTP_PASSWORD": postfix.password]
        )
        #expect(trusted.status == 0, "\(trusted.stdout)\n\(postfix.logTail)")
        let untrusted = try await run(
            ["run", scenario.path, "--server", server],
            environment: ["SMTP_PASSWORD": postfix.password]
        )
        #expect(untrusted.status == 1)
        #expect(untrusted.stdout.contains("certificate verification failed"))
    }

    @Test func authOutcomesFromDovecot() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("auth")
        let scenario = directory.appendingPathComponent("auth.yaml")
        try """
        suite: Postfix with Dovecot SASL
        tls: {ca: "${env.SMTP_CA}"}
        vars: {password: "${env.SMTP_PASSWORD}"}
        secrets: [password]
        scenarios:
          - name: MAIL before AUTH gets 530
            steps:
              - send: EHLO a
              - starttls: {}
              - send: EHLO a
              - send: MAIL FROM:<alice@example.com>
                expect: {code: 530, enhanced: 5.7.0, text: Authentication required}
          - name: PLAIN and LOGIN succeed, a wrong password gets 535 5.7.8
            matrix:
              mechanism: [PLAIN, LOGIN]
            steps:
              - send: EHLO a
              - starttls: {}
              - send: EHLO a
              - auth: {mechanism: "${mechanism}", username: alice, password: not-the-password}
                expect: {code: 535, enhanced: 5.7.8}
              - auth: {mechanism: "${mechanism}", username: alice, password: "${password}"}
                expect: {code: 235, enhanced: 2.7.0}
              - send: MAIL FROM:<alice@example.com>
                expect: 250
        """.write(to: scenario, atomically: true, encoding: .utf8)
        let result = try await run(
            ["run", scenario.path, "--server", "127.0.0.1:\(postfix.submissionPort)", "--verbose"],
            environment: ["SMTP_CA": postfix.caFile, "SMTP_PASSWORD": postfix.password]
        )
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("3 passed"))
        #expect(!result.stdout.contains(postfix.password))
    }

    @Test func aPipelinedEnvelopeChecksEachReplyInOrder() async throws {
        let postfix = try PostfixFixture.required()
        let directory = try Paths.temporaryDirectory("pipeline")
        let scenario = directory.appendingPathComponent("pipeline.yaml")
        try """
        name: pipelined envelope against Postfix
        steps:
          - send: EHLO client.example.org
            expect: {code: 250, advertises: [PIPELINING]}
          - pipeline:
              - send: MAIL FROM:<sender@example.org>
                expect: {code: 250, enhanced: 2.1.0}
              - send: RCPT TO:<alice@example.com>
                expect: {code: 250, enhanced: 2.1.5}
              - send: RCPT TO:<nobody@example.com>
                expect: {code: 550, enhanced: 5.1.1}
              - send: RCPT TO:<someone@relay-test.invalid>
                expect: {code: 554, enhanced: 5.7.1}
              - send: DATA
                expect: 354
          - data: "Subject: pipelined\\n\\nHello.\\n"
            expect: 250
        """.write(to: scenario, atomically: true, encoding: .utf8)
        let result = try await run(["run", scenario.path, "--server", "127.0.0.1:\(postfix.pipelinePort)", "--verbose"])
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("# pipelined 5 commands in one write"))
    }

    @Test func theSecurityPackPassesAgainstTheHardenedServer() async throws {
        let postfix = try PostfixFixture.required()
        let result = try await run(["run", "scenarios/security", "--server", "127.0.0.1:\(postfix.closedPort)"])
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("26 passed, 0 failed"))
    }

    @Test func theSecurityPackFailsWhereTheWeaknessIsReal() async throws {
        let postfix = try PostfixFixture.required()
        let result = try await run([
            "run", "scenarios/security", "--server", "127.0.0.1:\(postfix.weakPort)", "--exclude-tag", "relay",
        ])
        #expect(result.status == 1)
        let failed = result.stdout.split(separator: "\n").filter { $0.hasPrefix("  FAIL") }.map {
            String($0.dropFirst(8))
        }
        #expect(failed.count == 4, "\(failed)")
        #expect(failed.contains { $0.hasPrefix("SMTP smuggling is not possible [ending=<LF>.<LF>]") })
        #expect(failed.contains { $0.hasPrefix("SMTP smuggling is not possible [ending=<LF>.<CR><LF>]") })
        #expect(failed.contains { $0.hasPrefix("VRFY does not reveal that a mailbox is unknown") })
        #expect(failed.contains { $0.hasPrefix("The greeting does not disclose the software version") })
        let accepted = try await run([
            "run", "scenarios/security", "--server", "127.0.0.1:\(postfix.weakPort)", "--exclude-tag", "relay",
            "--exclude-tag", "disclosure",
        ])
        #expect(accepted.stdout.contains("3 failed"), "--exclude-tag disclosure leaves the banner check out")
    }

    @Test func relayCheckSaysClosedForTheClosedServer() async throws {
        let postfix = try PostfixFixture.required()
        let junit = try temporaryFile("relay-closed.xml")
        let result = try await run([
            "relay-check", "--server", "127.0.0.1:\(postfix.closedPort)", "--junit", junit.path,
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(postfix.logTail)")
        #expect(result.stdout.contains("not an open relay: 16/16 refused"))
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains(#"tests="16" failures="0" errors="0""#))
        #expect(xml.components(separatedBy: "<testcase ").count - 1 == 16)
        #expect(try await JUnitValidation.validate(junit).ok)
    }

    @Test func relayCheckSaysOpenForTheOpenRelayAndNamesEachForm() async throws {
        let postfix = try PostfixFixture.required()
        let junit = try temporaryFile("relay-open.xml")
        let result = try await run([
            "relay-check", "--server", "127.0.0.1:\(postfix.openRelayPort)", "--junit", junit.path,
        ])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stdout.contains("OPEN RELAY: 16/16 accepted"))
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains(#"tests="16" failures="16""#))
        for form in ["&lt;&gt; -&gt; &lt;T@D&gt;", "&lt;T%D@[IP]&gt;", "&lt;D!T@S&gt;", "&lt;@S:T@D&gt;"] {
            #expect(xml.contains("<testcase name=\"Relay attempt [form=\(form)]\""), "form \(form)")
        }
        #expect(xml.contains("got 250 2.1.5 Ok"))
        #expect(try await JUnitValidation.validate(junit).ok)
    }
}
