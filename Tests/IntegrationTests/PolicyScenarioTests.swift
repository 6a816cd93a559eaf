import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

/// Scenario files in Tests/Fixtures drive each mock policy and fault, and the security pack is shown failing
/// against mock modes that have the weakness on purpose (a check that cannot fail proves nothing).
@Suite("Mock policies and the security pack's failures", .timeLimit(.minutes(2)))
struct PolicyScenarioTests {
    @Test func everyPolicyAndFaultScenarioPasses() async throws {
        let result = try await ProcessRunner.smtpScenario([
            "run", "Tests/Fixtures/policy-scenarios", "--color", "never",
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("8 passed, 0 failed"))
    }

    /// Runs the security pack (without the relay forms) against a mock policy; returns the failed scenario names.
    private func failures(against policy: String) async throws -> [String] {
        let result = try await ProcessRunner.smtpScenario([
            "run", "scenarios/security", "--server", "mock:Tests/Fixtures/policies/\(policy).yaml", "--exclude-tag",
            "relay",
            "--color", "never",
        ])
        return result.stdout.split(separator: "\n").filter { $0.hasPrefix("  FAIL") }.map {
            String($0.dropFirst(8).prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func starttlsInjectionFailsAgainstAnInjectableServer() async throws {
        #expect(try await failures(against: "injectable") == ["Commands injected before TLS are not executed"])
    }

    @Test func smugglingFailsAgainstAServerThatAcceptsBareLineFeeds() async throws {
        #expect(
            try await failures(against: "smuggling-prone") == [
                "SMTP smuggling is not possible [ending=<LF>.<LF>]",
                "SMTP smuggling is not possible [ending=<LF>.<CR><LF>]",
            ]
        )
    }

    @Test func enumerationAndDisclosureFailAgainstALeakyServer() async throws {
        #expect(
            try await failures(against: "leaky") == [
                "The greeting does not disclose the software version", "VRFY does not confirm a known mailbox",
                "VRFY does not reveal that a mailbox is unknown", "EXPN does not expand a mailbox",
            ]
        )
    }

    @Test func authBeforeTLSFailsWhenAuthIsOfferedInClear() async throws {
        let failed = try await failures(against: "auth-in-clear")
        #expect(failed.contains("AUTH is not offered before TLS on the submission port"))
    }

    @Test func theRelayPackFailsAgainstAnOpenRelay() async throws {
        let result = try await ProcessRunner.smtpScenario([
            "run", "scenarios/security/open-relay.yaml", "--server", "mock:Tests/Fixtures/policies/open-relay.yaml",
            "--color", "never",
        ])
        #expect(result.status == 1)
        #expect(
            result.stdout.contains("2 passed, 14 failed"),
            "the two malformed forms get 501 even from an open relay"
        )
    }
}
