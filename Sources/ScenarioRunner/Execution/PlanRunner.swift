import Foundation
import LocatedYAML
import Logging
import NIOCore
import NIOPosix
import ScenarioLanguage
import ScenarioResults

/// How a run is carried out.
public struct RunOptions: Sendable {
    /// Scenarios run at the same time, each on its own connection.
    public var jobs = 4
    /// A bare `--server`: replaces every scenario's, suite's and `connect` step's server.
    public var serverOverride: ServerTarget?
    /// `--server NAME=ADDR`: replaces the `servers:` entry NAME wherever it is used.
    public var namedServers: [String: ServerTarget] = [:]
    /// Where scenarios without any server go: the embedded mock.
    public var defaultTarget: ServerTarget = .mock(policyFile: nil)
    /// Values masked in every output besides those the plan knows (`--secret`).
    public var extraSecrets: [String] = []
    /// Where the runner logs connection-level detail.
    public var logger = Logger(label: "smtp-scenario.runner")
    /// At most one scenario starts per interval (`relay-check --rate`); nil starts them as fast as `jobs` allows.
    public var startInterval: Duration?
    /// At most this many open connections to one server (`--max-connections-per-server`); nil is no limit.
    public var maxConnectionsPerServer: Int?
    /// At most this many new connections per second to one server (`run --rate`); nil is no limit.
    public var connectionsPerSecondPerServer: Double?
    /// `K/N` when this run is one shard of a split plan (for reports).
    public var shard: String?
    /// Where `delivered` steps find the messages the embedded mock accepted.
    public var messageLookup: (any StoredMessageLookup)?
    /// The event loops connections use.
    public var group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// The defaults: 4 jobs, the embedded mock for scenarios without a server.
    public init() {}

    /// The address `server` stands for under these options.
    public func target(for server: ServerRef?) -> ServerTarget {
        if let serverOverride { return serverOverride }
        if let name = server?.name, let named = namedServers[name] { return named }
        return server?.target ?? defaultTarget
    }
}

