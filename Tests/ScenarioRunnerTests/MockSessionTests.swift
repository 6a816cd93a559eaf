import Foundation
import LocatedYAML
import MockServer
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

enum MockPolicyFactory {
    static var `default`: MockPolicy { MockPolicy() }
}

@Suite("Runner against the mock: TLS, AUTH, PIPELINING, greylisting", .timeLimit(.minutes(1)))
struct MockSessionTests {
    private func run(
        _ yaml: String,
        policy: MockPolicy = MockPolicy(),
        implicitTLS: Bool = false
    ) async throws -> ScenarioResult {
        try await Harness.withMock(policy, implicitTLS: implicitTLS) { mock in
            let result = try await Harness.run(yaml, endpoint: Harness.endpoint(of: mock, implicitTLS: implicitTLS))
            return try #require(result.allResults.first)
        }
    }

    @Test(arguments: ["PLAIN", "LOGIN", "CRAM-MD5"])
    func passwordMechanisms(_ mechanism: String) async throws {
        let good = try await run(
            """
            name: auth
            steps:
              - send: EHLO a
              - starttls: {}
              - send: EHLO a
                expect: {code: 250, advertises: ["AUTH \(mechanism)"]}
              - auth: {mechanism: \(mechanism), username: demo, password: demo-password}
                expect: {code: 235, enhanced: 2.7.0}
            """
        )
        #expect(good.outcome == .passed, "\(good.transcript.rendered())")
        let bad = try await run(
            """
            name: auth
            steps:
              - send: EHLO a
              - starttls: {}
              - send: EHLO a
              - auth: {mechanism: \(mechanism), username: demo, password: wrong}
                expect: {code: 535, enhanced: 5.7.8}
            """
        )
        #expect(bad.outcome == .passed, "\(bad.transcript.rendered())")
    }

    @Test func xoauth2SuccessAndTheErrorChallenge() async throws {
        let good = try await run(
            """
            name: x
            steps:
              - send: EHLO a
              - starttls: {}
              - send: EHLO a
              - auth: {mechanism: XOAUTH2, username: demo, token: demo-token}
            """
        )
        #expect(good.outcome == .passed)
        let bad = try await run(
            """
            name: x
            steps:
              - send: EHLO a
              - starttls: {}
              - send: EHLO a
              - auth: {mechanism: XOAUTH2, username: demo, token: expired}
                expect: 535
            """
        )
        #expect(bad.outcome == .passed, "\(bad.transcript.rendered())")
        let transcript = bad.transcript.rendered()
        #expect(transcript.contains("S: 334 eyJzdGF0dXMiOiI0MDEi"), "the base64 JSON error challenge")
        #expect(transcript.contains("C: (empty line acknowledging the XOAUTH2 error)"))
    }

    @Test func authBeforeTLSIsRefusedWith538() async throws {
        let result = try await run(
            "name: x\nsteps:\n  - send: EHLO a\n  - auth: {mechanism: PLAIN, username: demo, password: demo-password}\n    expect: {code: 538, enhanced: 5.7.11}\n"
        )
        #expect(result.outcome == .passed)
    }

    @Test func tlsFactsAreAssertedAndRecorded() async throws {
        let result = try await run(
            """
            name: x
            steps:
              - send: EHLO a
              - starttls: {}
                expect:
                  tls:
                    version: ">=1.2"
                    certificate: {names: [mx.example.test, localhost], valid-for-at-least: 14d, issuer: /smtp-scenario mock/}
            """
        )
        #expect(result.outcome == .passed)
        let transcript = result.transcript.rendered()
        #expect(transcript.contains("# TLS established: version 1.3"))
        #expect(transcript.contains("certificate names mx.example.test, localhost, 127.0.0.1, ::1"))
        let tooLong = try await run(
            "name: x\nsteps:\n  - send: EHLO a\n  - starttls: {}\n    expect: {tls: {certificate: {valid-for-at-least: 60d}}}\n"
        )
        let failure = try #require(tooLong.outcome.failure, "a 30-day certificate is not valid for 60 days")
        #expect(failure.kind == .tls)
        #expect(failure.actual.contains("expires"))
        let wrongName = try await run(
            "name: x\nsteps:\n  - send: EHLO a\n  - starttls: {}\n    expect: {tls: {certificate: {names: [mail.other.test]}}}\n"
        )
        let nameFailure = try #require(wrongName.outcome.failure, "the certificate does not cover mail.other.test")
        #expect(nameFailure.actual.contains("does not cover mail.other.test"))
    }

