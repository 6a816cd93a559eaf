import Foundation
import MockServer
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

/// The v2 constructs run against the mock, over real sockets.
@Suite("Language v2 against the mock", .timeLimit(.minutes(1)))
struct LanguageV2RunTests {
    @Test func aGroupCallRunsItsBodyMarksItAndExportsItsCapture() async throws {
        let result = try await Harness.run(
            """
            groups:
              envelope:
                params: {from: sender@example.net, to: null}
                export: [rcpt_reply]
                steps:
                  - send: MAIL FROM:<${from}>
                  - send: RCPT TO:<${to}>
                    capture: {rcpt_reply: '/(.*)/'}
                      
            name: known user accepted
            steps:
              - send: EHLO client.example
              - call: envelope
                with: {to: alice@example.com}
              - send: NOOP ${rcpt_reply}
            """
        )
        let scenario = result.allResults[0]
        #expect(scenario.outcome == .passed, "\(scenario.transcript.rendered())")
        let transcript = scenario.transcript.rendered()
        #expect(transcript.contains("# call envelope (defined at test.yaml:2:3)"))
        #expect(transcript.contains("# end of envelope"))
        #expect(transcript.contains("C: NOOP 2.1.5 Ok"))
        #expect(scenario.steps.map(\.path.description) == ["1", "2 call envelope > 1", "2 call envelope > 2", "3"])
        #expect(scenario.lastStep(sending: "RCPT")?.reply?.code == 250)
    }

    @Test func aFailureInsideAGroupNamesTheCallChain() async throws {
        let result = try await Harness.run(
            """
            groups:
              rcpt:
                params: {to: null}
                steps:
                  - send: RCPT TO:<${to}>
                    expect: 250
            name: x
            steps:
              - send: EHLO a
              - send: MAIL FROM:<a@example.net>
              - call: rcpt
                with: {to: nobody@example.com}
            """
        )
        let failure = try #require(result.allResults[0].outcome.failure)
        #expect(failure.path.description == "3 call rcpt > 1")
        #expect(failure.callSites == [CallSite(group: "rcpt", location: .init(file: "test.yaml", line: 11, column: 5))])
        #expect(failure.stepDescription == "test.yaml:11:5 call rcpt > test.yaml:5:9 \"RCPT TO:<nobody@example.com>\"")
        #expect(failure.message.contains("expected 250 (requested action completed), got 550 5.1.1"))
        #expect(failure.mismatch?.expectedCodes == ["250"])
        #expect(failure.mismatch?.actualReply?.code == 550)
        #expect(failure.mismatch?.actualReply?.enhanced == "5.1.1")
        #expect(failure.mismatch?.failedCheck == "code")
    }

    @Test func repeatPastTheRecipientLimitGets452AndAFailureNamesTheIteration() async throws {
        var policy = MockPolicy()
        policy.maxRecipients = 5
        policy.mailboxes = nil
        try await Harness.withMock(policy) { mock in
            let passing = try await Harness.run(
                """
                name: limit
                steps:
                  - send: EHLO a
                  - send: MAIL FROM:<a@example.net>
                  - repeat: 5
                    index: i
                    steps:
                      - send: RCPT TO:<user${i}@example.com>
                        expect: "2xx"
                  - send: RCPT TO:<one-too-many@example.com>
                    expect: {code: 452, enhanced: 4.5.3}
                """,
                endpoint: Harness.endpoint(of: mock)
            )
            #expect(passing.allResults[0].outcome == .passed, "\(passing.allResults[0].transcript.rendered())")
            #expect(passing.allResults[0].transcript.rendered().contains("C: RCPT TO:<user4@example.com>"))
            let failing = try await Harness.run(
                "name: limit\nsteps:\n  - send: EHLO a\n  - send: MAIL FROM:<a@example.net>\n  - repeat: 8\n    index: i\n    steps:\n      - send: RCPT TO:<user${i}@example.com>\n        expect: 2xx\n",
                endpoint: Harness.endpoint(of: mock)
            )
            let failure = try #require(failing.allResults[0].outcome.failure)
            #expect(failure.stepDescription == "step 3 repeat i=5 > 1 \"RCPT TO:<user5@example.com>\"")
        }
    }

    @Test func retryPassesOnItsSecondAttemptAgainstGreylisting() async throws {
        var policy = MockPolicy()
        policy.greylisting = .init(delay: .milliseconds(300))
        try await Harness.withMock(policy) { mock in
            let result = try await Harness.run(
                """
                name: greylisted
                steps:
                  - retry: {attempts: 4, interval: 400ms, on: "4xx"}
                    steps:
                      - reconnect: true
                      - send: EHLO client.example
                      - send: MAIL FROM:<a@example.net>
                      - send: RCPT TO:<alice@example.com>
                        expect: 250
                """,
                endpoint: Harness.endpoint(of: mock)
            )
            let scenario = result.allResults[0]
            #expect(scenario.outcome == .passed, "\(scenario.transcript.rendered())")
            #expect(scenario.retriedAttempts == 2)
            let transcript = scenario.transcript.rendered()
            #expect(transcript.contains("# attempt 1 of 4"))
            #expect(transcript.contains("S: 450 4.7.1"))
            #expect(transcript.contains("# passed after 2 attempts"))
        }
    }

