import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

@testable import Reports

@Suite("Report formats read by real consumers")
struct FormatsTests {
    private func write(_ text: String, _ name: String) throws -> URL {
        let file = try Paths.temporaryDirectory("formats").appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func jsonCarriesOutcomesAndMismatchesAndValidatesAgainstTheSchema() async throws {
        let run = try sampleRun(withExpectedFailure: true)
        let text = JSONReport().render(run)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let scenarios = try #require(object["scenarios"] as? [[String: Any]])
        #expect(
            scenarios.map { $0["outcome"] as? String } == [
                "passed", "failed", "error", "skipped", "xfailed", "xpassed",
            ]
        )
        let failure = try #require(scenarios[1]["failure"] as? [String: Any])
        let mismatch = try #require(failure["mismatch"] as? [String: Any])
        #expect(mismatch["expectedCodes"] as? [String] == ["250"])
        #expect((mismatch["actualReply"] as? [String: Any])?["code"] as? Int == 550)
        #expect(failure["path"] as? String == "1")
        #expect((object["summary"] as? [String: Any])?["xfailed"] as? Int == 1)
        #expect(object["exitCode"] as? Int == 1)
        let validation = try await ExternalValidators.validateJSON(
            [try write(text, "run.json")],
            schema: "results.schema.json"
        )
        #expect(validation.ok, "\(validation.output)")
    }

    @Test func proveReadsTheTAPFileCountingSkipsAndExpectedFailures() async throws {
        let failing = try await ExternalValidators.prove(
            try write(TAPReport().render(try sampleRun(withExpectedFailure: true)), "failing.tap")
        )
        #expect(failing.status != 0, "failures and an XPASS fail the run: \(failing.stdout)")
        #expect(
            failing.stdout.contains("Failed 3/6 subtests") || failing.stdout.contains("Failed tests:  2-3, 6"),
            "\(failing.stdout)"
        )
        #expect(failing.stdout.contains("(less 1 skipped subtest: 2 okay)"), "the skip apart; the XFAIL (TODO) okay")
        #expect(failing.stdout.contains("TODO passed") == false)

        var passing = try sampleRun(withExpectedFailure: true)
        let kept = passing.allResults.filter { [.passed, .skipped, .xfailed].contains($0.outcome.category) }
        var summary = RunSummary(startedAt: passing.summary.startedAt)
        for result in kept { summary.add(result.outcome) }
        passing = RunResult(allResults: kept, summary: summary)
        let tap = TAPReport().render(passing)
        #expect(tap.hasPrefix("TAP version 13\n1..3\n"))
        #expect(tap.contains("not ok 3 - Sample: known bug # TODO xfail: bug 123\n"))
        let ok = try await ExternalValidators.prove(try write(tap, "passing.tap"))
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("Result: PASS"))
    }

    @Test func theHTMLPageLoadsInABrowserWithTheRightCountsAndNoConsoleErrors() async throws {
        let run = try sampleRun(withExpectedFailure: true)
        let page = try write(HTMLReport().render(run), "report.html")
        let loaded = try await ExternalValidators.loadInBrowser(page)
        #expect(loaded.consoleErrors.isEmpty, "\(loaded.consoleErrors)")
        #expect(loaded.dom.contains("data-ready=\"1\""), "the filter script ran")
        #expect(loaded.dom.contains("data-shown=\"6\""))
        #expect(
            loaded.dom.contains(
                #"data-listed="{&quot;passed&quot;:1,&quot;failed&quot;:1,&quot;error&quot;:1,&quot;skipped&quot;:1,&quot;xfailed&quot;:1,&quot;xpassed&quot;:1}""#
            ),
            "one scenario of each outcome is listed"
        )
        #expect(loaded.dom.contains("id=\"count-failed\" data-count=\"1\""))
        #expect(loaded.dom.contains("raw control \\x1b and \\x01"), "control bytes escaped visibly")
        #expect(!loaded.dom.contains("<script src") && !loaded.dom.contains("<link"), "nothing external")
    }

    @Test func gitHubAnnotationsAreEscapedAsTheToolkitDoes() {
        let line = GitHubAnnotations.command(
            "error",
            file: "a,b:c.yaml",
            line: 7,
            title: "smtp-scenario: x, y",
            message: "100% wrong\r\nsecond line"
        )
        #expect(
            line == "::error file=a%2Cb%3Ac.yaml,line=7,title=smtp-scenario%3A x%2C y::100%25 wrong%0D%0Asecond line"
        )
        let run = try? sampleRun(withExpectedFailure: true)
        let annotations = run?.allResults.compactMap(GitHubAnnotations.annotation(for:)) ?? []
        #expect(annotations.count == 3, "the failure, the error and the XPASS; not the pass, skip or XFAIL")
        #expect(annotations[0].hasPrefix("::error file=scenarios/sample.yaml,line=7,title=smtp-scenario%3A fails"))
    }

    @Test func theListingIsOneLinePerTestcase() throws {
        let identities = try sampleRun().allResults.map(\.identity)
        let entries = identities.map { PlanListing.Entry(identity: $0, skipReason: nil) }
        let text = PlanListing.text(entries)
        #expect(text.split(separator: "\n").first == "scenarios/sample.yaml:3 passes")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(PlanListing.json(entries, shard: "2/3").utf8)) as? [String: Any]
        )
        #expect(json["count"] as? Int == 4)
        #expect(json["shard"] as? String == "2/3")
    }

    @Test func aSpillBufferKeepsLittleInMemoryAndLosesNothing() {
        let buffer = SpillBuffer(threshold: 1024)
        var expected = ""
        for index in 0..<5000 {
            let piece = "line \(index) with some text\n"
            buffer.append(piece)
            expected += piece
        }
        #expect(buffer.text == expected)
        #expect(buffer.count == expected.utf8.count)
    }

    @Test func reportsDependOnResultsOnly() throws {
        let folder = Paths.repositoryRoot.appendingPathComponent("Sources/Reports")
        let files =
            FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") } ?? []
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let imports = text.split(separator: "\n").filter { $0.hasPrefix("import ") }.map {
                String($0.dropFirst("import ".count))
            }
            #expect(
                Set(imports).isSubset(of: ["Foundation", "ScenarioResults"]),
                "\(file): \(imports)"
            )
        }
        let manifest = try String(
            contentsOf: Paths.repositoryRoot.appendingPathComponent("Package.swift"),
            encoding: .utf8
        )
        let reports = try #require(manifest.range(of: ".target(\n            name: \"Reports\","))
        let declaration = manifest[reports.upperBound...].prefix(200)
        #expect(declaration.contains("dependencies: [\"ScenarioResults\"]"), "\(declaration)")
    }
}

