import Foundation

/// Who a result is about: what every report needs of the compiled scenario, and nothing networked.
public struct ScenarioIdentity: Sendable, Hashable {
    /// A matrix value the scenario was expanded with, as shown in its name.
    public struct Parameter: Sendable, Hashable {
        public let name: String
        public let value: String

        /// Creates a parameter.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The scenario's name, unique within its file (matrix entries carry their values: `name [rcpt=bob]`).
    public let name: String
    /// Where the scenario is written (its `name:` key).
    public let location: SourceLocation
    /// The report name of its file: the `suite:` name, else the path with `/` as `.` and no extension.
    public let suite: String
    /// Its `tags`.
    public let tags: [String]
    /// Its `description`.
    public let description: String?
    /// The matrix values it was expanded with, in matrix order (empty without a matrix).
    public let parameters: [Parameter]

    /// Creates an identity.
    public init(
        name: String,
        location: SourceLocation,
        suite: String,
        tags: [String] = [],
        description: String? = nil,
        parameters: [Parameter] = []
    ) {
        self.name = name
        self.location = location
        self.suite = suite
        self.tags = tags
        self.description = description
        self.parameters = parameters
    }

    /// The file as shown to the user.
    public var file: String { location.file }

    /// The value of matrix parameter `name`, if the scenario has it.
    public func parameter(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
}

/// A reply as results keep it: code, enhanced code, and each line's text (escaped for display, secrets masked).
public struct ReplyRecord: Sendable, Hashable {
    /// The reply code.
    public let code: Int
    /// The RFC 3463 enhanced status code at the start of the text, if any (`5.7.1`).
    public let enhanced: String?
    /// The text after `NNN-`/`NNN ` of each line.
    public let lines: [String]

    /// Creates a record.
    public init(code: Int, enhanced: String?, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    /// `550 5.1.1 <x>: Recipient address rejected | more`, for messages.
    public var summary: String { "\(code) " + lines.joined(separator: " | ") }
}

/// One step that ran, as data: what was sent, what came back, how it ended.
public struct StepRecord: Sendable, Hashable {
    /// How the step ended.
    public enum Verdict: String, Sendable, Hashable {
        case passed, failed
    }

    /// Where it sits (`3`, `2 call s.envelope > 1`).
    public let path: StepPath
    /// Where it is written.
    public let location: SourceLocation
    /// What reports call it: its name, or what it sent (secrets masked).
    public let label: String
    /// The SMTP verb it sent (`RCPT`), for tools that read results (relay-check); nil for non-command steps.
    public let verb: String?
    /// The command line sent, masked; nil for steps that send no command line.
    public let sent: String?
    /// The reply its check was made against, if one was read.
    public let reply: ReplyRecord?
    /// Passed or failed.
    public let verdict: Verdict
    /// From the send to the checked reply (or the step's end).
    public let duration: Duration
    /// For a `retry`: the attempts made (the first included).
    public let attempts: Int?

    /// Creates a record.
    public init(
        path: StepPath,
        location: SourceLocation,
        label: String,
        verb: String? = nil,
        sent: String? = nil,
        reply: ReplyRecord? = nil,
        verdict: Verdict,
        duration: Duration,
        attempts: Int? = nil
    ) {
        self.path = path
        self.location = location
        self.label = label
        self.verb = verb
        self.sent = sent
        self.reply = reply
        self.verdict = verdict
        self.duration = duration
        self.attempts = attempts
    }
}

/// What a failed check expected and what it got, as data (the prose is in ``StepFailure``).
public struct Mismatch: Sendable, Hashable {
    /// The accepted reply codes (`250`, `4xx`); empty when the step expected no reply at all.
    public let expectedCodes: [String]
    /// The other checks by key, as written: `enhanced`, `text`, `not-text`, `advertises`, `lacks`,
    /// `single-line`, `tls`, or `event` (`closed`, `nothing`) for expectations that are not a reply.
    public let expectedChecks: [String: String]
    /// The reply that failed the check, if one arrived.
    public let actualReply: ReplyRecord?
    /// What happened instead of a (fitting) reply: `closed`, `reset`, `timeout`, `protocol-error`,
    /// `unsolicited-bytes`; nil when a reply arrived.
    public let actualEvent: String?
    /// The check that failed: `code`, `enhanced`, `text`, `not-text`, `advertises`, `lacks`, `single-line`,
    /// `event`, `tls`.
    public let failedCheck: String

