import Foundation
import LocatedYAML
import MockServer
import Reports
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Synchronization

/// Where the pipeline writes: standard output for reports, standard error for diagnostics.
public struct ConsoleOutput: Sendable {
    /// Report lines.
    public let out: @Sendable (String) -> Void
    /// Diagnostics and notes.
    public let err: @Sendable (String) -> Void

    /// Creates an output pair.
    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.out = out
        self.err = err
    }

    /// The process's standard output and error; a write that fails drops the stream rather than the process.
    public static let standard = ConsoleOutput(
        out: { StandardStream.output.write($0) },
        err: { StandardStream.error.write($0) }
    )
}

/// Everything `smtp-scenario run` was asked to do.
public struct RunConfiguration: Sendable {
    /// Files and folders; default `scenarios/`.
    public var paths: [String] = ["scenarios"]
    /// Variables, secrets, environment, `--timeout`.
    public var compile = CompileOptions()
    /// `--server`, as written: one bare address (every target), and `NAME=ADDR` entries (named servers).
    public var servers: [String] = []
    /// `--tag`.
    public var tags: [String] = []
    /// `--exclude-tag`.
    public var excludeTags: [String] = []
    /// `--jobs`.
    public var jobs = 4
    /// `--junit FILE`.
    public var junitPath: String?
    /// `--junit-strict`.
    public var junitStrict = false
    /// `--json FILE`, `--tap FILE`, `--html FILE`.
    public var jsonPath: String?
    public var tapPath: String?
    public var htmlPath: String?
    /// `--annotations github`: GitHub Actions `::error` lines for failures (the CLI turns this on when
    /// `GITHUB_ACTIONS=true`).
    public var githubAnnotations = false
    /// `--list`: print the testcases the run would report and run nothing; `--list --json` as JSON.
    public var list = false
    public var listJSON = false
    /// `--shard K/N`.
    public var shard: Shard?
    /// `--max-connections-per-server N`, `--rate N` (new connections per second per server).
    public var maxConnectionsPerServer: Int?
    public var ratePerServer: Double?
    /// `--verbose`.
    public var verbose = false
    /// Colour in the console view.
    public var color = false

    /// The defaults of the command line.
    public init() {}
}

/// `--shard K/N`: this run is shard K (from 1) of N.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// Parses `K/N` with 1 <= K <= N; nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
            (1...count).contains(index)
        else { return nil }
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }
}

/// The tool's version, for `--version` and reports.
public enum SMTPScenarioVersion {
    public static let current = "0.2.0"
}

/// The exit codes of `run` and `validate`.
public enum ExitCode {
    /// Everything passed (skips allowed).
    public static let success: Int32 = 0
    /// A scenario failed or could not run.
    public static let failure: Int32 = 1
    /// Bad usage or invalid scenario files: nothing was run.
    public static let usage: Int32 = 2
    /// A report file (or standard output) could not be written: the run's result is not all on record (EX_IOERR).
    public static let outputFailed: Int32 = 74
}

/// Whether any report file failed to be written during a run, so the run cannot end with 0 while its JUnit file
/// is missing.
final class ReportWriteFailures: Sendable {
    private let count = Atomic<Int>(0)

    /// `output` whose error lines also count as failed report writes (reporters send only those there).
    func counting(_ output: ConsoleOutput) -> ConsoleOutput {
        ConsoleOutput(out: output.out) { [self] line in
            count.add(1, ordering: .relaxed)
            output.err(line)
        }
    }

    var any: Bool { count.load(ordering: .relaxed) > 0 }
}

/// The `run` and `validate` pipelines: files -> compiled plan -> run -> console and JUnit reports.
public enum RunPipeline {
    /// Files found and compiled, with every diagnostic printed.
    public struct Loaded: Sendable {
        /// The compiled plan (files without errors only).
        public let plan: Plan
        /// Every file's compilation, for reports of broken files.
        public let compilations: [FileCompilation]
        /// Whether any file has errors.
        public var hasErrors: Bool { compilations.contains(where: \.hasErrors) }
    }