@Suite("Merging shard reports")
struct MergeTests {
    private func shardJUnit(_ indexes: [Int], strict: Bool = false) throws -> (Data, Data) {
        let run = try sampleRun(withExpectedFailure: true)
        func render(_ keep: [Int]) -> Data {
            let kept = keep.map { run.allResults[$0] }
            var summary = RunSummary(startedAt: run.summary.startedAt)
            for result in kept { summary.add(result.outcome) }
            var options = JUnitReport.Options()
            options.strict = strict
            return Data(JUnitReport(options: options).render(RunResult(allResults: kept, summary: summary)).utf8)
        }
        let others = (0..<run.allResults.count).filter { !indexes.contains($0) }
        return (render(indexes), render(others))
    }

    @Test(arguments: [false, true])
    func twoShardsMergeIntoOneValidReportWithSummedCounts(_ strict: Bool) async throws {
        let (first, second) = try shardJUnit([0, 2, 4], strict: strict)
        let (format, merged) = try ReportMerge.merge([("a.xml", first), ("b.xml", second)])
        #expect(format == .junit)
        let text = String(decoding: merged, as: UTF8.self)
        #expect(
            text.contains(
                strict ? #"tests="6" failures="2" errors="1" time="# : #"tests="6" failures="2" errors="1" skipped="2""#
            ),
            "\(text.prefix(300))"
        )
        #expect(text.components(separatedBy: "<testcase ").count - 1 == 6)
        #expect(text.components(separatedBy: "<testsuite ").count - 1 == 1, "one suite: the file's testcases rejoined")
        let file = try Paths.temporaryDirectory("merge").appendingPathComponent("merged.xml")
        try merged.write(to: file)
        let validation = try await JUnitValidation.validate(file, schema: strict ? "xunit" : nil)
        #expect(validation.ok, "\(validation.output)")
    }

    @Test func overlappingOrForeignInputsAreRefused() throws {
        let (first, _) = try shardJUnit([0, 1])
        #expect(throws: ReportMerge.Failure.self) { try ReportMerge.merge([("a.xml", first), ("b.xml", first)]) }
        do {
            _ = try ReportMerge.merge([("a.xml", first), ("b.xml", first)])
        } catch {
            #expect(error.description.contains("b.xml: testcase \"passes\" of Sample is also in a.xml"))
        }
        #expect(throws: ReportMerge.Failure.self) {
            try ReportMerge.merge([("a.xml", first), ("b.json", Data("{}".utf8))])
        }
        #expect(throws: ReportMerge.Failure.self) { try ReportMerge.merge([("a.txt", Data("hello".utf8))]) }
        #expect(throws: ReportMerge.Failure.self) { try ReportMerge.merge([("a.xml", Data("<html/>".utf8))]) }
    }

    @Test func jsonShardsMergeAndStillValidate() async throws {
        let run = try sampleRun(withExpectedFailure: true)
        func json(_ keep: [Int], shard: String) -> Data {
            let kept = keep.map { run.allResults[$0] }
            var summary = RunSummary(startedAt: run.summary.startedAt, shard: shard)
            for result in kept { summary.add(result.outcome) }
            return Data(JSONReport().render(RunResult(allResults: kept, summary: summary)).utf8)
        }
        let (format, merged) = try ReportMerge.merge([
            ("1.json", json([0, 2, 4], shard: "1/2")), ("2.json", json([1, 3, 5], shard: "2/2")),
        ])
        #expect(format == .json)
        let object = try #require(try JSONSerialization.jsonObject(with: merged) as? [String: Any])
        #expect((object["scenarios"] as? [Any])?.count == 6)
        #expect((object["summary"] as? [String: Any])?["total"] as? Int == 6)
        #expect(object["mergedShards"] as? [String] == ["1/2", "2/2"])
        let file = try Paths.temporaryDirectory("merge").appendingPathComponent("merged.json")
        try merged.write(to: file)
        let validation = try await ExternalValidators.validateJSON([file], schema: "results.schema.json")
        #expect(validation.ok, "\(validation.output)")
    }
}
