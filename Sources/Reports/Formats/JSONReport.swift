import Foundation
import ScenarioResults

/// The whole run as JSON (`--json FILE`), described by `schemas/results.schema.json`: every scenario with its
/// outcome, failure (mismatch as data), step records and transcript, secrets masked as in every other output.
public struct JSONReport: Sendable {
    /// Options of the document.
    public struct Options: Sendable {
        /// `smtp-scenario`'s version, written in `tool`.
        public var toolVersion = "unknown"
        /// Keep transcripts (of every scenario, passing ones included).
        public var transcripts = true

        /// The defaults: transcripts kept.
        public init() {}
    }

    /// The format's version, in `format`.
    public static let formatVersion = 1

    let options: Options

    /// Creates a writer.
    public init(options: Options = Options()) { self.options = options }

    /// The JSON of a collected run.
    public func render(_ run: RunResult) -> String {
        let document = JSONDocument(options: options)
        document.start(run.summary.startedAt, shard: run.summary.shard)
        for result in run.allResults { document.add(result) }
        return document.rendered(summary: run.summary)
    }

    /// One scenario as the document writes it.
    static func scenario(_ result: ScenarioResult, transcripts: Bool) -> JSONValue {
        let identity = result.identity
        var members: [(String, JSONValue)] = [
            ("name", .string(identity.name)),
            ("file", .string(identity.file)),
            ("line", .int(identity.location.line)),
            ("suite", .string(identity.suite)),
            ("tags", .array(identity.tags.map(JSONValue.string))),
            ("description", .string(identity.description)),
            ("parameters", .object(identity.parameters.map { ($0.name, .string($0.value)) })),
            ("outcome", .string(result.outcome.category.rawValue)),
            ("server", .string(result.server)),
            ("startedAt", .timestamp(result.startedAt)),
            ("duration", .seconds(result.duration)),
        ]
        switch result.outcome {
        case .passed:
            break
        case .failed(let failure):
            members.append(("failure", Self.failure(failure)))
        case .skipped(let reason):
            members.append(("skipReason", .string(reason)))
        case .expectedFailure(let reason, let failure):
            members.append(("xfail", .object([("reason", .string(reason))])))
            members.append(("failure", Self.failure(failure)))
        case .unexpectedPass(let reason):
            members.append(("xfail", .object([("reason", .string(reason))])))
        }
        if let attempts = result.retriedAttempts { members.append(("attempts", .int(attempts))) }
        members.append(("steps", .array(result.steps.map(Self.step))))
        members.append(("properties", .object(result.properties.map { ($0.name, .string($0.value)) })))
        if transcripts {
            members.append(("transcript", Self.transcript(result.transcript)))
            members.append(("transcriptLinesDropped", .int(result.transcript.droppedLines)))
        }
        return .object(members)
    }

    /// The entries as an array of `{"ms", "direction", "text"}` objects, written straight into text.
    static func transcript(_ transcript: Transcript) -> JSONValue {
        var text = JSONText(capacity: transcript.entries.count * 64 + 2)
        text.beginArray()
        for entry in transcript.entries {
            text.beginObject()
            text.key("ms")
            text.int(entry.elapsedMilliseconds)
            text.key("direction")
            text.string(entry.direction.rawValue)
            text.key("text")
            text.string(entry.text)
            text.endObject()
        }
        text.endArray()
        return text.written
    }

    static func failure(_ failure: StepFailure) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("kind", .string(failure.kind.rawValue)),
            ("error", .bool(failure.kind.isError)),
            ("path", .string(failure.stepNumber)),
            ("step", .string(failure.stepLabel)),
            ("file", .string(failure.location.file)),
            ("line", .int(failure.location.line)),
            ("column", .int(failure.location.column)),
            (
                "callSites",
                .array(
                    failure.callSites.map {
                        .object([
                            ("group", .string($0.group)), ("file", .string($0.location.file)),
                            ("line", .int($0.location.line)), ("column", .int($0.location.column)),
                        ])
                    }
                )
            ),
            ("expected", .string(failure.expected)),
            ("actual", .string(failure.actual)),
            ("message", .string(failure.message)),
        ]
        if let attempts = failure.attempts { members.append(("attempts", .int(attempts))) }
        if let mismatch = failure.mismatch {
            members.append(
                (
                    "mismatch",
                    .object([
                        ("expectedCodes", .array(mismatch.expectedCodes.map(JSONValue.string))),
                        (
                            "expectedChecks",
                            .object(
                                mismatch.expectedChecks.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
                            )
                        ),
                        ("actualReply", mismatch.actualReply.map(Self.reply) ?? .null),
                        ("actualEvent", .string(mismatch.actualEvent)),
                        ("failedCheck", .string(mismatch.failedCheck)),
                    ])
                )
            )
        }
        return .object(members)
    }

    static func reply(_ reply: ReplyRecord) -> JSONValue {
        var text = JSONText()
        write(reply, into: &text)
        return text.written
    }

    private static func write(_ reply: ReplyRecord, into text: inout JSONText) {
        text.beginObject()
        text.key("code")
        text.int(reply.code)
        text.key("enhanced")
        text.string(reply.enhanced)
        text.key("lines")
        text.beginArray()
        for line in reply.lines { text.string(line) }
        text.endArray()
        text.endObject()
    }

    /// A step record, written straight into text (a scenario has several, each with its reply).
    static func step(_ step: StepRecord) -> JSONValue {
        var text = JSONText(capacity: 320)
        text.beginObject()
        text.key("path")
        text.string(step.path.description)
        text.key("file")
        text.string(step.location.file)
        text.key("line")
        text.int(step.location.line)
        text.key("label")
        text.string(step.label)
        text.key("verb")
        text.string(step.verb)
        text.key("sent")
        text.string(step.sent)
        text.key("reply")
        if let reply = step.reply { write(reply, into: &text) } else { text.value(.null) }
        text.key("verdict")
        text.string(step.verdict.rawValue)
        text.key("duration")
        text.value(.seconds(step.duration))
        if let attempts = step.attempts {
            text.key("attempts")
            text.int(attempts)
        }
        text.endObject()
        return text.written
    }

    static func summary(_ summary: RunSummary) -> JSONValue {
        .object(
            [("total", .int(summary.total))]
                + ScenarioOutcome.Category.allCases.map { ($0.rawValue, .int(summary.count($0))) }
        )
    }

    static func compileFailure(_ failure: CompileFailure) -> JSONValue {
        .object([
            ("file", .string(failure.file)), ("line", .int(failure.line)), ("errors", .int(failure.errorCount)),
            ("message", .string(failure.firstMessage)), ("text", .string(failure.text)),
        ])
    }
}