    @Test func aHandshakeThatMustFailPassesWhenTheServerRefusesOldTLS() async throws {
        let result = try await run(
            """
            name: x
            tls: {max-version: "1.0"}
            steps:
              - send: EHLO a
              - starttls: {}
                expect: {tls: {handshake: failed}}
            """
        )
        #expect(result.outcome == .passed, "\(result.transcript.rendered())")
        let modern = try await run(
            "name: x\nsteps:\n  - send: EHLO a\n  - starttls: {}\n    expect: {tls: {handshake: failed}}\n"
        )
        let failure = try #require(modern.outcome.failure, "TLS 1.3 succeeds, so a must-fail expectation fails")
        #expect(failure.actual.hasPrefix("it succeeded with TLS 1.3"))
    }

    @Test func implicitTLSStartsBeforeTheGreeting() async throws {
        let result = try await run(
            "name: x\ngreeting: {code: 220, tls: {version: \"1.3\"}}\nsteps:\n  - send: EHLO a\n    expect: {code: 250, lacks: [STARTTLS]}\n",
            implicitTLS: true
        )
        #expect(result.outcome == .passed, "\(result.transcript.rendered())")
    }

    @Test func aPinThatDoesNotMatchIsACertificateError() async throws {
        let result = try await run(
            """
            name: x
            tls: {pin-sha256: "0000000000000000000000000000000000000000000000000000000000000000"}
            steps:
              - send: EHLO a
              - starttls: {}
            """
        )
        let failure = try #require(result.outcome.failure, "a wrong pin must fail")
        #expect(failure.actual.contains("certificate verification failed"))
    }

    @Test func pipelinedRepliesAreCheckedInOrder() async throws {
        let result = try await run(
            """
            name: x
            steps:
              - send: EHLO a
              - pipeline:
                  - send: MAIL FROM:<a@example.org>
                    expect: 250
                  - send: RCPT TO:<alice@example.com>
                    expect: 250
                  - send: RCPT TO:<nobody@example.com>
                    expect: {code: 550, enhanced: 5.1.1}
                  - send: RCPT TO:<x@foreign.example>
                    expect: {code: 554, enhanced: 5.7.1}
                  - send: DATA
                    expect: 354
              - data: "Subject: p\\n\\nbody\\n"
            """
        )
        #expect(result.outcome == .passed, "\(result.transcript.rendered())")
        #expect(result.transcript.rendered().contains("# pipelined 5 commands in one write"))
    }

    @Test func aPipelineNeedsPipeliningAdvertised() async throws {
        var policy = MockPolicy()
        policy.hide = ["PIPELINING"]
        let result = try await run(
            "name: x\nsteps:\n  - send: EHLO a\n  - pipeline:\n      - send: NOOP\n",
            policy: policy
        )
        let failure = try #require(result.outcome.failure, "expected a failure")
        #expect(failure.actual.contains("does not advertise PIPELINING"))
        let noEHLO = try await run("name: x\nsteps:\n  - pipeline:\n      - send: NOOP\n")
        let missing = try #require(noEHLO.outcome.failure, "expected a failure")
        #expect(missing.actual.contains("send EHLO first"))
    }

    @Test func allRecipientsRefusedButDataAcceptedGetsALoneDot() async throws {
        let (result, server) = try await runScripted(
            """
            name: x
            steps:
              - send: EHLO a
              - pipeline:
                  - send: MAIL FROM:<a@b>
                  - send: RCPT TO:<c@d>
                    expect: 550
                  - send: DATA
                    expect: 354
            """,
            greeting { connection in
                while let line = await connection.readLine() {
                    switch line {
                    case let l where l.hasPrefix("EHLO"): await connection.send("250-scripted\r\n250 PIPELINING\r\n")
                    case let l where l.hasPrefix("RCPT"): await connection.send("550 5.1.1 no\r\n")
                    case "DATA": await connection.send("354 go ahead anyway\r\n")
                    case ".": await connection.send("554 5.5.1 Error: no valid recipients\r\n")
                    case "QUIT": await connection.send("221 bye\r\n")
                    default: await connection.send("250 ok\r\n")
                    }
                }
            }
        )
        #expect(result.allResults[0].outcome == .passed)
        #expect(
            server.accepted.first?.receivedLines == ["EHLO a", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", ".", "QUIT"]
        )
    }

