import Foundation
import LocatedYAML
import SMTPScenarioTesting
import SMTPWire
import ScenarioLanguage
import ScenarioRunner
import Testing

@testable import Reports

/// A small run result built by hand: one pass, one failure with control bytes, one error, one skip.
func sampleRun() throws -> RunResult {
    let file = try Harness.compile(
        """
        suite: Sample
        scenarios:
          - name: passes
            steps: []
          - name: fails <with> "markup" & control
            steps:
              - send: RCPT TO:<x@y>
          - name: cannot connect
            steps: []
          - name: skipped one
            skip: not on Sundays
            steps: []
        """,
        file: "scenarios/sample.yaml"
    )
    var transcript = Transcript()
    transcript.append(.server, "220 hi \\x1b[0m", elapsedMilliseconds: 1)
    transcript.append(.note, "raw control \u{1B} and \u{01} and ]]> end", elapsedMilliseconds: 2)
    let at = file.scenarios[1].steps[0].location
    let failure = StepFailure(
        kind: .unexpectedReply,
        stepNumber: "1",
        stepLabel: "RCPT TO:<x@y>",
        location: at,
        expected: "250 (requested action completed)",
        actual: "550 5.1.1 <x@y>: \u{1B}[31mUser unknown"
    )
    let error = StepFailure(
        kind: .connection,
        stepNumber: nil,
        stepLabel: "greeting",
        location: file.scenarios[2].location,
        expected: nil,
        actual: "connect to 127.0.0.1:1 failed: connection refused"
    )
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    let results = [
        ScenarioResult(
            scenario: file.scenarios[0],
            outcome: .passed,
            server: "mock",
            startedAt: start,
            duration: .milliseconds(12),
            transcript: transcript
        ),
        ScenarioResult(
            scenario: file.scenarios[1],
            outcome: .failed(failure),
            server: "mock",
            startedAt: start,
            duration: .milliseconds(1234),
            transcript: transcript
        ),
        ScenarioResult(
            scenario: file.scenarios[2],
            outcome: .failed(error),
            server: "mock",
            startedAt: start,
            duration: .milliseconds(5),
            transcript: Transcript()
        ),
        ScenarioResult(
            scenario: file.scenarios[3],
            outcome: .skipped(reason: "not on Sundays"),
            server: "mock",
            startedAt: start,
            duration: .zero,
            transcript: Transcript()
        ),
    ]
    return RunResult(
        files: [FileResult(file: file, results: results)],
        startedAt: start,
        duration: .milliseconds(1251),
        interrupted: false
    )
}