    /// Creates a mismatch.
    public init(
        expectedCodes: [String],
        expectedChecks: [String: String] = [:],
        actualReply: ReplyRecord? = nil,
        actualEvent: String? = nil,
        failedCheck: String
    ) {
        self.expectedCodes = expectedCodes
        self.expectedChecks = expectedChecks
        self.actualReply = actualReply
        self.actualEvent = actualEvent
        self.failedCheck = failedCheck
    }
}

/// A call of a step group on the way to a failure: which group, called from where.
public struct CallSite: Sendable, Hashable {
    /// The group as called (`s.envelope`).
    public let group: String
    /// Where the `call:` step is written.
    public let location: SourceLocation

    /// Creates a call site.
    public init(group: String, location: SourceLocation) {
        self.group = group
        self.location = location
    }
}

/// Why a scenario did not pass, located at the step (or greeting) where it stopped.
public struct StepFailure: Sendable, Hashable {
    /// The kind of problem; reports use it to choose JUnit `failure` or `error`.
    public enum Kind: String, Sendable, Hashable {
        /// The reply (or its absence) did not meet the expectation.
        case unexpectedReply
        /// The server sent something that is not an SMTP reply, or an endless line.
        case protocolViolation
        /// A TLS check failed (certificate, version, handshake outcome, plaintext before the handshake).
        case tls
        /// A `fail:` step: the suite fails on purpose.
        case deliberate
        /// No reply within the timeout.
        case timeout
        /// The connection could not be opened, or broke.
        case connection
        /// The run was interrupted (Ctrl-C, SIGTERM).
        case interrupted
        /// The scenario could not be set up (TLS files, mock server start).
        case setup

        /// Whether reports show this as an error (could not run) rather than a failure (ran and was wrong).
        public var isError: Bool {
            switch self {
            case .unexpectedReply, .protocolViolation, .tls, .deliberate: return false
            case .timeout, .connection, .interrupted, .setup: return true
            }
        }
    }

    /// The kind.
    public let kind: Kind
    /// Where the step sits; empty for the connection and greeting.
    public let path: StepPath
    /// What the step did, for people: its name, or the command sent (secrets masked).
    public let stepLabel: String
    /// Where the step (or scenario) is written.
    public let location: SourceLocation
    /// The group calls on the way to the step, outermost first.
    public let callSites: [CallSite]
    /// The expectation in words (`250 (requested action completed)`), when there was one.
    public let expected: String?
    /// What happened instead (`550 5.1.1 <x>: Recipient address rejected (mailbox unavailable)`).
    public let actual: String
    /// The same as data, when a check failed.
    public let mismatch: Mismatch?
    /// For a failure inside a `retry` that used up its attempts: how many were made.
    public let attempts: Int?

    /// Creates a failure.
    public init(
        kind: Kind,
        path: StepPath = StepPath(),
        stepLabel: String,
        location: SourceLocation,
        callSites: [CallSite] = [],
        expected: String?,
        actual: String,
        mismatch: Mismatch? = nil,
        attempts: Int? = nil
    ) {
        self.kind = kind
        self.path = path
        self.stepLabel = stepLabel
        self.location = location
        self.callSites = callSites
        self.expected = expected
        self.actual = actual
        self.mismatch = mismatch
        self.attempts = attempts
    }

