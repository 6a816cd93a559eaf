import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

/// Every report format from a real failing run against the embedded mock, read by its real consumer; listing,
/// sharding and CI annotations through the binary.
@Suite("Report formats and scale-out, end to end", .timeLimit(.minutes(3)))
struct ReportFormatsTests {
    /// A suite with a pass, a failure (whose reply would show a secret), a skip and an expected failure.
    static let suite = """
        suite: Mixed
        vars: {password: "${env.MIXED_PASSWORD}"}
        secrets: [password]
        scenarios:
          - name: greeting
            tags: [smoke]
            steps: []
          - name: unknown user refused with 250
            tags: [users]
            steps:
              - send: EHLO ${password}.example
              - send: MAIL FROM:<a@example.net>
              - send: RCPT TO:<nobody@example.com>
                expect: 250
          - name: not today
            skip: maintenance
            steps: []
          - name: ETRN
            xfail: {reason: not implemented, match: /502/}
            steps:
              - send: ETRN example.com
                expect: 250
        """

    private func folder(_ files: [String: String]) throws -> URL {
        let directory = try Paths.temporaryDirectory("formats-cli")
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func aFailingRunWritesEveryFormatValidAndMasked() async throws {
        let directory = try folder(["mixed.yaml": Self.suite])
        let out = directory.appendingPathComponent("out")
        let result = try await ProcessRunner.smtpScenario(
            [
                "run", "mixed.yaml", "--color", "never", "--junit", "out/r.xml", "--json", "out/r.json", "--tap",
                "out/r.tap", "--html", "out/r.html",
            ],
            environment: ["MIXED_PASSWORD": "sw0rdfish", "GITHUB_ACTIONS": "false"],
            currentDirectory: directory
        )
        #expect(result.status == 1)
        #expect(result.stdout.contains("1 passed, 1 failed, 1 skipped, 1 xfailed"))
        for name in ["r.xml", "r.json", "r.tap", "r.html"] {
            let text = try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
            #expect(!text.contains("sw0rdfish"), "\(name) leaks the secret")
            if name != "r.tap" { #expect(text.contains("***.example"), "\(name) shows the masked EHLO") }
        }
        #expect(try await JUnitValidation.validate(out.appendingPathComponent("r.xml")).ok)
        let json = try await ExternalValidators.validateJSON(
            [out.appendingPathComponent("r.json")],
            schema: "results.schema.json"
        )
        #expect(json.ok, "\(json.output)")
        let prove = try await ExternalValidators.prove(out.appendingPathComponent("r.tap"))
        #expect(prove.stdout.contains("Failed test:  2\n"), "\(prove.stdout)")
        #expect(prove.stdout.contains("(less 1 skipped subtest: 2 okay)"), "the XFAIL is a TODO, the skip a skip")
        let page = try await ExternalValidators.loadInBrowser(out.appendingPathComponent("r.html"))
        #expect(page.consoleErrors.isEmpty, "\(page.consoleErrors)")
        #expect(page.dom.contains("id=\"count-failed\" data-count=\"1\""))
        #expect(page.dom.contains("id=\"count-xfailed\" data-count=\"1\""))
        #expect(page.dom.contains("data-ready=\"1\""))
        let screenshot = ExternalValidators.artifacts.appendingPathComponent("html-report-failing-run.png")
        try await ExternalValidators.screenshot(out.appendingPathComponent("r.html"), to: screenshot)
        #expect(FileManager.default.fileExists(atPath: screenshot.path), "the screenshot is kept as an artefact")
    }

    @Test func githubAnnotationsFollowTheEnvironmentOrTheFlag() async throws {
        let directory = try folder(["mixed.yaml": Self.suite])
        let environment = ["MIXED_PASSWORD": "sw0rdfish", "GITHUB_ACTIONS": "true"]
        let detected = try await ProcessRunner.smtpScenario(
            ["run", "mixed.yaml", "--color", "never"],
            environment: environment,
            currentDirectory: directory
        )
        let annotations = detected.stdout.split(separator: "\n").filter { $0.hasPrefix("::error ") }
        #expect(annotations.count == 1, "\(detected.stdout)")
        #expect(
            annotations.first?.hasPrefix(
                "::error file=mixed.yaml,line=13,title=smtp-scenario%3A unknown user refused with 250::"
            ) == true
        )
        #expect(annotations.first?.contains("sw0rdfish") == false)
        let suppressed = try await ProcessRunner.smtpScenario(
            ["run", "mixed.yaml", "--color", "never", "--annotations", "none"],
            environment: environment,
            currentDirectory: directory
        )
        #expect(!suppressed.stdout.contains("::error"))
    }

    @Test func listingShowsWhatWouldRunAndNothingElse() async throws {
        let directory = try folder(["mixed.yaml": Self.suite])
        let environment = ["MIXED_PASSWORD": "x"]
        let list = try await ProcessRunner.smtpScenario(
            ["run", "mixed.yaml", "--list"],
            environment: environment,
            currentDirectory: directory
        )
        #expect(list.status == 0)
        #expect(
            list.stdout
                == "mixed.yaml:5 greeting [smoke]\nmixed.yaml:8 unknown user refused with 250 [users]\nmixed.yaml:15 not today\nmixed.yaml:18 ETRN\n"
        )
        let tagged = try await ProcessRunner.smtpScenario(
            ["run", "mixed.yaml", "--list", "--json", "--tag", "users"],
            environment: environment,
            currentDirectory: directory
        )
        let object = try #require(try JSONSerialization.jsonObject(with: Data(tagged.stdout.utf8)) as? [String: Any])
        #expect(object["count"] as? Int == 1)
    }

