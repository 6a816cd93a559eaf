import Foundation

/// What a reporter learns before the first result.
public struct RunStart: Sendable, Hashable {
    /// When the run started.
    public let startedAt: Date
    /// How many scenarios the run will report (skipped ones included).
    public let scenarioCount: Int
    /// `K/N` when the run is one shard of a split plan.
    public let shard: String?

    /// Creates the start of a run.
    public init(startedAt: Date, scenarioCount: Int, shard: String? = nil) {
        self.startedAt = startedAt
        self.scenarioCount = scenarioCount
        self.shard = shard
    }
}

/// Receives a run's results as scenarios finish, in plan order, so every format is written by one streaming path
/// and none holds the whole run in memory longer than it must.
public protocol Reporter: Sendable {
    /// Before the first result.
    func runStarted(_ start: RunStart) async
    /// One scenario's result, in plan order.
    func scenarioFinished(_ result: ScenarioResult) async
    /// After the last result, also when the run was interrupted: the reporter finishes its output.
    func runFinished(_ summary: RunSummary) async
    /// Instead of a run: files that did not compile (nothing ran).
    func compilationFailed(_ failures: [CompileFailure], at date: Date) async
    /// Whether this reporter reads ``ScenarioResult/steps``. When no reporter of a run does, the runner keeps only
    /// the records of `retry` steps (``ScenarioResult/retriedAttempts`` reads them): a record per step, its reply's
    /// lines escaped a second time, was 5% of a runner session's instructions.
    var usesStepRecords: Bool { get }
}

extension Reporter {
    /// Most reports read the outcome and the transcript only.
    public var usesStepRecords: Bool { false }
    public func runStarted(_ start: RunStart) async {}
    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {}
}

/// Several reporters fed the same results, in order.
public struct ReporterGroup: Reporter {
    private let reporters: [any Reporter]

    /// Feeds every one of `reporters`.
    public init(_ reporters: [any Reporter]) { self.reporters = reporters }

    public func runStarted(_ start: RunStart) async {
        for reporter in reporters { await reporter.runStarted(start) }
    }

    public func scenarioFinished(_ result: ScenarioResult) async {
        for reporter in reporters { await reporter.scenarioFinished(result) }
    }

    public func runFinished(_ summary: RunSummary) async {
        for reporter in reporters { await reporter.runFinished(summary) }
    }

    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {
        for reporter in reporters { await reporter.compilationFailed(failures, at: date) }
    }

    public var usesStepRecords: Bool { reporters.contains { $0.usesStepRecords } }
}

/// Keeps every result in memory: for tests, and for small runs whose results are needed at once (relay-check).
public actor CollectingReporter: Reporter {
    /// The results so far, in plan order.
    public private(set) var results: [ScenarioResult] = []
    /// The summary, once the run finished.
    public private(set) var summary: RunSummary?

    /// Creates an empty collector.
    public init() {}

    public func scenarioFinished(_ result: ScenarioResult) async { results.append(result) }

    public func runFinished(_ summary: RunSummary) async { self.summary = summary }

    /// Results are kept whole.
    public nonisolated var usesStepRecords: Bool { true }

    /// The collected run (the summary of an unfinished run counts what arrived).
    public var run: RunResult {
        var fallback = RunSummary(startedAt: Date())
        for result in results { fallback.add(result.outcome) }
        return RunResult(allResults: results, summary: summary ?? fallback)
    }
}