    /// Finds and compiles the files under `paths`, printing diagnostics to `output.err` (each once, even when a
    /// library's problem is met through several files). Returns nil (after printing why) when the paths cannot be
    /// read.
    public static func load(paths: [String], options: CompileOptions, output: ConsoleOutput) -> Loaded? {
        let files: [String]
        do {
            files = try ScenarioDiscovery.files(in: paths)
        } catch {
            output.err("error: \(error)\n")
            return nil
        }
        if files.isEmpty {
            output.err("error: no scenario files (*.yaml, *.yml) in \(paths.joined(separator: ", "))\n")
            return nil
        }
        let compilations = ScenarioCompiler.compile(paths: files, options: options)
        var printed = Set<String>()
        var errorCount = 0
        for compilation in compilations {
            for diagnostic in compilation.diagnostics {
                let key = "\(diagnostic.severity)|\(diagnostic.location)|\(diagnostic.message)"
                guard printed.insert(key).inserted else { continue }
                if diagnostic.severity == .error { errorCount += 1 }
                output.err(diagnostic.description + "\n")
            }
        }
        if errorCount > 0 {
            let broken = compilations.filter(\.hasErrors).count
            output.err(
                "\(errorCount) error\(errorCount == 1 ? "" : "s") in \(broken) file\(broken == 1 ? "" : "s"); nothing was run\n"
            )
        }
        return Loaded(plan: Plan(files: compilations.compactMap(\.file)), compilations: compilations)
    }

    /// Compile failures as results data, for reports.
    static func compileFailures(_ compilations: [FileCompilation]) -> [CompileFailure] {
        compilations.filter(\.hasErrors).map { compilation in
            let errors = compilation.diagnostics.filter { $0.severity == .error }
            return CompileFailure(
                file: compilation.displayPath,
                suite: ScenarioFile.reportName(forPath: compilation.displayPath),
                line: errors.first?.location.line ?? 1,
                errorCount: errors.count,
                firstMessage: errors.first?.message ?? "invalid file",
                text: compilation.diagnostics.map(\.description).joined(separator: "\n")
            )
        }
    }

    /// `smtp-scenario validate`: compiles only. 0 when every file compiles, 2 otherwise.
    public static func validate(paths: [String], options: CompileOptions, output: ConsoleOutput) -> Int32 {
        guard let loaded = load(paths: paths, options: options, output: output) else { return ExitCode.usage }
        defer { ProcessLifetime.keepUntilExit(loaded) }
        if loaded.hasErrors { return ExitCode.usage }
        // The mock policy files the scenarios name are part of what `run` would refuse: check them the same way.
        guard policyFilesAreValid(loaded.plan, override: nil, output: output) else { return ExitCode.usage }
        let libraries = loaded.compilations.filter { $0.kind == .library }.count
        let files = loaded.compilations.count - libraries
        let scenarios = loaded.plan.scenarioCount
        var line = "\(files) file\(files == 1 ? "" : "s"), \(scenarios) scenario\(scenarios == 1 ? "" : "s")"
        if libraries > 0 { line += ", \(libraries) librar\(libraries == 1 ? "y" : "ies")" }
        output.out(line + ": OK\n")
        return ExitCode.success
    }

