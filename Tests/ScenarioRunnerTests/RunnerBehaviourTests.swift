import Foundation
import LocatedYAML
import NIOConcurrencyHelpers
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

@Suite("Runner: concurrency, order, interruption, secrets", .timeLimit(.minutes(1)))
struct RunnerBehaviourTests {
    @Test func resultsArriveInFileOrderWhateverTheFinishingOrder() async throws {
        let server = try await ScriptedServer.start(
            greeting { connection in
                while let line = await connection.readLine() {
                    if line.hasPrefix("SLOW") {
                        let ms = Int(line.dropFirst(5)) ?? 0
                        try? await Task.sleep(for: .milliseconds(ms))
                    }
                    await connection.send(line == "QUIT" ? "221 bye\r\n" : "250 ok\r\n")
                }
            }
        )
        defer { Task { await server.stop() } }
        let yaml =
            "suite: s\nscenarios:\n"
            + [400, 10, 250, 0, 100].enumerated().map { index, ms in
                "  - name: s\(index)\n    steps:\n      - send: SLOW \(ms)\n"
            }.joined()
        let order = NIOLockedValueBox<[String]>([])
        let file = try Harness.compile(yaml)
        var options = RunOptions()
        options.jobs = 5
        let result = await Harness.run(
            Plan(files: [file]),
            options: options,
            resolver: FixedResolver(endpoint(server))
        ) { result in
            order.withLockedValue { $0.append(result.identity.name) }
        }
        #expect(order.withLockedValue { $0 } == ["s0", "s1", "s2", "s3", "s4"])
        #expect(result.allResults.map(\.identity.name) == ["s0", "s1", "s2", "s3", "s4"])
        #expect(result.allResults.allSatisfy { $0.outcome.isPassed })
    }

    @Test func cancellingTheRunReportsUnfinishedScenariosAsInterrupted() async throws {
        let yaml = """
            suite: s
            scenarios:
              - name: quick
                steps: []
              - name: slow
                steps:
                  - wait: 30s
              - name: never started
                steps: []
            """
        let file = try Harness.compile(yaml)
        try await Harness.withMock { mock in
            var options = RunOptions()
            options.jobs = 1
            let started = NIOLockedValueBox(false)
            let task = Task {
                await Harness.run(
                    Plan(files: [file]),
                    options: options,
                    resolver: FixedResolver(Harness.endpoint(of: mock))
                ) { result in
                    if result.identity.name == "quick" { started.withLockedValue { $0 = true } }
                }
            }
            // Cancel once the first scenario has reported: the slow one is running or about to.
            while !started.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            task.cancel()
            let result = await task.value
            #expect(result.interrupted)
            #expect(result.allResults.map(\.identity.name) == ["quick", "slow", "never started"])
            #expect(result.allResults[0].outcome == .passed)
            for unfinished in result.allResults.dropFirst() {
                let failure = try #require(
                    unfinished.outcome.failure,
                    "\(unfinished.identity.name) should be interrupted"
                )
                #expect(failure.kind == .interrupted)
            }
        }
    }

    @Test func secretsNeverReachTranscriptsOrMessages() async throws {
        let secret = "s3cr3t-Pa55"
        var options = CompileOptions()
        options.secrets = ["pass": secret]
        var policy = MockPolicyFactory.default
        policy.authRequiresTLS = false
        policy.users = ["demo": .init(password: secret)]
        try await Harness.withMock(policy) { mock in
            let result = try await Harness.run(
                """
                name: auth
                steps:
                  - send: EHLO a
                  - auth: {mechanism: PLAIN, username: demo, password: "${pass}"}
                  - auth: {mechanism: LOGIN, username: demo, password: "${pass}"}
                    expect: 503
                  - send: NOOP ${pass}
                    expect: 999
                """.replacingOccurrences(of: "999", with: "251"),
                endpoint: Harness.endpoint(of: mock),
                options: options
            )
            let scenario = try #require(result.allResults.first)
            let transcript = scenario.transcript.rendered()
            #expect(transcript.contains("C: AUTH PLAIN ***"))
            #expect(transcript.contains("C: NOOP ***"))
            #expect(!transcript.contains(secret))
            let plainBlob = Data("\0demo\0\(secret)".utf8).base64EncodedString()
            #expect(!transcript.contains(plainBlob))
            let failure = try #require(scenario.outcome.failure, "the NOOP step expects 251 and must fail")
            #expect(failure.stepLabel == "NOOP ***")
            #expect(!failure.message.contains(secret))
        }
    }
}
