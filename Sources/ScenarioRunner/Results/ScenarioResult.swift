import Foundation
import LocatedYAML
import SMTPWire
import ScenarioLanguage

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
            case .unexpectedReply, .protocolViolation, .tls: return false
            case .timeout, .connection, .interrupted, .setup: return true
            }
        }
    }

    /// The kind.
    public let kind: Kind
    /// `3`, `3.2`, or nil for the connection and greeting.
    public let stepNumber: String?
    /// What the step did, for people: its name, or the command sent (secrets masked).
    public let stepLabel: String
    /// Where the step (or scenario) is written.
    public let location: SourceLocation
    /// The expectation in words (`250 (requested action completed)`), when there was one.
    public let expected: String?
    /// What happened instead (`550 5.1.1 <x>: Recipient address rejected (mailbox unavailable)`).
    public let actual: String

    /// Creates a failure.
    public init(
        kind: Kind,
        stepNumber: String?,
        stepLabel: String,
        location: SourceLocation,
        expected: String?,
        actual: String
    ) {
        self.kind = kind
        self.stepNumber = stepNumber
        self.stepLabel = stepLabel
        self.location = location
        self.expected = expected
        self.actual = actual
    }

    /// `step 3 "RCPT TO:<x@y>"` or `greeting`.
    public var stepDescription: String {
        guard let stepNumber else { return stepLabel }
        return "step \(stepNumber) \"\(stepLabel)\""
    }

    /// One line: `step 3 "RCPT TO:<x@y>": expected 250, got 550 5.1.1 ...`.
    public var message: String {
        if let expected { return "\(stepDescription): expected \(expected), got \(actual)" }
        return "\(stepDescription): \(actual)"
    }
}

/// How a scenario ended.
public enum ScenarioOutcome: Sendable, Hashable {
    case passed
    case failed(StepFailure)
    case skipped(reason: String)

    /// The failure, when it failed or could not run.
    public var failure: StepFailure? {
        if case .failed(let failure) = self { return failure }
        return nil
    }

    /// Whether it passed.
    public var isPassed: Bool {
        if case .passed = self { return true }
        return false
    }
}

/// The reply a step's check was made against, kept for tools that read results (relay-check, JSON reports).
public struct StepReply: Sendable, Hashable {
    /// The step number (`3`, `3.2`), or `greeting`.
    public let step: String
    /// The reply.
    public let reply: Reply
}

/// The result of one scenario: outcome, timing, transcript.
public struct ScenarioResult: Sendable, Hashable {
    /// The scenario as compiled.
    public let scenario: Scenario
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
    /// The replies steps were checked against, in order.
    public let replies: [StepReply]

    /// Creates a result.
    public init(
        scenario: Scenario,
        outcome: ScenarioOutcome,
        server: String,
        startedAt: Date,
        duration: Duration,
        transcript: Transcript,
        replies: [StepReply] = []
    ) {
        self.scenario = scenario
        self.outcome = outcome
        self.server = server
        self.startedAt = startedAt
        self.duration = duration
        self.transcript = transcript
        self.replies = replies
    }

    /// The reply checked at `step`, if any.
    public func reply(atStep step: String) -> Reply? { replies.last { $0.step == step }?.reply }
}

/// The results of one file, in scenario order.
public struct FileResult: Sendable, Hashable {
    /// The compiled file.
    public let file: ScenarioFile
    /// One result per scenario of the file that was selected to run.
    public let results: [ScenarioResult]

    /// Creates a file result.
    public init(file: ScenarioFile, results: [ScenarioResult]) {
        self.file = file
        self.results = results
    }
}

/// The results of a whole run.
public struct RunResult: Sendable, Hashable {
    /// Per file, in plan order.
    public let files: [FileResult]
    /// When the run started.
    public let startedAt: Date
    /// How long it took.
    public let duration: Duration
    /// Whether Ctrl-C or SIGTERM cut it short.
    public let interrupted: Bool

    /// Creates a run result.
    public init(files: [FileResult], startedAt: Date, duration: Duration, interrupted: Bool) {
        self.files = files
        self.startedAt = startedAt
        self.duration = duration
        self.interrupted = interrupted
    }

    /// Every scenario result in order.
    public var allResults: [ScenarioResult] { files.flatMap(\.results) }

    /// Counts by outcome.
    public var counts: (passed: Int, failed: Int, errors: Int, skipped: Int) {
        var counts = (passed: 0, failed: 0, errors: 0, skipped: 0)
        for result in allResults {
            switch result.outcome {
            case .passed: counts.passed += 1
            case .skipped: counts.skipped += 1
            case .failed(let failure) where failure.kind.isError: counts.errors += 1
            case .failed: counts.failed += 1
            }
        }
        return counts
    }

    /// 0 when everything passed or was skipped, 1 otherwise.
    public var exitCode: Int32 {
        let counts = self.counts
        return counts.failed + counts.errors == 0 ? 0 : 1
    }
}