@Suite("JUnit XML")
struct JUnitReportTests {
    @Test func shapeCountsAndEscaping() throws {
        let xml = JUnitReport().render(try sampleRun())
        #expect(
            xml.contains(
                #"<testsuites name="smtp-scenario" tests="4" failures="1" errors="1" skipped="1" time="1.251" timestamp="2023-11-14T22:13:20">"#
            )
        )
        #expect(xml.contains(#"<testsuite name="Sample" tests="4" failures="1" errors="1" skipped="1" time="1.251""#))
        #expect(xml.contains(#"file="scenarios/sample.yaml" line="5""#))
        #expect(xml.contains(#"name="fails &lt;with&gt; &quot;markup&quot; &amp; control""#))
        #expect(
            xml.contains(
                #"<failure type="UnexpectedReply" message="step 1 &quot;RCPT TO:&lt;x@y&gt;&quot;: expected 250"#
            )
        )
        #expect(
            xml.contains("scenarios/sample.yaml:7: step 1 \"RCPT TO:&lt;x@y&gt;\" of"),
            "the failure body starts with path:line"
        )
        #expect(xml.contains(#"<error type="ConnectionError""#))
        #expect(xml.contains(#"<skipped message="not on Sundays"/>"#))
        #expect(xml.contains("raw control \\x1b and \\x01 and ]]&gt; end"), "control characters are escaped visibly")
        #expect(!xml.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" })
        #expect(xml.components(separatedBy: "<system-out>").count - 1 == 4, "exactly one system-out per testcase")
    }

    @Test func validatesAgainstTheCompatSchemaAndStrictModeAgainstXUnit() async throws {
        let directory = try Paths.temporaryDirectory("junit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let compat = directory.appendingPathComponent("compat.xml")
        try JUnitReport().render(try sampleRun()).write(to: compat, atomically: true, encoding: .utf8)
        let compatResult = try await JUnitValidation.validate(compat)
        #expect(compatResult.ok, "\(compatResult.output)")
        let xunitOfCompat = try await JUnitValidation.validate(compat, schema: "xunit")
        #expect(!xunitOfCompat.ok, "compat output carries file/line, which xUnit rejects")

        var strictOptions = JUnitReport.Options()
        strictOptions.strict = true
        let strict = directory.appendingPathComponent("strict.xml")
        try JUnitReport(options: strictOptions).render(try sampleRun()).write(
            to: strict,
            atomically: true,
            encoding: .utf8
        )
        let strictResult = try await JUnitValidation.validate(strict, schema: "xunit")
        #expect(strictResult.ok, "\(strictResult.output)")
        let strictXML = try String(contentsOf: strict, encoding: .utf8)
        #expect(!strictXML.contains(" line=\""))
    }

    @Test func compileFailuresBecomeErrorTestcases() async throws {
        let broken = ScenarioCompiler.compile(
            source: "name: x\nsteps:\n  - sned: EHLO\n",
            displayPath: "scenarios/broken.yaml",
            options: CompileOptions()
        )
        let fine = ScenarioCompiler.compile(
            source: "name: y\nsteps: []\n",
            displayPath: "scenarios/fine.yaml",
            options: CompileOptions()
        )
        let xml = JUnitReport().render(compileFailures: [broken, fine])
        #expect(xml.contains(#"<testsuites name="smtp-scenario" tests="1" failures="0" errors="1""#))
        #expect(xml.contains(#"<testcase name="compile scenarios/broken.yaml" classname="scenarios.broken""#))
        #expect(xml.contains("scenarios/broken.yaml:3:5: error: unknown key"))
        let file = try Paths.temporaryDirectory("junit").appendingPathComponent("broken.xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        let result = try await JUnitValidation.validate(file)
        #expect(result.ok, "\(result.output)")
    }

    @Test func longTranscriptsAreCutWithANote() throws {
        var options = JUnitReport.Options()
        options.maxTranscriptBytes = 1024
        var run = try sampleRun()
        var transcript = Transcript()
        for index in 0..<200 { transcript.append(.client, "NOOP \(index)", elapsedMilliseconds: index) }
        let first = run.files[0].results[0]
        let long = ScenarioResult(
            scenario: first.scenario,
            outcome: .passed,
            server: "mock",
            startedAt: first.startedAt,
            duration: first.duration,
            transcript: transcript
        )
        run = RunResult(
            files: [FileResult(file: run.files[0].file, results: [long])],
            startedAt: run.startedAt,
            duration: run.duration,
            interrupted: false
        )
        let xml = JUnitReport(options: options).render(run)
        #expect(xml.contains("# transcript cut at 1 KiB"))
        #expect(!xml.contains("NOOP 199"))
    }

    @Test(arguments: [
        (Duration.milliseconds(0), "0.000"), (.milliseconds(5), "0.005"), (.milliseconds(1234), "1.234"),
        (.seconds(61), "61.000"),
    ])
    func secondsUseThreeDecimalsAndADot(_ duration: Duration, _ text: String) {
        #expect(JUnitReport.seconds(duration) == text)
    }
}

@Suite("Console view")
struct ConsoleReportTests {
    private final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ more: String) { lock.withLock { text += more } }
        var value: String { lock.withLock { text } }
    }

    @Test func failuresShowExpectedGotAndTranscriptWithoutColour() async throws {
        let collector = Collector()
        let console = ConsoleReport(options: ConsoleReport.Options()) { collector.append($0) }
        let run = try sampleRun()
        for result in run.allResults { await console.scenarioFinished(result) }
        await console.finish(run)
        let text = collector.value
        #expect(text.contains("scenarios/sample.yaml\n"))
        #expect(text.contains("  PASS  passes (12 ms)"))
        #expect(text.contains("  FAIL  fails <with>"))
        #expect(text.contains("scenarios/sample.yaml:7: step 1 \"RCPT TO:<x@y>\""))
        #expect(text.contains("expected 250 (requested action completed)"))
        #expect(text.contains("got      550 5.1.1"))
        #expect(text.contains("  ERROR cannot connect"))
        #expect(text.contains("  SKIP  skipped one (not on Sundays)"))
        #expect(text.contains("transcript:"))
        #expect(text.contains("1 passed, 2 failed, 1 skipped (1 could not run)"))
        #expect(!text.contains("\u{1B}[3"), "no colour codes unless asked (the \\x1b in the reply is escaped text)")
    }

    @Test func colourWhenAsked() async throws {
        let collector = Collector()
        var options = ConsoleReport.Options()
        options.color = true
        let console = ConsoleReport(options: options) { collector.append($0) }
        await console.scenarioFinished(try sampleRun().allResults[0])
        #expect(collector.value.contains("\u{1B}[32mPASS"))
    }
}
