import Foundation
import MockServer
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

/// `mx:` targets resolved through a real DNS server (dnsmasq on 127.0.0.1, authoritative for `test`, no
/// upstream) and connected to a mock on 127.0.0.1. 127.0.0.2 stands for a dead mail exchanger: nothing listens
/// there, so connecting to it is refused at once.
@Suite("MX targets against a real DNS server", .timeLimit(.minutes(3)))
struct MXTargetTests {
    static let records: [DNSFixture.Record] = [
        .mx("order.test", host: "second.mx.test", preference: 20),
        .mx("order.test", host: "first.mx.test", preference: 10),
        .address("first.mx.test", "127.0.0.1"),
        .address("second.mx.test", "127.0.0.1"),
        .mx("equal.test", host: "p.mx.test", preference: 10),
        .mx("equal.test", host: "q.mx.test", preference: 10),
        .address("p.mx.test", "127.0.0.1"),
        .address("q.mx.test", "127.0.0.1"),
        .mx("dead.test", host: "dead.mx.test", preference: 5),
        .mx("dead.test", host: "live.mx.test", preference: 50),
        .address("dead.mx.test", "127.0.0.2"),
        .address("live.mx.test", "127.0.0.1"),
        .address("nomx.test", "127.0.0.1"),
        .nullMX("null.test"),
        .mx("noaddress.test", host: "ghost.mx.test", preference: 10),
    ]

    /// A scenario that sends `EHLO ${server.host}`, so the transcript shows which host `${server.host}` is.
    static let scenario = """
        name: which host
        steps:
          - send: EHLO ${server.host}
            expect: 250
        """

    private func run(_ domain: String, dns: DNSFixture, mock: MockServer) async throws -> ScenarioResult {
        let file = try Harness.compile(Self.scenario)
        var options = RunOptions()
        options.serverOverride = .mx(domain: domain, port: mock.port)
        let resolver = NetworkServerResolver(dnsServer: DNSServer(dns.address))
        let result = await PlanRunner.collect(Plan(files: [file]), options: options, resolver: resolver)
        return try #require(result.allResults.first)
    }

    @Test func theLowestPreferenceIsTriedFirstAndNamedInTheTranscript() async throws {
        try await DNSFixture.with(Self.records) { dns in
            try await Harness.withMock { mock in
                let result = try await run("order.test", dns: dns, mock: mock)
                let text = result.transcript.rendered()
                #expect(result.outcome == .passed, "\(text)\n\(dns.output)")
                #expect(text.contains("connected to MX host first.mx.test at 127.0.0.1:\(mock.port)"), "\(text)")
                #expect(text.contains("C: EHLO first.mx.test"), "\(text)")
                #expect(result.properties == [ResultProperty(name: "smtp.mx-host", value: "first.mx.test")])
            }
        }
    }

    @Test func aDomainWithoutMXIsItsOwnMailExchanger() async throws {
        try await DNSFixture.with(Self.records) { dns in
            try await Harness.withMock { mock in
                let result = try await run("nomx.test", dns: dns, mock: mock)
                let text = result.transcript.rendered()
                #expect(result.outcome == .passed, "\(text)")
                #expect(text.contains("connected to MX host nomx.test"), "\(text)")
                #expect(text.contains("C: EHLO nomx.test"), "\(text)")
            }
        }
    }

    @Test func aDeadFirstExchangerMovesOnToTheNext() async throws {
        try await DNSFixture.with(Self.records) { dns in
            try await Harness.withMock { mock in
                let result = try await run("dead.test", dns: dns, mock: mock)
                let text = result.transcript.rendered()
                #expect(result.outcome == .passed, "\(text)")
                #expect(text.contains("MX 5 dead.mx.test: connect to 127.0.0.2:\(mock.port) failed"), "\(text)")
                #expect(text.contains("trying the next"), "\(text)")
                #expect(text.contains("connected to MX host live.mx.test at 127.0.0.1"), "\(text)")
            }
        }
    }