/// Streams the JSON document: scenarios go to a spill buffer as they arrive; the file is assembled and renamed
/// into place when the run finishes (also when interrupted).
public actor JSONReporter: Reporter {
    private let path: String
    private let document: JSONDocument
    private let onError: ReportErrorSink

    /// Each scenario's `steps` array comes from its step records.
    public nonisolated var usesStepRecords: Bool { true }

    /// A reporter writing `path`.
    public init(path: String, options: JSONReport.Options, onError: @escaping ReportErrorSink) {
        self.path = path
        self.document = JSONDocument(options: options)
        self.onError = onError
    }

    public func runStarted(_ start: RunStart) async { document.start(start.startedAt, shard: start.shard) }

    public func scenarioFinished(_ result: ScenarioResult) async { document.add(result) }

    public func runFinished(_ summary: RunSummary) async {
        if let problem = AtomicFile(path: path).write({ document.write(summary: summary, to: $0) }) {
            onError("error: JSON report: \(problem)\n")
        }
    }

    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {
        document.start(date, shard: nil)
        document.compileFailures = failures
        var summary = RunSummary(startedAt: date)
        summary.interrupted = false
        if let problem = AtomicFile(path: path).write({ document.write(summary: summary, to: $0) }) {
            onError("error: JSON report: \(problem)\n")
        }
    }
}

/// The JSON document being built.
final class JSONDocument {
    let options: JSONReport.Options
    private var startedAt = Date()
    private var shard: String?
    private let scenarios = SpillBuffer()
    private var first = true
    var compileFailures: [CompileFailure] = []

    init(options: JSONReport.Options) { self.options = options }

    func start(_ date: Date, shard: String?) {
        startedAt = date
        self.shard = shard
    }

    func add(_ result: ScenarioResult) {
        var text = Array((first ? "\n    " : ",\n    ").utf8)
        first = false
        JSONReport.scenario(result, transcripts: options.transcripts).write(into: &text)
        scenarios.append(bytes: text)
    }

    func write(summary: RunSummary, to sink: (Data) -> Void) {
        var head = "{\n  \"format\": \"smtp-scenario-results\",\n  \"formatVersion\": \(JSONReport.formatVersion),\n"
        head +=
            "  \"tool\": "
            + JSONValue.object([
                ("name", .string("smtp-scenario")), ("version", .string(options.toolVersion)),
            ]).text + ",\n"
        head += "  \"startedAt\": " + JSONValue.timestamp(startedAt).text + ",\n"
        head += "  \"shard\": " + JSONValue.string(shard).text + ",\n"
        head += "  \"scenarios\": ["
        sink(Data(head.utf8))
        scenarios.copy(to: sink)
        var tail = (first ? "" : "\n  ") + "],\n"
        tail += "  \"compileFailures\": " + JSONValue.array(compileFailures.map(JSONReport.compileFailure)).text + ",\n"
        tail += "  \"summary\": " + JSONReport.summary(summary).text + ",\n"
        tail += "  \"duration\": " + JSONValue.seconds(summary.duration).text + ",\n"
        tail += "  \"interrupted\": " + (summary.interrupted ? "true" : "false") + ",\n"
        tail += "  \"exitCode\": \(compileFailures.isEmpty ? Int(summary.exitCode) : 2)\n}\n"
        sink(Data(tail.utf8))
    }

    func rendered(summary: RunSummary) -> String {
        var data = Data()
        write(summary: summary) { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }
}
