import Foundation
import LocatedYAML
import ScenarioLanguage
import ScenarioRunner

/// Writes JUnit XML in the shape CI systems read best: one flat `testsuites`, one `testsuite` per scenario file,
/// one `testcase` per scenario with exactly one `system-out` holding its transcript.
public struct JUnitReport: Sendable {
    /// Options of the XML.
    public struct Options: Sendable {
        /// `--junit-strict`: leave out what the Jenkins xUnit plugin's schema rejects (testcase `file`/`line`,
        /// testsuites `skipped`/`timestamp`).
        public var strict = false
        /// Transcripts longer than this are cut, with a note.
        public var maxTranscriptBytes = 256 * 1024
        /// The name of the `testsuites` element.
        public var name = "smtp-scenario"
        /// The host name written on each testsuite.
        public var hostname = ProcessInfo.processInfo.hostName

        /// The defaults: compat mode (with file and line), 256 KiB transcripts.
        public init() {}
    }

    let options: Options

    /// Creates a writer.
    public init(options: Options = Options()) { self.options = options }

    /// The XML of a finished (or interrupted) run.
    public func render(_ run: RunResult) -> String {
        let suites = run.files.map { suite(for: $0) }
        return document(suites: suites, totalTime: run.duration, timestamp: run.startedAt)
    }

    /// The XML written when files failed to compile: one `error` testcase per broken file, so CI shows why.
    public func render(compileFailures: [FileCompilation], at timestamp: Date = Date()) -> String {
        let suites = compileFailures.filter(\.hasErrors).map { compilation -> Suite in
            let errors = compilation.diagnostics.filter { $0.severity == .error }
            let first = errors.first
            let body = compilation.diagnostics.map(\.description).joined(separator: "\n")
            let testcase = Testcase(
                name: "compile \(compilation.displayPath)",
                classname: ScenarioFile.reportName(forPath: compilation.displayPath),
                time: .zero,
                file: compilation.displayPath,
                line: first?.location.line ?? 1,
                verdict: .error(
                    type: "CompileError",
                    message:
                        "\(errors.count) error\(errors.count == 1 ? "" : "s"): \(first?.message ?? "invalid file")",
                    body: body
                ),
                systemOut: "# \(compilation.displayPath) did not compile; nothing was run\n" + body
            )
            return Suite(
                name: ScenarioFile.reportName(forPath: compilation.displayPath),
                file: compilation.displayPath,
                timestamp: timestamp,
                properties: [],
                testcases: [testcase]
            )
        }
        return document(suites: suites, totalTime: .zero, timestamp: timestamp)
    }

    // MARK: - Model

    private enum Verdict {
        case passed
        case failure(type: String, message: String, body: String)
        case error(type: String, message: String, body: String)
        case skipped(message: String)
    }

    private struct Testcase {
        let name: String
        let classname: String
        let time: Duration
        let file: String
        let line: Int
        let verdict: Verdict
        let systemOut: String
    }

    private struct Suite {
        let name: String
        let file: String
        let timestamp: Date
        let properties: [(String, String)]
        let testcases: [Testcase]

        var time: Duration { testcases.reduce(.zero) { $0 + $1.time } }
        func count(_ predicate: (Verdict) -> Bool) -> Int { testcases.filter { predicate($0.verdict) }.count }
    }

    private func suite(for fileResult: FileResult) -> Suite {
        let file = fileResult.file
        var usedNames = Set<String>()
        let testcases = fileResult.results.map { result -> Testcase in
            // Names are unique per file already; keep them unique even if a future change breaks that.
            var name = result.scenario.name
            var counter = 2
            while !usedNames.insert(name).inserted {
                name = "\(result.scenario.name) (\(counter))"
                counter += 1
            }
            return testcase(for: result, name: name, file: file)
        }
        let servers = Array(Set(fileResult.results.map(\.server).filter { !$0.isEmpty })).sorted()
        return Suite(
            name: file.reportName,
            file: file.displayPath,
            timestamp: fileResult.results.map(\.startedAt).min() ?? Date(),
            properties: [("smtp.target", servers.joined(separator: ", ")), ("scenario.file", file.displayPath)],
            testcases: testcases
        )
    }

    private func testcase(for result: ScenarioResult, name: String, file: ScenarioFile) -> Testcase {
        let scenario = result.scenario
        let verdict: Verdict
        switch result.outcome {
        case .passed:
            verdict = .passed
        case .skipped(let reason):
            verdict = .skipped(message: reason)
        case .failed(let failure):
            let body = failureBody(failure, scenario: scenario)
            let type = typeName(failure.kind)
            verdict =
                failure.kind.isError
                ? .error(type: type, message: failure.message, body: body)
                : .failure(type: type, message: failure.message, body: body)
        }
        var transcript = result.transcript.rendered()
        if transcript.utf8.count > options.maxTranscriptBytes {
            transcript =
                String(decoding: transcript.utf8.prefix(options.maxTranscriptBytes), as: UTF8.self)
                + "\n# transcript cut at \(options.maxTranscriptBytes / 1024) KiB"
        }
        return Testcase(
            name: name,
            classname: file.reportName,
            time: result.duration,
            file: file.displayPath,
            line: scenario.location.line,
            verdict: verdict,
            systemOut: transcript
        )
    }