    /// `--server` values: at most one bare address (every target) and `NAME=ADDR` overrides of named servers.
    static func serverOptions(
        _ values: [String],
        plan: Plan,
        workingDirectory: String,
        into options: inout RunOptions,
        output: ConsoleOutput
    ) -> Bool {
        for value in values {
            if let equals = value.firstIndex(of: "="), !value.hasPrefix("mock:") {
                let name = String(value[..<equals])
                let address = String(value[value.index(after: equals)...])
                guard plan.serverNames.contains(name) else {
                    let known = plan.serverNames.sorted().joined(separator: ", ")
                    output.err(
                        "error: --server \(value): no file defines a server named '\(name)'"
                            + (known.isEmpty ? " (no file has servers:)" : " (named servers: \(known))") + "\n"
                    )
                    return false
                }
                guard let target = ServerTarget.parse(address, relativeTo: workingDirectory) else {
                    output.err(
                        "error: --server \(value): not a server address; \(ServerTarget.problem(with: address))\n"
                    )
                    return false
                }
                options.namedServers[name] = target
            } else {
                guard options.serverOverride == nil else {
                    output.err("error: --server \(value): only one --server may name every target; use NAME=ADDR\n")
                    return false
                }
                guard let target = ServerTarget.parse(value, relativeTo: workingDirectory) else {
                    output.err("error: \(ServerTarget.serverOptionError(value))\n")
                    return false
                }
                options.serverOverride = target
            }
        }
        return true
    }

    /// `smtp-scenario run`. Returns the exit code (0, 1, 2, or 74 when a report file could not be written) and
    /// whether the run was interrupted; the caller maps an interruption to 130/143 after this returns with the
    /// reports written.
    public static func run(
        _ configuration: RunConfiguration,
        resolver: any ServerResolver,
        output: ConsoleOutput
    ) async -> (exitCode: Int32, interrupted: Bool) {
        guard let loaded = load(paths: configuration.paths, options: configuration.compile, output: output) else {
            return (ExitCode.usage, false)
        }
        let reportFailures = ReportWriteFailures()
        let reportOutputs = fileReporters(configuration, output: reportFailures.counting(output))
        if loaded.hasErrors {
            let failures = compileFailures(loaded.compilations)
            for reporter in reportOutputs { await reporter.compilationFailed(failures, at: Date()) }
            return (ExitCode.usage, false)
        }
        let selected = loaded.plan.filtered(
            includingTags: configuration.tags,
            excludingTags: configuration.excludeTags
        )
        if selected.scenarioCount == 0 {
            var what: [String] = []
            if !configuration.tags.isEmpty { what.append("--tag \(configuration.tags.joined(separator: ", "))") }
            if !configuration.excludeTags.isEmpty {
                what.append("--exclude-tag \(configuration.excludeTags.joined(separator: ", "))")
            }
            output.err(
                "error: no scenarios left to run" + (what.isEmpty ? "" : " with \(what.joined(separator: " and "))")
                    + "\n"
            )
            return (ExitCode.usage, false)
        }
        let plan = configuration.shard.map { selected.shard($0.index, of: $0.count) } ?? selected
        if configuration.list {
            let entries = plan.scenarios.map { PlanListing.Entry(identity: $0.identity, skipReason: $0.skipReason) }
            output.out(
                configuration.listJSON
                    ? PlanListing.json(entries, shard: configuration.shard?.description) : PlanListing.text(entries)
            )
            return (ExitCode.success, false)
        }
        if let shard = configuration.shard, plan.scenarioCount == 0 {
            output.err(
                "shard \(shard) is empty: the selection has \(selected.scenarioCount) scenario\(selected.scenarioCount == 1 ? "" : "s") for \(shard.count) shards; nothing to run\n"
            )
        }
        var options = RunOptions()
        let (jobs, warning) = DescriptorLimit.clamp(jobs: max(1, configuration.jobs))
        if let warning { output.err(warning) }
        options.jobs = jobs
        options.extraSecrets = Array(configuration.compile.secrets.values)
        options.shard = configuration.shard?.description
        options.maxConnectionsPerServer = configuration.maxConnectionsPerServer
        options.connectionsPerSecondPerServer = configuration.ratePerServer
        guard
            serverOptions(
                configuration.servers,
                plan: loaded.plan,
                workingDirectory: configuration.compile.workingDirectory,
                into: &options,
                output: output
            )
        else { return (ExitCode.usage, false) }
        guard policyFilesAreValid(plan, override: options.serverOverride, output: output),
            deliveryChecksReachTheMock(plan, options: options, output: output)
        else {
            return (ExitCode.usage, false)
        }
        options.messageLookup = resolver.messageLookup
        var consoleOptions = ConsoleReport.Options()
        consoleOptions.color = configuration.color
        consoleOptions.verbose = configuration.verbose
        let reporters: [any Reporter] = [ConsoleReport(options: consoleOptions, write: output.out)] + reportOutputs
        let summary = await PlanRunner.run(
            plan,
            options: options,
            resolver: resolver,
            reporter: ReporterGroup(reporters)
        )
        return (reportFailures.any ? ExitCode.outputFailed : summary.exitCode, summary.interrupted)
    }

