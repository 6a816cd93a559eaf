import Foundation
import LocatedYAML
import SMTPScenarioTesting
import SMTPWire
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

@testable import Reports

/// A small run result built by hand, from results data alone (no compiler, no network): one pass, one failure
/// with control bytes, one error, one skip, one expected failure.
func sampleRun(withExpectedFailure: Bool = false) throws -> RunResult {
    func identity(_ name: String, line: Int) -> ScenarioIdentity {
        ScenarioIdentity(
            name: name,
            location: SourceLocation(file: "scenarios/sample.yaml", line: line, column: 11),
            suite: "Sample"
        )
    }
    var transcript = Transcript()
    transcript.append(.server, "220 hi \\x1b[0m", elapsedMilliseconds: 1)
    transcript.append(.note, "raw control \u{1B} and \u{01} and ]]> end", elapsedMilliseconds: 2)
    let failure = StepFailure(
        kind: .unexpectedReply,
        path: StepPath([.step(1)]),
        stepLabel: "RCPT TO:<x@y>",
        location: SourceLocation(file: "scenarios/sample.yaml", line: 7, column: 9),
        expected: "250 (requested action completed)",
        actual: "550 5.1.1 <x@y>: \u{1B}[31mUser unknown",
        mismatch: Mismatch(
            expectedCodes: ["250"],
            actualReply: ReplyRecord(code: 550, enhanced: "5.1.1", lines: ["5.1.1 <x@y>: User unknown"]),
            failedCheck: "code"
        )
    )
    let error = StepFailure(
        kind: .connection,
        stepLabel: "greeting",
        location: SourceLocation(file: "scenarios/sample.yaml", line: 8, column: 11),
        expected: nil,
        actual: "connect to 127.0.0.1:1 failed: connection refused"
    )
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    var results = [
        ScenarioResult(
            identity: identity("passes", line: 3),
            outcome: .passed,
            server: "mock",
            startedAt: start,
            duration: .milliseconds(12),
            transcript: transcript
        ),
        ScenarioResult(
            identity: identity("fails <with> \"markup\" & control", line: 5),
            outcome: .failed(failure),
            server: "mock",
            startedAt: start,
            duration: .milliseconds(1234),
            transcript: transcript
        ),
        ScenarioResult(
            identity: identity("cannot connect", line: 8),
            outcome: .failed(error),
            server: "mock",
            startedAt: start,
            duration: .milliseconds(5),
            transcript: Transcript()
        ),
        ScenarioResult(
            identity: identity("skipped one", line: 10),
            outcome: .skipped(reason: "not on Sundays"),
            server: "mock",
            startedAt: start,
            duration: .zero,
            transcript: Transcript()
        ),
    ]
    if withExpectedFailure {
        results.append(
            ScenarioResult(
                identity: identity("known bug", line: 13),
                outcome: .expectedFailure(reason: "bug 123", failure: failure),
                server: "mock",
                startedAt: start,
                duration: .zero,
                transcript: transcript
            )
        )
        results.append(
            ScenarioResult(
                identity: identity("fixed bug", line: 16),
                outcome: .unexpectedPass(reason: "bug 456"),
                server: "mock",
                startedAt: start,
                duration: .zero,
                transcript: transcript
            )
        )
    }
    var summary = RunSummary(startedAt: start, duration: .milliseconds(1251))
    for result in results { summary.add(result.outcome) }
    return RunResult(allResults: results, summary: summary)
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
        let broken = CompileFailure(
            file: "scenarios/broken.yaml",
            suite: "scenarios.broken",
            line: 3,
            errorCount: 1,
            firstMessage: "unknown key 'sned' in step 1",
            text: "scenarios/broken.yaml:3:5: error: unknown key 'sned' in step 1\n  hint: did you mean 'send'?"
        )
        let xml = JUnitReport().render(compileFailures: [broken])
        #expect(xml.contains(#"<testsuites name="smtp-scenario" tests="1" failures="0" errors="1""#))
        #expect(xml.contains(#"<testcase name="compile scenarios/broken.yaml" classname="scenarios.broken""#))
        #expect(xml.contains("scenarios/broken.yaml:3:5: error: unknown key"))
        let file = try Paths.temporaryDirectory("junit").appendingPathComponent("broken.xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        let result = try await JUnitValidation.validate(file)
        #expect(result.ok, "\(result.output)")
    }

    @Test func expectedFailuresAreSkippedAndUnexpectedPassesFail() async throws {
        let run = try sampleRun(withExpectedFailure: true)
        let xml = JUnitReport().render(run)
        #expect(
            xml.contains(#"<skipped message="xfail: bug 123: step 1 &quot;RCPT TO:&lt;x@y&gt;&quot;: expected 250"#)
        )
        #expect(
            xml.contains(#"<failure type="UnexpectedPass" message="XPASS: passed although expected to fail (bug 456)""#)
        )
        #expect(xml.contains(#"tests="6" failures="2" errors="1" skipped="2""#))
        for strict in [false, true] {
            var options = JUnitReport.Options()
            options.strict = strict
            let file = try Paths.temporaryDirectory("junit").appendingPathComponent("xfail-\(strict).xml")
            try JUnitReport(options: options).render(run).write(to: file, atomically: true, encoding: .utf8)
            let result = try await JUnitValidation.validate(file, schema: strict ? "xunit" : nil)
            #expect(result.ok, "\(result.output)")
        }
    }

    @Test func longTranscriptsAreCutWithANote() throws {
        var options = JUnitReport.Options()
        options.maxTranscriptBytes = 1024
        let run = try sampleRun()
        var transcript = Transcript()
        for index in 0..<200 { transcript.append(.client, "NOOP \(index)", elapsedMilliseconds: index) }
        let first = run.allResults[0]
        let long = ScenarioResult(
            identity: first.identity,
            outcome: .passed,
            server: "mock",
            startedAt: first.startedAt,
            duration: first.duration,
            transcript: transcript
        )
        let xml = JUnitReport(options: options).render(RunResult(allResults: [long], summary: run.summary))
        #expect(xml.contains("# transcript cut at 1 KiB"))
        #expect(!xml.contains("NOOP 199"))
    }

    @Test(arguments: [
        (Duration.milliseconds(0), "0.000"), (.milliseconds(5), "0.005"), (.milliseconds(1234), "1.234"),
        (.seconds(61), "61.000"),
    ])
    func secondsUseThreeDecimalsAndADot(_ duration: Duration, _ text: String) {
        #expect(DurationText.seconds(duration) == text)
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
        await console.runFinished(run.summary)
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

    /// A scenario name (or skip reason) with a line break or escape sequence in it broke the console's line and,
    /// in TAP, went raw to `prove`'s terminal. Both now show them escaped, each on its one line.
    @Test func namesAndReasonsStayOnTheirLineInTheConsoleAndTAP() async throws {
        let name = "inject\nok 2 - fake # SKIP \u{1B}[31m"
        let results = [
            ScenarioResult(
                identity: ScenarioIdentity(
                    name: name,
                    location: SourceLocation(file: "s.yaml", line: 1, column: 7),
                    suite: "Sample"
                ),
                outcome: .passed,
                server: "mock",
                startedAt: Date(),
                duration: .milliseconds(3),
                transcript: Transcript()
            ),
            ScenarioResult(
                identity: ScenarioIdentity(
                    name: "later",
                    location: SourceLocation(file: "s.yaml", line: 9, column: 7),
                    suite: "Sample"
                ),
                outcome: .skipped(reason: "not\ntoday \u{1B}[0m"),
                server: "mock",
                startedAt: Date(),
                duration: .zero,
                transcript: Transcript()
            ),
        ]
        let collector = Collector()
        let console = ConsoleReport(options: ConsoleReport.Options()) { collector.append($0) }
        for result in results { await console.scenarioFinished(result) }
        #expect(
            collector.value
                == "s.yaml\n  PASS  inject\\x0aok 2 - fake # SKIP \\x1b[31m (3 ms)\n"
                + "  SKIP  later (not\\x0atoday \\x1b[0m)\n"
        )
        var summary = RunSummary(startedAt: Date())
        for result in results { summary.add(result.outcome) }
        let tap = TAPReport().render(RunResult(allResults: results, summary: summary))
        let lines = tap.split(separator: "\n").map(String.init)
        #expect(lines[2] == "ok 1 - Sample: inject ok 2 - fake \\# SKIP \\x1b[31m", "\(tap)")
        #expect(lines[3] == "ok 2 - Sample: later # SKIP not today \\x1b[0m", "\(tap)")
        #expect(!tap.contains("\u{1B}"))
    }

    @Test func consoleEscapingByKindOfCharacter() {
        // Printable text, ASCII or not, comes back as it is (the per-scenario fast path).
        #expect(ConsoleReport.oneLine("plain name 42") == "plain name 42")
        #expect(ConsoleReport.oneLine("Grüße, 日本") == "Grüße, 日本")
        #expect(ConsoleReport.sanitized("two\nlines\tand tab") == "two\nlines\tand tab")
        // Line breaks: kept by `sanitized` (transcripts), escaped by `oneLine` (names, reasons).
        #expect(ConsoleReport.oneLine("a\r\nb\nc") == "a\\x0d\\x0ab\\x0ac")
        #expect(ConsoleReport.sanitized("a\r\nb") == "a\\x0d\nb")
        // Control, DEL and C1 bytes as \xNN with two digits; bidirectional controls as \u{...}.
        #expect(ConsoleReport.oneLine("\u{0}\u{1B}[2J\u{7F}\u{85}") == "\\x00\\x1b[2J\\x7f\\x85")
        #expect(ConsoleReport.oneLine("evil\u{202E}txt.exe") == "evil\\u{202e}txt.exe")
        #expect(ConsoleReport.oneLine("ü\u{1}") == "ü\\x01", "escaping does not disturb the characters around it")
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