    @Test func everyExchangerDeadFailsNamingEachOne() async throws {
        try await DNSFixture.with(Self.records) { dns in
            // No mock on this port: both exchangers refuse.
            let file = try Harness.compile(Self.scenario)
            var options = RunOptions()
            options.serverOverride = .mx(domain: "dead.test", port: try Ports.free())
            let resolver = NetworkServerResolver(dnsServer: DNSServer(dns.address))
            let run = await PlanRunner.collect(Plan(files: [file]), options: options, resolver: resolver)
            let result = try #require(run.allResults.first)
            guard case .failed(let failure) = result.outcome else {
                Issue.record("expected a failure, got \(result.outcome)")
                return
            }
            #expect(failure.message.contains("no mail exchanger of mx:dead.test"), "\(failure.message)")
            #expect(failure.message.contains("dead.mx.test") && failure.message.contains("live.mx.test"))
        }
    }

    @Test func equalPreferencesComeInRandomOrder() async throws {
        try await DNSFixture.with(Self.records) { dns in
            var firstHosts: Set<String> = []
            for _ in 0..<40 {
                let candidates = try await MXResolver.candidates(for: "equal.test", dnsServer: DNSServer(dns.address))
                #expect(Set(candidates.map(\.host)) == ["p.mx.test", "q.mx.test"])
                #expect(candidates.allSatisfy { $0.preference == 10 })
                firstHosts.insert(candidates[0].host)
            }
            // Both orders in 40 draws: the chance of only one is 2^-39.
            #expect(firstHosts == ["p.mx.test", "q.mx.test"], "\(dns.output)")
        }
    }

    @Test func aNullMXNXDOMAINAndAnAddresslessExchangerAreClearErrors() async throws {
        try await DNSFixture.with(Self.records) { dns in
            let server = DNSServer(dns.address)
            let cases = [
                ("null.test", "null.test has a null MX (RFC 7505"),
                ("missing.test", "the MX records of missing.test: no such domain (NXDOMAIN)"),
                ("noaddress.test", "no MX host of noaddress.test has an address"),
            ]
            for (domain, message) in cases {
                do {
                    let found = try await MXResolver.candidates(for: domain, dnsServer: server)
                    Issue.record("\(domain) resolved to \(found)")
                } catch {
                    #expect("\(error)".contains(message), "\(error)")
                    #expect("\(error)".contains("asking \(dns.address)"), "\(error)")
                }
            }
        }
    }

    @Test func theCommandLineTakesMXTargetsForRunAndRelayCheck() async throws {
        try await DNSFixture.with(Self.records) { dns in
            try await Harness.withMock { mock in
                let directory = try Paths.temporaryDirectory("mx-cli")
                let scenario = directory.appendingPathComponent("mx.yaml")
                try Self.scenario.write(to: scenario, atomically: true, encoding: .utf8)
                let target = "mx:order.test:\(mock.port)"
                let junit = directory.appendingPathComponent("mx.xml")
                let run = try await ProcessRunner.smtpScenario([
                    "run", scenario.path, "--server", target, "--dns-server", dns.address, "--junit", junit.path,
                    "--color", "never",
                ])
                #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
                let xml = try String(contentsOf: junit, encoding: .utf8)
                #expect(xml.contains(#"<property name="smtp.mx-host" value="first.mx.test"/>"#), "\(xml)")
                let validation = try await JUnitValidation.validate(junit)
                #expect(validation.ok, "\(validation.output)")

                let strict = directory.appendingPathComponent("strict.xml")
                _ = try await ProcessRunner.smtpScenario([
                    "run", scenario.path, "--server", target, "--dns-server", dns.address, "--junit", strict.path,
                    "--junit-strict",
                ])
                #expect(!(try String(contentsOf: strict, encoding: .utf8)).contains("smtp.mx-host"))

                let relay = try await ProcessRunner.smtpScenario([
                    "relay-check", "--server", target, "--dns-server", dns.address, "--color", "never",
                ])
                #expect(relay.status == 0, "\(relay.stdout)\(relay.stderr)")
                #expect(relay.stdout.contains("not an open relay: 16/16 refused"), "\(relay.stdout)")

                let bad = try await ProcessRunner.smtpScenario([
                    "run", scenario.path, "--server", target, "--dns-server", "localhost:53",
                ])
                #expect(bad.status == 2, "\(bad.status) \(bad.stderr)")
                #expect(bad.stderr.contains("--dns-server localhost:53"), "\(bad.stderr)")

                let nullMX = try await ProcessRunner.smtpScenario([
                    "run", scenario.path, "--server", "mx:null.test", "--dns-server", dns.address, "--color", "never",
                ])
                #expect(nullMX.status == 1)
                #expect(nullMX.stdout.contains("null MX"), "\(nullMX.stdout)")
            }
        }
    }
}