    @Test func shardsSplitThePlanAndTheirUnionIsTheWhole() async throws {
        let scenarios = (1...10).map { "  - name: s\($0)\n    steps: []\n" }.joined()
        let directory = try folder(["ten.yaml": "suite: ten\nscenarios:\n" + scenarios])
        var union: [String] = []
        for index in 1...3 {
            let shard = try await ProcessRunner.smtpScenario(
                ["run", "ten.yaml", "--list", "--shard", "\(index)/3"],
                currentDirectory: directory
            )
            #expect(shard.status == 0)
            union += shard.stdout.split(separator: "\n").map(String.init)
        }
        let whole = try await ProcessRunner.smtpScenario(["run", "ten.yaml", "--list"], currentDirectory: directory)
        #expect(union.sorted() == whole.stdout.split(separator: "\n").map(String.init).sorted())
        #expect(union.count == 10)
        let first = try await ProcessRunner.smtpScenario(
            ["run", "ten.yaml", "--list", "--shard", "1/3"],
            currentDirectory: directory
        )
        #expect(
            first.stdout.split(separator: "\n").map { $0.split(separator: " ").last! } == ["s1", "s4", "s7", "s10"]
        )

        let empty = try await ProcessRunner.smtpScenario(
            ["run", "ten.yaml", "--shard", "12/12", "--junit", "r.xml", "--color", "never"],
            currentDirectory: directory
        )
        #expect(empty.status == 0)
        #expect(empty.stderr.contains("shard 12/12 is empty: the selection has 10 scenarios for 12 shards"))
        #expect(try await JUnitValidation.validate(directory.appendingPathComponent("r.xml")).ok)
        let outOfRange = try await ProcessRunner.smtpScenario(
            ["run", "ten.yaml", "--shard", "4/3"],
            currentDirectory: directory
        )
        #expect(outOfRange.status == 2)
        let nothingSelected = try await ProcessRunner.smtpScenario(
            ["run", "ten.yaml", "--shard", "1/2", "--tag", "none-such"],
            currentDirectory: directory
        )
        #expect(nothingSelected.status == 2, "no scenario selected is a usage error before sharding")
        let junit = try await ProcessRunner.smtpScenario(
            ["run", "ten.yaml", "--shard", "2/3", "--junit", "s.xml", "--json", "s.json", "--color", "never"],
            currentDirectory: directory
        )
        #expect(junit.stdout.contains("3 passed, 0 failed, 0 skipped"))
        #expect(
            try String(contentsOf: directory.appendingPathComponent("s.xml"), encoding: .utf8).contains(
                #"<property name="shard" value="2/3"/>"#
            )
        )
        #expect(
            try String(contentsOf: directory.appendingPathComponent("s.json"), encoding: .utf8).contains(
                #""shard": "2/3""#
            )
        )
    }

    @Test func perServerPolitenessLimitsConnections() async throws {
        let scenarios = (1...6).map { "  - name: s\($0)\n    steps: [{wait: 200ms}]\n" }.joined()
        let directory = try folder(["six.yaml": "suite: six\nscenarios:\n" + scenarios])
        let started = ContinuousClock.now
        let limited = try await ProcessRunner.smtpScenario(
            ["run", "six.yaml", "--jobs", "6", "--max-connections-per-server", "2", "--color", "never", "--verbose"],
            currentDirectory: directory
        )
        #expect(limited.status == 0, "\(limited.stdout)\(limited.stderr)")
        // Six 200 ms sessions, two at a time against one server: at least three rounds.
        #expect(ContinuousClock.now - started >= .milliseconds(600))
    }
}
