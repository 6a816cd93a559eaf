import Foundation
import ScenarioResults

/// TAP version 13 (`--tap FILE`), which Debian 12's `prove` reads: one test point per scenario, a YAML block for
/// failures, `# SKIP` for skips and `# TODO` for expected failures (XFAIL). An XPASS is `not ok`: strict.
public struct TAPReport: Sendable {
    /// Creates a writer.
    public init() {}

    /// The TAP text of a collected run.
    public func render(_ run: RunResult) -> String {
        let document = TAPDocument()
        document.start(count: run.allResults.count)
        for result in run.allResults { document.add(result) }
        return document.rendered(summary: run.summary)
    }

    /// One test point's lines.
    static func testPoint(_ result: ScenarioResult, number: Int) -> String {
        let description = Self.description(result.identity)
        switch result.outcome {
        case .passed:
            let retried = result.retriedAttempts.map { " (passed after \($0) attempts)" } ?? ""
            return "ok \(number) - \(description)\(retried)\n"
        case .skipped(let reason):
            return "ok \(number) - \(description) # SKIP \(Self.directiveText(reason))\n"
        case .expectedFailure(let reason, let failure):
            return "not ok \(number) - \(description) # TODO xfail: \(Self.directiveText(reason))\n"
                + diagnostics(result, failure: failure, severity: "todo")
        case .unexpectedPass(let reason):
            return "not ok \(number) - \(description)\n"
                + block([
                    ("message", "XPASS: passed although expected to fail (\(reason))"),
                    ("severity", "fail"),
                    ("file", result.identity.file),
                    ("line", String(result.identity.location.line)),
                ])
        case .failed(let failure):
            return "not ok \(number) - \(description)\n"
                + diagnostics(result, failure: failure, severity: failure.kind.isError ? "error" : "fail")
        }
    }

    private static func diagnostics(_ result: ScenarioResult, failure: StepFailure, severity: String) -> String {
        var pairs = [
            ("message", failure.message),
            ("severity", severity),
            ("file", failure.location.file),
            ("line", String(failure.location.line)),
            ("step", failure.stepDescription),
        ]
        if let expected = failure.expected { pairs.append(("expected", expected)) }
        pairs.append(("got", failure.actual))
        pairs.append(("server", result.server))
        return block(pairs)
    }

    /// The indented YAML diagnostics block TAP 13 puts under a test point.
    private static func block(_ pairs: [(String, String)]) -> String {
        var text = "  ---\n"
        for (key, value) in pairs { text += "  \(key): \(quoted(value))\n" }
        return text + "  ...\n"
    }

    /// A double-quoted YAML scalar: one line, escapes for quotes, backslashes and control characters.
    static func quoted(_ value: String) -> String { "\"" + scalarEscaping.escape(value) + "\"" }

    /// The escaping of `quoted`, through the walk the JSON and XML escapers share: only the marked bytes (control
    /// characters, DEL, the quote and the backslash) are looked at one by one.
    private static let scalarEscaping = TextEscaping(
        marking: (0x00..<0x20).map(UInt8.init) + [0x22, 0x5C, 0x7F],
        leadBytes: []
    ) { scalar in
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\t": return "\\t"
        default: return "\\x" + ConsoleReport.hexByte(UInt8(scalar.value))
        }
    }

    /// `suite: name`, on one line, with `#` (which starts a directive) escaped.
    static func description(_ identity: ScenarioIdentity) -> String {
        let text = directiveText("\(identity.suite): \(identity.name)")
        return ConsoleReport.containsByte(text, where: { $0 == UInt8(ascii: "#") })
            ? text.replacingOccurrences(of: "#", with: "\\#") : text
    }

    /// One line, control characters escaped as on the console: `prove` prints these lines to a terminal.
    private static func directiveText(_ text: String) -> String {
        let breaksLine = ConsoleReport.containsByte(text) { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }
        let flat =
            breaksLine ? text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") : text
        return ConsoleReport.sanitized(flat)
    }
}

/// Streams the TAP file; written atomically when the run finishes.
public actor TAPReporter: Reporter {
    private let path: String
    private let document = TAPDocument()
    private let onError: ReportErrorSink

    /// A reporter writing `path`.
    public init(path: String, onError: @escaping ReportErrorSink) {
        self.path = path
        self.onError = onError
    }

    public func runStarted(_ start: RunStart) async { document.start(count: start.scenarioCount) }

    public func scenarioFinished(_ result: ScenarioResult) async { document.add(result) }

    public func runFinished(_ summary: RunSummary) async {
        if let problem = AtomicFile(path: path).write({ document.write(summary: summary, to: $0) }) {
            onError("error: TAP report: \(problem)\n")
        }
    }

    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {
        let text =
            "TAP version 13\n1..0\nBail out! \(failures.count) file(s) did not compile: "
            + failures.map { "\($0.file):\($0.line): \($0.firstMessage)" }.joined(separator: "; ") + "\n"
        if let problem = AtomicFile(path: path).write({ $0(Data(text.utf8)) }) {
            onError("error: TAP report: \(problem)\n")
        }
    }
}

/// The TAP document being built.
final class TAPDocument {
    private var planned = 0
    private var number = 0
    private let points = SpillBuffer()

    func start(count: Int) { planned = count }

    func add(_ result: ScenarioResult) {
        number += 1
        points.append(TAPReport.testPoint(result, number: number))
    }

    func write(summary: RunSummary, to sink: (Data) -> Void) {
        sink(Data("TAP version 13\n1..\(max(planned, number))\n".utf8))
        points.copy(to: sink)
        var tail = "# \(summary.count(.passed)) passed, \(summary.count(.failed) + summary.count(.error)) failed, "
        tail +=
            "\(summary.count(.skipped)) skipped, \(summary.count(.xfailed)) xfailed, \(summary.count(.xpassed)) xpassed\n"
        if summary.interrupted { tail += "# interrupted\n" }
        sink(Data(tail.utf8))
    }

    func rendered(summary: RunSummary) -> String {
        var data = Data()
        write(summary: summary) { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }
}