    /// One deadline callback watches a connection's reads in turn: a read may outlast the deadline of the read
    /// before it (here the greeting's), and a read with a shorter timeout than the one before still ends on its
    /// own. Against the mock, whose delays run on its event loop: a scripted server's replies, on the test
    /// process's task pool, could come late under a loaded test run.
    @Test func eachReadKeepsItsOwnDeadline() async throws {
        var slowNoop = MockPolicy()
        slowNoop.faults = [.delay(stage: .noop, duration: .seconds(6))]
        let outlasting = try await run(
            "name: s\ntimeout: 4s\nsteps:\n  - {send: NOOP, timeout: 60s, expect: 250}\n",
            policy: slowNoop
        )
        #expect(outlasting.outcome == .passed, "\(outlasting.transcript.rendered())")

        let started = ContinuousClock.now
        let shorter = try await run(
            "name: t\nsteps:\n  - {send: EHLO a, timeout: 60s, expect: 250}\n"
                + "  - {send: NOOP, timeout: 1s, expect: 250}\n",
            policy: slowNoop
        )
        let failure = try #require(shorter.outcome.failure)
        #expect(failure.kind == .timeout)
        #expect(failure.stepNumber == "2")
        #expect(failure.actual.hasPrefix("no complete reply within 1s"), "\(failure.actual)")
        #expect(ContinuousClock.now - started < .seconds(40), "the 1 s deadline, not the 60 s one, ended it")
    }

    @Test func greylistingRetryWithReconnectAndWait() async throws {
        var policy = MockPolicy()
        policy.greylisting = .init(delay: .milliseconds(600))
        let result = try await run(
            """
            name: greylisted then accepted
            steps:
              - send: EHLO a
              - send: MAIL FROM:<s@example.org>
              - send: RCPT TO:<alice@example.com>
                expect: {code: 450, enhanced: 4.7.1, text: greylisted}
              - send: QUIT
                expect: 221
              - wait: 800ms
              - reconnect: true
              - send: EHLO a
              - send: MAIL FROM:<s@example.org>
              - send: RCPT TO:<alice@example.com>
                expect: 250
            """,
            policy: policy
        )
        #expect(result.outcome == .passed, "\(result.transcript.rendered())")
    }

    /// A capture can hold a line break (here the EHLO reply's line end). Filled into a `send`, it made two commands:
    /// the server answered both, and every later reply was read as the next step's. The step now fails with nothing
    /// sent, and the label, the capture note and the message show the break escaped, on one line.
    @Test(arguments: [false, true])
    func aLineBreakFilledIntoASendFailsTheStepAndSendsNothing(_ pipelined: Bool) async throws {
        let commands =
            pipelined
            ? "  - pipeline:\n      - send: RSET\n      - send: \"MAIL FROM:<${ext}>\"\n"
            : "  - send: \"MAIL FROM:<${ext}>\"\n"
        let result = try await run(
            "name: x\nsteps:\n  - send: EHLO a\n    capture: {ext: '/mx\\.example\\.test(\\s+PIPELINING)/'}\n"
                + commands
        )
        guard case .failed(let failure) = result.outcome else {
            Issue.record("expected a failure: \(result.outcome)")
            return
        }
        #expect(failure.kind == .setup)
        #expect(failure.stepLabel == "MAIL FROM:<\\x0aPIPELINING>")
        #expect(failure.expected == "one command line")
        #expect(
            failure.actual
                == "a line break once ${ext} is filled in, so nothing was sent: MAIL FROM:<\\x0aPIPELINING>"
        )
        let transcript = result.transcript.rendered()
        #expect(transcript.contains("# captured ext = \\x0aPIPELINING\n"), "\(transcript)")
        #expect(!transcript.contains("C: MAIL"), "\(transcript)")
        #expect(!transcript.contains("C: RSET"), "a pipeline with a bad line sends none: \(transcript)")
        // The session stayed in step: QUIT got its own reply.
        #expect(result.transcript.entries.suffix(2).map(\.text) == ["QUIT", "221 2.0.0 Bye"], "\(transcript)")
        #expect(result.transcript.entries.allSatisfy { !$0.text.contains("\n") })
        guard !pipelined else { return }
        // A `fail:` message quoting the capture stays on one line too.
        let failed = try await run(
            "name: y\nsteps:\n  - send: EHLO a\n    capture: {ext: '/mx\\.example\\.test(\\s+PIPELINING)/'}\n"
                + "  - fail: \"saw ${ext}\"\n"
        )
        guard case .failed(let deliberate) = failed.outcome else {
            Issue.record("expected a failure: \(failed.outcome)")
            return
        }
        #expect(deliberate.actual == "fail: saw \\x0aPIPELINING")
        #expect(deliberate.stepLabel == "fail: saw \\x0aPIPELINING")
        #expect(failed.transcript.entries.allSatisfy { !$0.text.contains("\n") })
    }
}
