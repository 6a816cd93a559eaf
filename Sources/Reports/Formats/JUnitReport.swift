import Foundation
import ScenarioResults

/// JUnit XML in the shape CI systems read best: one flat `testsuites`, one `testsuite` per scenario file, one
/// `testcase` per scenario with exactly one `system-out` holding its transcript.
public struct JUnitReport: Sendable {
    /// Options of the XML.
    public struct Options: Sendable {
        /// `--junit-strict`: leave out what the Jenkins xUnit plugin's schema rejects (testcase `file`/`line`,
        /// testsuites `skipped`/`timestamp`, properties beyond the basic ones).
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

    /// The XML of a collected run (for tests and small tools; runs stream through ``JUnitReporter``).
    public func render(_ run: RunResult) -> String {
        let document = JUnitDocument(options: options, shard: run.summary.shard)
        for result in run.allResults { document.add(result) }
        return document.rendered(totalTime: run.summary.duration, timestamp: run.summary.startedAt)
    }

    /// The XML written when files failed to compile: one `error` testcase per broken file, so CI shows why.
    public func render(compileFailures: [CompileFailure], at timestamp: Date = Date()) -> String {
        let document = JUnitDocument(options: options, shard: nil)
        for failure in compileFailures { document.add(failure, at: timestamp) }
        return document.rendered(totalTime: .zero, timestamp: timestamp)
    }
}

/// Writes the JUnit file as results arrive: testcases go to a spill buffer as they come, the file is assembled
/// and renamed into place when the run finishes (also when it was interrupted).
public actor JUnitReporter: Reporter {
    private let path: String
    private let document: JUnitDocument
    private let onError: ReportErrorSink
    private var startedAt = Date()

    /// A reporter writing `path`.
    public init(path: String, options: JUnitReport.Options, onError: @escaping ReportErrorSink) {
        self.path = path
        self.document = JUnitDocument(options: options, shard: nil)
        self.onError = onError
    }

    public func runStarted(_ start: RunStart) async {
        startedAt = start.startedAt
        document.shard = start.shard
    }

    public func scenarioFinished(_ result: ScenarioResult) async { document.add(result) }

    public func runFinished(_ summary: RunSummary) async {
        write { self.document.write(totalTime: summary.duration, timestamp: summary.startedAt, to: $0) }
    }

    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {
        for failure in failures { document.add(failure, at: date) }
        write { self.document.write(totalTime: .zero, timestamp: date, to: $0) }
    }

    private func write(_ produce: ((Data) -> Void) -> Void) {
        if let problem = AtomicFile(path: path).write(produce) { onError("error: JUnit report: \(problem)\n") }
    }
}

/// The JUnit document being built: finished suites in one buffer, the current suite's testcases in another.
final class JUnitDocument {
    private enum Verdict {
        case passed
        case failure(type: String, message: String, body: String)
        case error(type: String, message: String, body: String)
        case skipped(message: String)
    }

    /// The suite being written: results of one file arrive together.
    private struct Suite {
        let name: String
        let file: String
        var timestamp: Date
        var servers: Set<String> = []
        var properties: [ResultProperty] = []
        var tests = 0
        var failures = 0
        var errors = 0
        var skipped = 0
        var time: Duration = .zero
        var usedNames: Set<String> = []
        let body = SpillBuffer()
    }

    let options: JUnitReport.Options
    var shard: String?
    private let suites = SpillBuffer()
    private var current: Suite?
    private var tests = 0
    private var failures = 0
    private var errors = 0
    private var skipped = 0

    init(options: JUnitReport.Options, shard: String?) {
        self.options = options
        self.shard = shard
    }