    /// The reporters beside the console: report files and CI annotations.
    static func fileReporters(_ configuration: RunConfiguration, output: ConsoleOutput) -> [any Reporter] {
        var reporters: [any Reporter] = []
        if let path = configuration.junitPath {
            var options = JUnitReport.Options()
            options.strict = configuration.junitStrict
            reporters.append(JUnitReporter(path: path, options: options, onError: output.err))
        }
        if let path = configuration.jsonPath {
            var options = JSONReport.Options()
            options.toolVersion = SMTPScenarioVersion.current
            reporters.append(JSONReporter(path: path, options: options, onError: output.err))
        }
        if let path = configuration.tapPath { reporters.append(TAPReporter(path: path, onError: output.err)) }
        if let path = configuration.htmlPath {
            var options = HTMLReport.Options()
            options.toolVersion = SMTPScenarioVersion.current
            reporters.append(HTMLReporter(path: path, options: options, onError: output.err))
        }
        if configuration.githubAnnotations { reporters.append(GitHubAnnotations(write: output.out)) }
        return reporters
    }

    /// A `delivered` step without `maildir` looks into the embedded mock's store: refuses (before anything runs) a
    /// run whose `--server` sends such a scenario elsewhere.
    static func deliveryChecksReachTheMock(_ plan: Plan, options: RunOptions, output: ConsoleOutput) -> Bool {
        for scenario in plan.scenarios where scenario.checksMockDelivery {
            let target = options.target(for: scenario.server)
            guard target.isMock else {
                output.err(
                    "error: \(scenario.location.fileAndLine): \"\(scenario.name)\" has a delivered step, which looks into the embedded mock's store, but it would run against \(target)\n"
                        + "  hint: run it against the mock, give the step a Maildir to watch (delivered: {maildir: PATH}), or leave it out"
                        + (scenario.tags.first.map { " (--exclude-tag \($0))" } ?? "") + "\n"
                )
                return false
            }
        }
        return true
    }

    /// Checks every mock policy file the run will use before anything runs, so a broken policy is a located
    /// usage error (exit 2) like a broken scenario, not a failure of each scenario that uses it.
    static func policyFilesAreValid(_ plan: Plan, override: ServerTarget?, output: ConsoleOutput) -> Bool {
        var files = Set<String>()
        // --server replaces every file's server, so only the policies actually used are checked.
        // File by file: `plan.scenarios` would copy every scenario of the plan into one more array.
        let targets = override.map { [$0] } ?? plan.files.lazy.flatMap(\.scenarios).flatMap(\.serverTargets)
        for target in targets {
            if case .mock(let file?) = target { files.insert(file) }
        }
        var valid = true
        for file in files.sorted() {
            let display = ScenarioCompiler.displayPath(
                for: file,
                workingDirectory: FileManager.default.currentDirectoryPath
            )
            let loaded = MockPolicy.load(path: file, displayPath: display)
            for diagnostic in loaded.diagnostics { output.err(diagnostic.description + "\n") }
            if loaded.policy == nil { valid = false }
        }
        if !valid { output.err("invalid mock policy; nothing was run\n") }
        return valid
    }

}

extension ServerTarget {
    /// The usage error for a `--server` value that is no server address (`run`, `record`, `relay-check`).
    static func serverOptionError(_ text: String) -> String {
        "--server \(text) is not a server address; \(problem(with: text))"
    }
}