    /// A run whose reports read no step records (the console alone) keeps only the `retry`'s, whose attempts every
    /// report shows; a run with a report that reads them (JSON, or a collector) keeps every step's.
    @Test func stepRecordsAreBuiltOnlyWhenAReportReadsThem() async throws {
        var policy = MockPolicy()
        policy.greylisting = .init(delay: .milliseconds(300))
        try await Harness.withMock(policy) { mock in
            let plan = Plan(files: [
                try Harness.compile(
                    """
                    name: greylisted
                    steps:
                      - send: EHLO client.example
                      - retry: {attempts: 4, interval: 400ms, on: "4xx"}
                        steps:
                          - send: RSET
                          - send: MAIL FROM:<a@example.net>
                          - send: RCPT TO:<alice@example.com>
                            expect: 250
                      - send: QUIT
                        expect: 221
                    """
                )
            ])
            var options = RunOptions()
            options.jobs = 1
            let resolver = FixedResolver(Harness.endpoint(of: mock))
            let outcomesOnly = OutcomeOnlyReporter()
            await PlanRunner.run(plan, options: options, resolver: resolver, reporter: outcomesOnly)
            let lean = try #require(await outcomesOnly.results.first)
            #expect(lean.outcome == .passed, "\(lean.transcript.rendered())")
            #expect(lean.steps.count == 1, "\(lean.steps.map(\.label))")
            #expect(lean.steps.first?.attempts == 2)
            #expect(lean.retriedAttempts == 2)
            #expect(lean.transcript.rendered().contains("C: RCPT TO:<alice@example.com>"), "the transcript is whole")

            let whole = try #require(
                await PlanRunner.collect(plan, options: options, resolver: resolver).allResults.first
            )
            #expect(whole.outcome == .passed)
            let ehlo = try #require(whole.steps.first)
            #expect(ehlo.verb == "EHLO")
            #expect(ehlo.sent == "EHLO client.example")
            #expect(ehlo.reply?.code == 250)
            #expect(whole.steps.last?.verb == "QUIT")
            #expect(whole.steps.count == 6, "EHLO, RSET, MAIL, RCPT, the retry, QUIT: \(whole.steps.map(\.label))")
        }
    }

    /// Keeps results but reads no step records, as the console report does.
    private actor OutcomeOnlyReporter: Reporter {
        var results: [ScenarioResult] = []
        func scenarioFinished(_ result: ScenarioResult) async { results.append(result) }
        func runFinished(_ summary: RunSummary) async {}
    }

    @Test func retryFailsAtOnceOnAFailureItDoesNotName() async throws {
        let result = try await Harness.run(
            "name: x\nsteps:\n  - send: EHLO a\n  - send: MAIL FROM:<a@example.net>\n  - send: RCPT TO:<nobody@example.com>\n    expect: 250\n    retry: {attempts: 5, interval: 10s}\n"
        )
        let failure = try #require(result.allResults[0].outcome.failure)
        #expect(failure.attempts == nil, "a 550 is not retried on 4xx")
        #expect(failure.path.description == "3 retry > 1")
        #expect(!result.allResults[0].transcript.rendered().contains("attempt 2"))
    }

    @Test func retryUsesUpItsAttemptsAndSaysSo() async throws {
        var policy = MockPolicy()
        policy.greylisting = .init(delay: .seconds(3600))
        try await Harness.withMock(policy) { mock in
            let result = try await Harness.run(
                "name: x\nsteps:\n  - send: EHLO a\n  - send: MAIL FROM:<a@example.net>\n  - send: RCPT TO:<alice@example.com>\n    expect: 250\n    retry: {attempts: 3, interval: 10ms}\n",
                endpoint: Harness.endpoint(of: mock)
            )
            let failure = try #require(result.allResults[0].outcome.failure)
            #expect(failure.attempts == 3)
            #expect(failure.message.hasSuffix("(after 3 attempts)"))
        }
    }

    @Test func xfailStrictByDefault() async throws {
        let result = try await Harness.run(
            """
            suite: x
            scenarios:
              - name: fails as expected
                xfail: {reason: known bug 123, match: /user unknown/i}
                steps:
                  - send: EHLO a
                  - send: MAIL FROM:<a@example.net>
                  - send: RCPT TO:<nobody@example.com>
                    expect: 250
              - name: fails otherwise
                xfail: {reason: known bug 124, match: /smuggl/i}
                steps:
                  - send: NOOP
                    expect: 500
              - name: passes although marked
                xfail: known bug 125
                steps: []
              - name: passes, not strict
                xfail: {reason: known bug 126, strict: false}
                steps: []
              - name: a deliberate failure
                xfail: self-test
                steps:
                  - fail: the suite must report this
            """
        )
        let outcomes = result.allResults.map(\.outcome.category)
        #expect(outcomes == [.xfailed, .failed, .xpassed, .passed, .xfailed])
        #expect(result.exitCode == 1, "XPASS and the unmatched failure fail the run")
        if case .expectedFailure(let reason, let failure) = result.allResults[0].outcome {
            #expect(reason == "known bug 123")
            #expect(failure.actual.contains("550 5.1.1"))
        } else {
            Issue.record("not XFAIL")
        }
        if case .expectedFailure(_, let failure) = result.allResults[4].outcome {
            #expect(failure.kind == .deliberate)
            #expect(failure.actual == "fail: the suite must report this")
        }
    }

    @Test func anErrorIsNotAnExpectedFailureUnlessMatchCoversIt() async throws {
        let yaml = """
            suite: x
            scenarios:
              - name: refused
                xfail: not matched
                steps: []
              - name: refused but covered
                xfail: {reason: covered, match: /refused/}
                steps: []
            """
        let result = try await Harness.run(yaml, server: .remote(host: "127.0.0.1", port: 1, implicitTLS: false))
        #expect(result.allResults.map(\.outcome.category) == [.error, .xfailed])
    }

    @Test func connectFalseConnectAndDisconnect() async throws {
        let result = try await Harness.run(
            """
            name: by hand
            connect: false
            steps:
              - wait: 10ms
              - connect: {}
                expect: {code: 220, text: ESMTP}
              - send: EHLO a
              - disconnect: true
              - connect: {}
              - send: NOOP
            """
        )
        let scenario = result.allResults[0]
        #expect(scenario.outcome == .passed, "\(scenario.transcript.rendered())")
        let transcript = scenario.transcript.rendered()
        #expect(transcript.contains("# no connection yet (connect: false)"))
        #expect(transcript.contains("# disconnected without QUIT"))
        #expect(transcript.components(separatedBy: "C: QUIT").count == 2, "one QUIT, at the end, none at disconnect")
    }

    @Test func namedServersAndTheirOverrides() async throws {
        try await Harness.withMock { mx in
            try await Harness.withMock(MockPolicy.openRelay) { submission in
                let yaml = """
                    suite: s
                    servers: {mx: "127.0.0.1:1", submission: "127.0.0.1:\(submission.port)"}
                    scenarios:
                      - name: relay refused on mx
                        server: mx
                        steps:
                          - send: EHLO a
                          - send: MAIL FROM:<a@example.net>
                          - send: RCPT TO:<x@elsewhere.example>
                            expect: 554
                      - name: both in one scenario
                        server: submission
                        steps:
                          - send: EHLO a
                          - disconnect: true
                          - connect: {server: mx}
                          - send: EHLO b
                    """
                let file = try Harness.compile(yaml)
                var options = RunOptions()
                options.namedServers = ["mx": .remote(host: "127.0.0.1", port: mx.port, implicitTLS: false)]
                let result = await PlanRunner.collect(
                    Plan(files: [file]),
                    options: options,
                    resolver: NetworkServerResolver()
                )
                #expect(result.allResults.map(\.outcome) == [.passed, .passed])
                let transcript = result.allResults[1].transcript.rendered()
                #expect(transcript.contains("connected to 127.0.0.1:\(submission.port)"))
                #expect(transcript.contains("connected to 127.0.0.1:\(mx.port) (127.0.0.1:\(mx.port))"))
            }
        }
    }

    @Test func anUnadvertisedPipelineIsRefusedByTheMocksDefence() async throws {
        var policy = MockPolicy()
        policy.hide = ["PIPELINING"]
        policy.improperPipelining = .reject
        try await Harness.withMock(policy) { mock in
            let result = try await Harness.run(
                """
                name: improper pipelining
                steps:
                  - send: EHLO a
                    expect: {code: 250, lacks: [PIPELINING]}
                  - pipeline:
                      unadvertised: true
                      steps:
                        - send: MAIL FROM:<a@example.net>
                          expect: {code: 500, text: Pipelining not supported}
                        - send: RCPT TO:<alice@example.com>
                          expect: closed
                """,
                endpoint: Harness.endpoint(of: mock)
            )
            #expect(result.allResults[0].outcome == .passed, "\(result.allResults[0].transcript.rendered())")
            let plain = try await Harness.run(
                "name: x\nsteps:\n  - send: EHLO a\n  - pipeline: [{send: NOOP}]\n",
                endpoint: Harness.endpoint(of: mock)
            )
            #expect(plain.allResults[0].outcome.failure?.expected == "a server that advertised PIPELINING")
        }
    }

    @Test func singleLineFailsOnAMultiLineReplyAndAnyTakesAnyReply() async throws {
        let result = try await Harness.run(
            """
            suite: x
            scenarios:
              - name: any
                steps:
                  - {send: FOO, expect: any}
                  - {send: NOOP, expect: {code: 250, single-line: true}}
              - name: multi
                steps:
                  - {send: EHLO a, expect: {code: 250, single-line: true}}
            """
        )
        #expect(result.allResults[0].outcome == .passed)
        let failure = try #require(result.allResults[1].outcome.failure)
        #expect(failure.mismatch?.failedCheck == "single-line")
        #expect(failure.actual.contains("(expected a single line)"))
    }
}