    /// The step's path as text (`3`, `2 call s.envelope > 1`), or nil for the connection and greeting.
    public var stepNumber: String? { path.isEmpty ? nil : path.description }

    /// `step 3 "RCPT TO:<x@y>"`, `greeting`, or with a call chain
    /// `x.yaml:8:9 call s.envelope > lib/session.yaml:8:9 "RCPT TO:<x@y>"`.
    public var stepDescription: String {
        guard let stepNumber else { return stepLabel }
        guard !callSites.isEmpty else { return "step \(stepNumber) \"\(stepLabel)\"" }
        let chain = callSites.map { "\($0.location) call \($0.group)" }.joined(separator: " > ")
        return "\(chain) > \(location) \"\(stepLabel)\""
    }

    /// One line: `step 3 "RCPT TO:<x@y>": expected 250, got 550 5.1.1 ...`.
    public var message: String {
        let suffix = attempts.map { " (after \($0) attempts)" } ?? ""
        if let expected { return "\(stepDescription): expected \(expected), got \(actual)\(suffix)" }
        return "\(stepDescription): \(actual)\(suffix)"
    }
}

/// How a scenario ended.
public enum ScenarioOutcome: Sendable, Hashable {
    /// Every step passed.
    case passed
    /// A step failed, or the scenario could not run.
    case failed(StepFailure)
    /// `skip:`; nothing ran.
    case skipped(reason: String)
    /// `xfail:` and it failed as expected (XFAIL): counts as passed.
    case expectedFailure(reason: String, failure: StepFailure)
    /// `xfail:` (strict) and it passed (XPASS): counts as failed.
    case unexpectedPass(reason: String)

    /// The six categories reports count.
    public enum Category: String, Sendable, Hashable, CaseIterable {
        case passed, failed, error, skipped, xfailed, xpassed
    }

    /// The category: a failure whose kind is an error counts as `error`.
    public var category: Category {
        switch self {
        case .passed: return .passed
        case .failed(let failure): return failure.kind.isError ? .error : .failed
        case .skipped: return .skipped
        case .expectedFailure: return .xfailed
        case .unexpectedPass: return .xpassed
        }
    }

    /// The failure, when it failed or could not run (not for an expected failure).
    public var failure: StepFailure? {
        if case .failed(let failure) = self { return failure }
        return nil
    }

    /// Whether it passed (not counting XFAIL).
    public var isPassed: Bool {
        if case .passed = self { return true }
        return false
    }

    /// Whether it counts against the run's exit code (failed, error, XPASS).
    public var isFailing: Bool { [.failed, .error, .xpassed].contains(category) }
}

/// A fact about one scenario's run for reports (the MX host used, say).
public struct ResultProperty: Sendable, Hashable {
    public let name: String
    public let value: String

    /// Creates a property.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The result of one scenario: outcome, timing, transcript, step records.
public struct ScenarioResult: Sendable, Hashable {
    /// Which scenario.
    public let identity: ScenarioIdentity
    /// How it ended.
    public let outcome: ScenarioOutcome
    /// The server it ran against, as shown in reports (`127.0.0.1:2525`, `mock (127.0.0.1:40123)`).
    public let server: String
    /// When it started (wall clock, for report timestamps).
    public let startedAt: Date
    /// How long it took.
    public let duration: Duration
    /// What was said.
    public let transcript: Transcript
    /// The steps that ran, in order (leaf steps, and each `retry` with its attempts). Only the `retry` steps when
    /// no reporter of the run reads step records (``Reporter/usesStepRecords``).
    public let steps: [StepRecord]
    /// Facts for reports (`smtp.mx-host`, ...).
    public let properties: [ResultProperty]

    /// Creates a result.
    public init(
        identity: ScenarioIdentity,
        outcome: ScenarioOutcome,
        server: String,
        startedAt: Date,
        duration: Duration,
        transcript: Transcript,
        steps: [StepRecord] = [],
        properties: [ResultProperty] = []
    ) {
        self.identity = identity
        self.outcome = outcome
        self.server = server
        self.startedAt = startedAt
        self.duration = duration
        self.transcript = transcript
        self.steps = steps
        self.properties = properties
    }