    private func failureBody(_ failure: StepFailure, scenario: Scenario) -> String {
        var lines = ["\(failure.location.fileAndLine): \(failure.stepDescription) of \"\(scenario.name)\""]
        if let expected = failure.expected {
            lines.append("  expected: \(expected)")
            lines.append("  actual:   \(failure.actual)")
        } else {
            lines.append("  \(failure.actual)")
        }
        return lines.joined(separator: "\n")
    }

    private func typeName(_ kind: StepFailure.Kind) -> String {
        switch kind {
        case .unexpectedReply: return "UnexpectedReply"
        case .protocolViolation: return "ProtocolViolation"
        case .tls: return "TLSCheckFailed"
        case .timeout: return "Timeout"
        case .connection: return "ConnectionError"
        case .interrupted: return "Interrupted"
        case .setup: return "SetupError"
        }
    }

    // MARK: - Writing

    private func document(suites: [Suite], totalTime: Duration, timestamp: Date) -> String {
        let allCases = suites.flatMap(\.testcases)
        let failures = allCases.filter { if case .failure = $0.verdict { return true } else { return false } }.count
        let errors = allCases.filter { if case .error = $0.verdict { return true } else { return false } }.count
        let skipped = allCases.filter { if case .skipped = $0.verdict { return true } else { return false } }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        var rootAttributes = [
            ("name", options.name), ("tests", String(allCases.count)), ("failures", String(failures)),
            ("errors", String(errors)),
        ]
        if !options.strict {
            rootAttributes.append(("skipped", String(skipped)))
        }
        rootAttributes.append(("time", Self.seconds(totalTime)))
        if !options.strict { rootAttributes.append(("timestamp", Self.timestamp(timestamp))) }
        xml += "<testsuites\(Self.attributes(rootAttributes))>\n"
        for suite in suites { xml += render(suite) }
        xml += "</testsuites>\n"
        return xml
    }

    private func render(_ suite: Suite) -> String {
        let failures = suite.count { if case .failure = $0 { return true } else { return false } }
        let errors = suite.count { if case .error = $0 { return true } else { return false } }
        let skipped = suite.count { if case .skipped = $0 { return true } else { return false } }
        var xml = "  <testsuite"
        xml += Self.attributes([
            ("name", suite.name), ("tests", String(suite.testcases.count)), ("failures", String(failures)),
            ("errors", String(errors)), ("skipped", String(skipped)), ("time", Self.seconds(suite.time)),
            ("timestamp", Self.timestamp(suite.timestamp)), ("hostname", options.hostname), ("file", suite.file),
        ])
        xml += ">\n"
        if !suite.properties.isEmpty {
            xml += "    <properties>\n"
            for (name, value) in suite.properties {
                xml += "      <property\(Self.attributes([("name", name), ("value", value)]))/>\n"
            }
            xml += "    </properties>\n"
        }
        for testcase in suite.testcases {
            var attributes = [
                ("name", testcase.name), ("classname", testcase.classname), ("time", Self.seconds(testcase.time)),
            ]
            if !options.strict {
                attributes.append(("file", testcase.file))
                attributes.append(("line", String(max(1, testcase.line))))
            }
            xml += "    <testcase\(Self.attributes(attributes))>\n"
            switch testcase.verdict {
            case .passed:
                break
            case .failure(let type, let message, let body):
                xml += "      <failure\(Self.attributes([("type", type), ("message", message)]))>"
                xml += XMLEscaping.text(body) + "</failure>\n"
            case .error(let type, let message, let body):
                xml += "      <error\(Self.attributes([("type", type), ("message", message)]))>"
                xml += XMLEscaping.text(body) + "</error>\n"
            case .skipped(let message):
                xml += "      <skipped\(Self.attributes([("message", message)]))/>\n"
            }
            xml += "      <system-out>" + XMLEscaping.text(testcase.systemOut) + "</system-out>\n"
            xml += "    </testcase>\n"
        }
        xml += "  </testsuite>\n"
        return xml
    }

    private static func attributes(_ pairs: [(String, String)]) -> String {
        pairs.map { " \($0.0)=\"\(XMLEscaping.attribute($0.1))\"" }.joined()
    }

    /// Decimal seconds with 3 places and `.` as separator, whatever the locale.
    static func seconds(_ duration: Duration) -> String {
        let ms = max(0, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        let fraction = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// ISO 8601 in UTC without a zone suffix, the form every JUnit reader accepts.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        return formatter.string(from: date)
    }
}