    /// Adds a scenario's testcase (to its file's suite).
    func add(_ result: ScenarioResult) {
        let identity = result.identity
        if current?.file != identity.file {
            closeSuite()
            current = Suite(name: identity.suite, file: identity.file, timestamp: result.startedAt)
        }
        // Names are unique per file already; keep them unique even if a future change breaks that.
        var name = identity.name
        var counter = 2
        while !current!.usedNames.insert(name).inserted {
            name = "\(identity.name) (\(counter))"
            counter += 1
        }
        current!.timestamp = min(current!.timestamp, result.startedAt)
        if !result.server.isEmpty { current!.servers.insert(result.server) }
        for property in result.properties where !current!.properties.contains(property) {
            current!.properties.append(property)
        }
        let verdict = self.verdict(for: result)
        var transcript = result.transcript.rendered()
        if transcript.utf8.count > options.maxTranscriptBytes {
            transcript =
                String(decoding: transcript.utf8.prefix(options.maxTranscriptBytes), as: UTF8.self)
                + "\n# transcript cut at \(options.maxTranscriptBytes / 1024) KiB"
        }
        appendTestcase(
            name: name,
            classname: identity.suite,
            time: result.duration,
            file: identity.file,
            line: identity.location.line,
            verdict: verdict,
            systemOut: transcript
        )
    }

    /// Adds a file that did not compile as its own suite with one `error` testcase.
    func add(_ failure: CompileFailure, at timestamp: Date) {
        closeSuite()
        let suiteName = failure.suite
        current = Suite(name: suiteName, file: failure.file, timestamp: timestamp)
        let count = failure.errorCount
        appendTestcase(
            name: "compile \(failure.file)",
            classname: suiteName,
            time: .zero,
            file: failure.file,
            line: failure.line,
            verdict: .error(
                type: "CompileError",
                message: "\(count) error\(count == 1 ? "" : "s"): \(failure.firstMessage)",
                body: failure.text
            ),
            systemOut: "# \(failure.file) did not compile; nothing was run\n" + failure.text
        )
        closeSuite()
    }

    private func verdict(for result: ScenarioResult) -> Verdict {
        switch result.outcome {
        case .passed:
            return .passed
        case .skipped(let reason):
            return .skipped(message: reason)
        case .expectedFailure(let reason, let failure):
            return .skipped(message: "xfail: \(reason): \(failure.message)")
        case .unexpectedPass(let reason):
            return .failure(
                type: "UnexpectedPass",
                message: "XPASS: passed although expected to fail (\(reason))",
                body: "\(result.identity.location.fileAndLine): \"\(result.identity.name)\" is marked xfail "
                    + "(\(reason)) but passed; remove xfail, or set strict: false"
            )
        case .failed(let failure):
            let body = Self.failureBody(failure, scenario: result.identity.name)
            let type = Self.typeName(failure.kind)
            return failure.kind.isError
                ? .error(type: type, message: failure.message, body: body)
                : .failure(type: type, message: failure.message, body: body)
        }
    }

    private func appendTestcase(
        name: String,
        classname: String,
        time: Duration,
        file: String,
        line: Int,
        verdict: Verdict,
        systemOut: String
    ) {
        var attributes = [("name", name), ("classname", classname), ("time", DurationText.seconds(time))]
        if !options.strict {
            attributes.append(("file", file))
            attributes.append(("line", String(max(1, line))))
        }
        // Written as bytes, the escaped text straight into them: the transcript is most of a testcase.
        var xml = Array("    <testcase\(Self.attributes(attributes))>\n".utf8)
        current!.tests += 1
        current!.time += time
        switch verdict {
        case .passed:
            break
        case .failure(let type, let message, let body):
            current!.failures += 1
            xml += "      <failure\(Self.attributes([("type", type), ("message", message)]))>".utf8
            XMLEscaping.appendText(body, to: &xml)
            xml += "</failure>\n".utf8
        case .error(let type, let message, let body):
            current!.errors += 1
            xml += "      <error\(Self.attributes([("type", type), ("message", message)]))>".utf8
            XMLEscaping.appendText(body, to: &xml)
            xml += "</error>\n".utf8
        case .skipped(let message):
            current!.skipped += 1
            xml += "      <skipped\(Self.attributes([("message", message)]))/>\n".utf8
        }
        xml += "      <system-out>".utf8
        XMLEscaping.appendText(systemOut, to: &xml)
        xml += "</system-out>\n    </testcase>\n".utf8
        current!.body.append(bytes: xml)
    }

