import Foundation
import LocatedYAML
import Logging
import NIOCore
import NIOPosix
import ScenarioLanguage

/// How a run is carried out.
public struct RunOptions: Sendable {
    /// Scenarios run at the same time, each on its own connection.
    public var jobs = 4
    /// `--server`: replaces every scenario's and suite's `server`.
    public var serverOverride: ServerTarget?
    /// Where scenarios without any server go: the embedded mock.
    public var defaultTarget: ServerTarget = .mock(policyFile: nil)
    /// Values masked in every output besides those the plan knows (`--secret`).
    public var extraSecrets: [String] = []
    /// Where the runner logs connection-level detail.
    public var logger = Logger(label: "smtp-scenario.runner")
    /// At most one scenario starts per interval (`relay-check --rate`); nil starts them as fast as `jobs` allows.
    public var startInterval: Duration?
    /// The event loops connections use.
    public var group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// The defaults: 4 jobs, the embedded mock for scenarios without a server.
    public init() {}
}

/// Runs a compiled plan: scenarios concurrently (`jobs` at a time), results reported in file order.
public enum PlanRunner {
    /// Runs `plan`. `onResult` is called once per scenario, in plan order, as soon as the scenario and every one
    /// before it have finished. When the calling task is cancelled (Ctrl-C), running scenarios end as interrupted,
    /// the rest are reported as interrupted without running, and the result is still complete.
    public static func run(
        _ plan: Plan,
        options: RunOptions,
        resolver: any ServerResolver,
        onResult: @escaping @Sendable (ScenarioResult) async -> Void = { _ in }
    ) async -> RunResult {
        let startedAt = Date()
        let clock = ContinuousClock.now
        let scenarios = plan.files.flatMap(\.scenarios)
        var results = [ScenarioResult?](repeating: nil, count: scenarios.count)
        var nextToReport = 0
        await withTaskGroup(of: (Int, ScenarioResult).self) { group in
            var nextToStart = 0
            func startNext() {
                guard nextToStart < scenarios.count, !Task.isCancelled else { return }
                let index = nextToStart
                nextToStart += 1
                group.addTask {
                    if let interval = options.startInterval {
                        try? await Task.sleep(until: clock + interval * index, clock: .continuous)
                    }
                    return (index, await runScenario(scenarios[index], options: options, resolver: resolver))
                }
            }
            for _ in 0..<max(1, options.jobs) { startNext() }
            while let (index, result) = await group.next() {
                results[index] = result
                while nextToReport < scenarios.count, let ready = results[nextToReport] {
                    await onResult(ready)
                    nextToReport += 1
                }
                startNext()
            }
        }
        // Scenarios never started because the run was interrupted.
        for index in results.indices where results[index] == nil {
            let result = interruptedResult(scenarios[index])
            results[index] = result
            await onResult(result)
        }
        var offset = 0
        var files: [FileResult] = []
        for file in plan.files {
            let slice = results[offset..<offset + file.scenarios.count].compactMap { $0 }
            files.append(FileResult(file: file, results: Array(slice)))
            offset += file.scenarios.count
        }
        return RunResult(
            files: files,
            startedAt: startedAt,
            duration: ContinuousClock.now - clock,
            interrupted: Task.isCancelled
        )
    }

    /// Runs one scenario: skip, resolve the server, execute.
    static func runScenario(
        _ scenario: Scenario,
        options: RunOptions,
        resolver: any ServerResolver
    ) async
        -> ScenarioResult
    {
        let startedAt = Date()
        let clock = ContinuousClock.now
        let target = options.serverOverride ?? scenario.server ?? options.defaultTarget
        if let reason = scenario.skipReason {
            return ScenarioResult(
                scenario: scenario,
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
                stepNumber: nil,
                stepLabel: "server \(target)",
                location: scenario.location,
                expected: nil,
                actual: "cannot use server \(target): \(error)"
            )
            return ScenarioResult(
                scenario: scenario,
                outcome: .failed(failure),
                server: target.description,
                startedAt: startedAt,
                duration: ContinuousClock.now - clock,
                transcript: Transcript()
            )
        }
        let execution = ScenarioExecution(
            scenario: scenario,
            endpoint: endpoint,
            group: options.group,
            logger: options.logger,
            extraSecrets: options.extraSecrets
        )
        let outcome = await execution.run()
        return ScenarioResult(
            scenario: scenario,
            outcome: outcome,
            server: endpoint.displayName,
            startedAt: startedAt,
            duration: ContinuousClock.now - clock,
            transcript: execution.transcript,
            replies: execution.replies
        )
    }

    static func interruptedResult(_ scenario: Scenario) -> ScenarioResult {
        ScenarioResult(
            scenario: scenario,
            outcome: .failed(
                StepFailure(
                    kind: .interrupted,
                    stepNumber: nil,
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