/// Runs a compiled plan: scenarios concurrently (`jobs` at a time), results streamed in plan order.
public enum PlanRunner {
    /// Runs `plan`, feeding `reporter` every result in plan order as soon as the scenario and every one before it
    /// have finished. When the calling task is cancelled (Ctrl-C), running scenarios end as interrupted, the rest
    /// are reported as interrupted without running, and the reporter still finishes. Step records are built for
    /// every step only when the reporter reads them (``Reporter/usesStepRecords``).
    @discardableResult
    public static func run(
        _ plan: Plan,
        options: RunOptions,
        resolver: any ServerResolver,
        reporter: any Reporter
    ) async -> RunSummary {
        let startedAt = Date()
        let clock = ContinuousClock.now
        var summary = RunSummary(startedAt: startedAt, shard: options.shard)
        let scenarios = plan.scenarios
        let gate = ConnectionGate(
            maxConnections: options.maxConnectionsPerServer,
            interval: options.connectionsPerSecondPerServer.map { .nanoseconds(Int64(1e9 / $0)) }
        )
        await reporter.runStarted(RunStart(startedAt: startedAt, scenarioCount: scenarios.count, shard: options.shard))
        let keepsStepRecords = reporter.usesStepRecords
        var pending: [Int: ScenarioResult] = [:]
        var nextToReport = 0
        // With one job, the run itself (report a result) prefers the one loop every scenario runs on: a scenario's
        // end, its report and the next connect follow each other on one thread, where a pool thread in between cost
        // two thread wake-ups per scenario. With more jobs it stays off the loops, so output that blocks (a slow pipe,
        // a paused terminal) holds up no open connection.
        let sharedLoop = options.jobs <= 1 ? EventLoopTaskExecutor(options.group.next()) : nil
        // One task a job runs scenario after scenario, taking the next itself (see ResultHandoff).
        let workers = min(max(1, options.jobs), scenarios.count)
        // With one job nothing is gained by gathering results: the run's task shares the scenarios' thread.
        let handoff = ResultHandoff(
            count: scenarios.count,
            writers: workers,
            capacity: max(256, 4 * workers),
            gathering: sharedLoop == nil ? .milliseconds(5) : nil
        )
        await withTaskExecutorPreference(sharedLoop) {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<workers {
                    // The task starts on the loop its connections will use and stays there, its results included:
                    // the loop thread does not hand a scenario to a pool thread and back.
                    let executor = sharedLoop ?? EventLoopTaskExecutor(options.group.next())
                    group.addTask(executorPreference: executor) {
                        defer { handoff.finishWriter() }
                        while !Task.isCancelled, let index = handoff.claim() {
                            if let interval = options.startInterval {
                                try? await Task.sleep(until: clock + interval * index, clock: .continuous)
                            }
                            let result = await runScenario(
                                scenarios[index],
                                options: options,
                                resolver: resolver,
                                gate: gate,
                                executor: executor,
                                keepsStepRecords: keepsStepRecords
                            )
                            await handoff.put((index, result), on: executor.loop)
                        }
                    }
                }
                while let batch = await handoff.take() {
                    for (index, result) in batch { pending[index] = result }
                    while let ready = pending.removeValue(forKey: nextToReport) {
                        summary.add(ready.outcome)
                        await reporter.scenarioFinished(ready)
                        nextToReport += 1
                    }
                }
            }
        }
        // Scenarios never started because the run was interrupted.
        while nextToReport < scenarios.count {
            let result = interruptedResult(scenarios[nextToReport])
            summary.add(result.outcome)
            await reporter.scenarioFinished(result)
            nextToReport += 1
        }
        summary.duration = ContinuousClock.now - clock
        summary.interrupted = Task.isCancelled
        await reporter.runFinished(summary)
        return summary
    }

    /// Runs `plan` and keeps every result in memory: for tests and small runs.
    public static func collect(_ plan: Plan, options: RunOptions, resolver: any ServerResolver) async -> RunResult {
        let collector = CollectingReporter()
        await run(plan, options: options, resolver: resolver, reporter: collector)
        return await collector.run
    }

    /// Runs one scenario in a task that prefers `executor` (its connection's loop): skip, resolve the server, execute,
    /// then apply `xfail`.
    static func runScenario(
        _ scenario: Scenario,
        options: RunOptions,
        resolver: any ServerResolver,
        gate: ConnectionGate,
        executor: EventLoopTaskExecutor,
        keepsStepRecords: Bool = true
    ) async -> ScenarioResult {
        let startedAt = Date()
        let clock = NIODeadline.now()
        let target = options.target(for: scenario.server)
        if let reason = scenario.skipReason {
            return ScenarioResult(
                identity: scenario.identity,
                outcome: .skipped(reason: reason),
                server: target.description,
                startedAt: startedAt,
                duration: .zero,
                transcript: Transcript()
            )
        }
        if Task.isCancelled { return interruptedResult(scenario) }
        let endpoint: Endpoint
        do {
            endpoint = try await resolver.endpoint(for: target)
        } catch {
            let failure = StepFailure(
                kind: .setup,
                stepLabel: "server \(target)",
                location: scenario.location,
                expected: nil,
                actual: "cannot use server \(target): \(error)"
            )
            return ScenarioResult(
                identity: scenario.identity,
                outcome: expected(scenario, .failed(failure)),
                server: target.description,
                startedAt: startedAt,
                duration: clock.elapsed,
                transcript: Transcript()
            )
        }
        let execution = ScenarioExecution(
            scenario: scenario,
            endpoint: endpoint,
            resolveServer: { server in try await resolver.endpoint(for: options.target(for: server)) },
            group: options.group,
            gate: gate,
            messageLookup: options.messageLookup,
            logger: options.logger,
            extraSecrets: options.extraSecrets,
            taskExecutor: executor,
            keepsStepRecords: keepsStepRecords
        )
        // The task already prefers `executor` (the task group added it so): the steps run on its loop.
        let outcome = await execution.run()
        let final = expected(scenario, outcome)
        let (transcript, records, mxHost) = execution.finish(as: final)
        return ScenarioResult(
            identity: scenario.identity,
            outcome: final,
            server: endpoint.displayName,
            startedAt: startedAt,
            duration: clock.elapsed,
            transcript: transcript,
            steps: records,
            properties: mxHost.map { [ResultProperty(name: "smtp.mx-host", value: $0)] } ?? []
        )
    }

    /// Applies the scenario's `xfail`: a failure matching it is XFAIL, a pass is XPASS (strict) or a pass.
    /// An error (could not run) stays an error unless `match` covers it.
    static func expected(_ scenario: Scenario, _ outcome: ScenarioOutcome) -> ScenarioOutcome {
        guard let xfail = scenario.expectedFailure else { return outcome }
        switch outcome {
        case .passed:
            return xfail.strict ? .unexpectedPass(reason: xfail.reason) : .passed
        case .failed(let failure) where failure.kind == .interrupted:
            return outcome
        case .failed(let failure):
            if let match = xfail.match {
                guard ReplyCheck.textMatches(match, failure.message, lookup: { _ in nil }) else { return outcome }
            } else if failure.kind.isError {
                return outcome
            }
            return .expectedFailure(reason: xfail.reason, failure: failure)
        default:
            return outcome
        }
    }

    static func interruptedResult(_ scenario: Scenario) -> ScenarioResult {
        ScenarioResult(
            identity: scenario.identity,
            outcome: .failed(
                StepFailure(
                    kind: .interrupted,
                    stepLabel: "scenario",
                    location: scenario.location,
                    expected: nil,
                    actual: "interrupted before it ran"
                )
            ),
            server: "",
            startedAt: Date(),
            duration: .zero,
            transcript: Transcript()
        )
    }
}