    /// The last step record that sent `verb` (`RCPT`), if any.
    public func lastStep(sending verb: String) -> StepRecord? { steps.last { $0.verb == verb } }

    /// Whether the run was interrupted before this scenario started: it has no transcript at all. The report files
    /// list such scenarios one by one (as `error` "interrupted"); the console and CI annotations only count them,
    /// so Ctrl-C on a large suite does not print a block for every scenario that never ran.
    public var interruptedBeforeStart: Bool {
        guard case .failed(let failure) = outcome, failure.kind == .interrupted else { return false }
        return transcript.entries.isEmpty
    }

    /// The most attempts any `retry` of the scenario needed, when more than one.
    public var retriedAttempts: Int? {
        let most = steps.compactMap(\.attempts).max()
        return most.map { $0 > 1 ? $0 : nil } ?? nil
    }
}

/// Counts by outcome, and how a run ended.
public struct RunSummary: Sendable, Hashable {
    /// Scenarios per category.
    public private(set) var counts: [ScenarioOutcome.Category: Int] = [:]
    /// When the run started.
    public let startedAt: Date
    /// How long it took.
    public var duration: Duration
    /// Whether Ctrl-C or SIGTERM cut it short.
    public var interrupted: Bool
    /// `K/N` when the run is one shard of a split plan.
    public let shard: String?

    /// Creates an empty summary.
    public init(startedAt: Date, duration: Duration = .zero, interrupted: Bool = false, shard: String? = nil) {
        self.startedAt = startedAt
        self.duration = duration
        self.interrupted = interrupted
        self.shard = shard
    }

    /// Counts one result.
    public mutating func add(_ outcome: ScenarioOutcome) { counts[outcome.category, default: 0] += 1 }

    /// The count of `category`.
    public func count(_ category: ScenarioOutcome.Category) -> Int { counts[category] ?? 0 }

    /// Every scenario counted.
    public var total: Int { counts.values.reduce(0, +) }

    /// 0 when nothing failed (skips and XFAIL allowed), 1 otherwise (failures, errors, XPASS).
    public var exitCode: Int32 { count(.failed) + count(.error) + count(.xpassed) == 0 ? 0 : 1 }
}

/// A whole run collected in memory: for tests and for tools that want every result at once. Runs of any size
/// should stream to a ``Reporter`` instead.
public struct RunResult: Sendable, Hashable {
    /// Every result, in plan order.
    public let allResults: [ScenarioResult]
    /// Counts and timing.
    public let summary: RunSummary

    /// Creates a collected run.
    public init(allResults: [ScenarioResult], summary: RunSummary) {
        self.allResults = allResults
        self.summary = summary
    }

    /// Whether Ctrl-C or SIGTERM cut it short.
    public var interrupted: Bool { summary.interrupted }

    /// 0 when nothing failed, 1 otherwise.
    public var exitCode: Int32 { summary.exitCode }
}

/// A file that did not compile, for reports: nothing of it ran.
public struct CompileFailure: Sendable, Hashable {
    /// The path as shown in diagnostics.
    public let file: String
    /// The report name of the file (its path with `/` as `.` and no extension).
    public let suite: String
    /// The line of its first error.
    public let line: Int
    /// How many errors.
    public let errorCount: Int
    /// The first error's message.
    public let firstMessage: String
    /// Every diagnostic of the file, rendered (`path:line:column: error: ...`, hints and notes).
    public let text: String

    /// Creates a record.
    public init(file: String, suite: String, line: Int, errorCount: Int, firstMessage: String, text: String) {
        self.file = file
        self.suite = suite
        self.line = line
        self.errorCount = errorCount
        self.firstMessage = firstMessage
        self.text = text
    }
}