    /// Writes the current suite's element (counts known now) and its testcases to the finished suites.
    private func closeSuite() {
        guard let suite = current else { return }
        current = nil
        tests += suite.tests
        failures += suite.failures
        errors += suite.errors
        skipped += suite.skipped
        var xml = "  <testsuite"
        xml += Self.attributes([
            ("name", suite.name), ("tests", String(suite.tests)), ("failures", String(suite.failures)),
            ("errors", String(suite.errors)), ("skipped", String(suite.skipped)),
            ("time", DurationText.seconds(suite.time)),
            ("timestamp", Self.timestamp(suite.timestamp)), ("hostname", options.hostname), ("file", suite.file),
        ])
        xml += ">\n"
        var properties = [
            ResultProperty(name: "smtp.target", value: suite.servers.sorted().joined(separator: ", ")),
            ResultProperty(name: "scenario.file", value: suite.file),
        ]
        if let shard { properties.append(ResultProperty(name: "shard", value: shard)) }
        if !options.strict { properties += suite.properties }
        xml += "    <properties>\n"
        for property in properties {
            xml += "      <property\(Self.attributes([("name", property.name), ("value", property.value)]))/>\n"
        }
        xml += "    </properties>\n"
        suites.append(xml)
        suite.body.copy { suites.append(String(decoding: $0, as: UTF8.self)) }
        suites.append("  </testsuite>\n")
    }

    /// Finishes the document into `sink`.
    func write(totalTime: Duration, timestamp: Date, to sink: (Data) -> Void) {
        closeSuite()
        var rootAttributes = [
            ("name", options.name), ("tests", String(tests)), ("failures", String(failures)),
            ("errors", String(errors)),
        ]
        if !options.strict { rootAttributes.append(("skipped", String(skipped))) }
        rootAttributes.append(("time", DurationText.seconds(totalTime)))
        if !options.strict { rootAttributes.append(("timestamp", Self.timestamp(timestamp))) }
        sink(Data("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites\(Self.attributes(rootAttributes))>\n".utf8))
        suites.copy(to: sink)
        sink(Data("</testsuites>\n".utf8))
    }

    /// The finished document as text.
    func rendered(totalTime: Duration, timestamp: Date) -> String {
        var data = Data()
        write(totalTime: totalTime, timestamp: timestamp) { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }

    static func failureBody(_ failure: StepFailure, scenario: String) -> String {
        var lines = ["\(failure.location.fileAndLine): \(failure.stepDescription) of \"\(scenario)\""]
        if let expected = failure.expected {
            lines.append("  expected: \(expected)")
            lines.append("  actual:   \(failure.actual)")
        } else {
            lines.append("  \(failure.actual)")
        }
        if let attempts = failure.attempts { lines.append("  after \(attempts) attempts") }
        return lines.joined(separator: "\n")
    }

    static func typeName(_ kind: StepFailure.Kind) -> String {
        switch kind {
        case .unexpectedReply: return "UnexpectedReply"
        case .protocolViolation: return "ProtocolViolation"
        case .tls: return "TLSCheckFailed"
        case .deliberate: return "DeliberateFailure"
        case .timeout: return "Timeout"
        case .connection: return "ConnectionError"
        case .interrupted: return "Interrupted"
        case .setup: return "SetupError"
        }
    }

    static func attributes(_ pairs: [(String, String)]) -> String {
        pairs.map { " \($0.0)=\"\(XMLEscaping.attribute($0.1))\"" }.joined()
    }

    /// ISO 8601 in UTC without a zone suffix, the form every JUnit reader accepts.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
