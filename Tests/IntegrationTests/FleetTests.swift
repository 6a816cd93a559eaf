import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

/// A fleet sweep in miniature: four `serve` mocks on loopback as the fleet, 200 scenarios spread over them, run
/// once whole and once as four shards in four processes started with the Kubernetes example's own command line
/// (as the Indexed Job's pods would), then merged with the merge Job's command: the same testcases, counts and
/// verdicts.
@Suite("Fleet simulation: shards union to the whole run", .timeLimit(.minutes(5)))
struct FleetTests {
    /// The `args` of the Job named `job` in the Kubernetes example (a folded `>-` scalar), as one command line.
    static func jobCommand(_ job: String) throws -> String {
        let manifest = try String(
            contentsOf: Paths.repositoryRoot.appendingPathComponent("examples/kubernetes/smtp-scenario-job.yaml"),
            encoding: .utf8
        )
        let document = try #require(
            manifest.components(separatedBy: "\n---\n").first { $0.contains("name: \(job)\n") },
            "no Job \(job) in the manifest"
        )
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "- >-" })
        let indent = lines[start + 1].prefix { $0 == " " }.count
        var folded: [String] = []
        for line in lines[(start + 1)...] {
            guard line.prefix(while: { $0 == " " }).count >= indent, !line.trimmingCharacters(in: .whitespaces).isEmpty
            else { break }
            folded.append(line.trimmingCharacters(in: .whitespaces))
        }
        return folded.joined(separator: " ")
    }

    /// `command` with the container's paths mapped to this machine's.
    static func local(_ command: String, scenarios: URL, reports: URL) -> String {
        command.replacingOccurrences(of: "smtp-scenario ", with: "'\(Paths.binary.path)' ")
            .replacingOccurrences(of: "/scenarios", with: scenarios.path)
            .replacingOccurrences(of: "/reports", with: reports.path)
    }

    @Test func fourShardsInFourProcessesMergeToTheUnshardedRun() async throws {
        // The fleet: four mock servers.
        var mocks: [BackgroundProcess] = []
        var ports: [Int] = []
        defer { for mock in mocks { Task { _ = await mock.stop() } } }
        for _ in 0..<4 {
            let port = try Ports.free()
            let mock = try BackgroundProcess(Paths.binary.path, ["serve", "--listen", "127.0.0.1:\(port)"])
            mocks.append(mock)
            ports.append(port)
        }
        for (mock, port) in zip(mocks, ports) {
            _ = try await mock.waitForOutput(containing: "listening on 127.0.0.1:\(port)")
        }

        // 200 scenarios over the fleet: most pass, every 7th fails, every 11th is skipped.
        let root = try Paths.temporaryDirectory("fleet")
        let scenarios = root.appendingPathComponent("scenarios")
        try FileManager.default.createDirectory(at: scenarios, withIntermediateDirectories: true)
        let names = ["mx1", "mx2", "mx3", "mx4"]
        var yaml = "suite: fleet\nservers:\n"
        for (name, port) in zip(names, ports) { yaml += "  \(name): \"127.0.0.1:\(port)\"\n" }
        yaml += "scenarios:\n"
        for index in 0..<200 {
            yaml += "  - name: check \(index)\n    server: \(names[index % 4])\n"
            if index % 11 == 0 { yaml += "    skip: not on this host\n" }
            yaml += "    steps:\n      - send: EHLO sweep.example\n      - send: MAIL FROM:<s@example.org>\n"
            yaml += "      - send: RCPT TO:<alice@example.com>\n        expect: \(index % 7 == 0 ? 550 : 250)\n"
        }
        try yaml.write(to: scenarios.appendingPathComponent("fleet.yaml"), atomically: true, encoding: .utf8)

        let whole = root.appendingPathComponent("whole")
        let unsharded = try await ProcessRunner.smtpScenario(
            [
                "run", scenarios.path, "--junit", whole.appendingPathComponent("junit.xml").path, "--json",
                whole.appendingPathComponent("results.json").path, "--color", "never", "--jobs", "16",
            ],
            timeout: .seconds(180)
        )
        #expect(unsharded.status == 1, "every 7th scenario fails on purpose: \(unsharded.stderr)")

        // The pods: four processes at once, each with its JOB_COMPLETION_INDEX.
        let reports = root.appendingPathComponent("reports")
        try FileManager.default.createDirectory(at: reports, withIntermediateDirectories: true)
        let shardCommand = Self.local(
            try Self.jobCommand("smtp-scenario-shards"),
            scenarios: scenarios,
            reports: reports
        )
        #expect(shardCommand.contains("--shard $((JOB_COMPLETION_INDEX + 1))/4"))
        let pods = try await withThrowingTaskGroup(of: ProcessResult.self) { group in
            for index in 0..<4 {
                group.addTask {
                    try await ProcessRunner.run(
                        "/bin/sh",
                        ["-c", shardCommand],
                        environment: ["JOB_COMPLETION_INDEX": String(index)],
                        timeout: .seconds(180)
                    )
                }
            }
            var results: [ProcessResult] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(pods.allSatisfy { $0.status == 1 }, "each shard has a deliberate failure: \(pods.map(\.stderr))")
        let merge = try await ProcessRunner.run(
            "/bin/sh",
            ["-c", Self.local(try Self.jobCommand("smtp-scenario-merge"), scenarios: scenarios, reports: reports)]
        )
        #expect(merge.status == 0, "\(merge.stdout)\(merge.stderr)")

        // Same testcases and verdicts; same counts; valid files.
        func outcomes(_ file: URL) throws -> [String: String] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
            let items = try #require(object["scenarios"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: items.map { ("\($0["name"]!)", "\($0["outcome"]!)") })
        }
        let wholeOutcomes = try outcomes(whole.appendingPathComponent("results.json"))
        let mergedOutcomes = try outcomes(reports.appendingPathComponent("results.json"))
        #expect(wholeOutcomes.count == 200)
        #expect(mergedOutcomes == wholeOutcomes)
        let failed = wholeOutcomes.values.filter { $0 == "failed" }.count
        let expectedFailures = (0..<200).filter { $0 % 7 == 0 && $0 % 11 != 0 }.count
        #expect(failed == expectedFailures, "every 7th fails, unless it is skipped")
        func counts(_ file: URL) throws -> String {
            let xml = try String(contentsOf: file, encoding: .utf8)
            let line = try #require(xml.split(separator: "\n").first { $0.hasPrefix("<testsuites ") })
            let kept: Set<String> = ["tests", "failures", "errors", "skipped"]
            let attributes = line.split(separator: " ").filter { kept.contains(String($0.split(separator: "=")[0])) }
            return attributes.joined(separator: " ")
        }
        #expect(
            try counts(reports.appendingPathComponent("junit.xml")) == counts(whole.appendingPathComponent("junit.xml"))
        )
        #expect(try await JUnitValidation.validate(reports.appendingPathComponent("junit.xml")).ok)
        let validation = try await ExternalValidators.validateJSON(
            [reports.appendingPathComponent("results.json")],
            schema: "results.schema.json"
        )
        #expect(validation.ok, "\(validation.output)")
    }
}
