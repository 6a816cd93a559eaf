import ArgumentParser
import Foundation
import SMTPScenarioApp

/// `smtp-scenario run`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenario files and report the results.",
        discussion: """
            Runs every scenario in the given files and folders (folders are searched for *.yaml and *.yml). \
            Without --server and without `server:` in the files, scenarios run against an embedded mock server.

            Exit codes: 0 all passed (skips allowed), 1 a scenario failed or could not run, 2 usage error or \
            invalid scenario files (nothing was run), 130/143 interrupted by SIGINT/SIGTERM (reports still written), \
            141 standard output closed by its reader (the run ends; reports still written), 74 a report file or \
            standard output could not be written.

            Example:
              smtp-scenario run scenarios/ --server 127.0.0.1:2525 --junit report.xml
            """
    )

    @Argument(help: "Scenario files or folders (default: scenarios/).")
    var paths: [String] = []

    @Option(
        help: ArgumentHelp(
            "Server for every scenario (host:port, [::1]:2525, smtps://host:465, mx:DOMAIN[:PORT], mock, mock:FILE), or NAME=ADDR for one of the files' named servers (repeatable).",
            valueName: "HOST:PORT"
        )
    )
    var server: [String] = []

    @Option(help: ArgumentHelp("Write a JUnit XML report.", valueName: "FILE"))
    var junit: String?

    @Flag(
        help:
            "Leave out what the Jenkins xUnit plugin's schema rejects (testcase file/line, testsuites skipped/timestamp)."
    )
    var junitStrict = false

    @Option(help: ArgumentHelp("Write the whole run as JSON (schemas/results.schema.json).", valueName: "FILE"))
    var json: String?

    @Option(help: ArgumentHelp("Write a TAP version 13 report (for prove).", valueName: "FILE"))
    var tap: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML report.", valueName: "FILE"))
    var html: String?

    @Option(
        help: ArgumentHelp(
            "CI annotations for failures: github (::error lines), none. Default: github when GITHUB_ACTIONS=true.",
            valueName: "KIND"
        )
    )
    var annotations: AnnotationChoice?

    @Flag(
        help: "Print the testcases the run would report (PATH:LINE NAME [tags]) and run nothing; with --json, as JSON."
    )
    var list = false

    @Option(
        help: ArgumentHelp(
            "Run shard K of N (K from 1): every N-th scenario, starting with the K-th.",
            valueName: "K/N"
        )
    )
    var shard: String?

    @Option(help: ArgumentHelp("At most N open connections to any one server.", valueName: "N"))
    var maxConnectionsPerServer: Int?

    @Option(help: ArgumentHelp("At most N new connections per second to any one server.", valueName: "N"))
    var rate: Double?

    @Option(help: "Scenarios run at the same time.")
    var jobs = 4

    @Option(
        name: .customLong("tag"),
        help: ArgumentHelp("Run only scenarios with this tag (repeatable).", valueName: "TAG")
    )
    var tags: [String] = []

    @Option(
        name: .customLong("exclude-tag"),
        help: ArgumentHelp("Leave out scenarios with this tag (repeatable).", valueName: "TAG")
    )
    var excludeTags: [String] = []

    @OptionGroup var compile: CompileArguments

    @OptionGroup var dns: DNSArguments

    @Flag(help: "Print every transcript, not only those of failures.")
    var verbose = false

    @Option(help: "Colour: auto (on a terminal, unless NO_COLOR is set), always, never.")
    var color: ColorChoice = .auto

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let shard, Shard(shard) == nil {
            throw ValidationError("--shard \(shard): expected K/N with 1 <= K <= N, e.g. --shard 2/4")
        }
        if let maxConnectionsPerServer, maxConnectionsPerServer < 1 {
            throw ValidationError("--max-connections-per-server must be at least 1")
        }
        if let rate, !(0.01...10_000).contains(rate) {
            throw ValidationError("--rate must be between 0.01 and 10000 connections per second")
        }
        try validateReportFiles()
    }

    /// Each report a file of its own, and none of them a scenario file given to run, which writing the report would
    /// destroy; both are found before anything runs rather than after the run has overwritten one.
    private func validateReportFiles() throws {
        let reports = [("--junit", junit), ("--json", list ? nil : json), ("--tap", tap), ("--html", html)]
            .compactMap { option, path in path.map { (option: option, path: $0) } }
        func file(_ path: String) -> String {
            URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        }
        for (index, report) in reports.enumerated() {
            // `-` would be a file named `-` in the current folder; only `--list --json -` means standard output.
            if report.path == "-" {
                throw dashReportPath(
                    report.option,
                    note: report.option == "--json" ? " (--json - goes with --list)" : ""
                )
            }
            if let earlier = reports[..<index].first(where: { file($0.path) == file(report.path) }) {
                throw ValidationError(
                    "\(earlier.option) \(earlier.path) and \(report.option) \(report.path) name the same file: each report needs its own"
                )
            }
            if let input = paths.first(where: { file($0) == file(report.path) }) {
                throw ValidationError(
                    "\(report.option) \(report.path) is the scenario file \(input): writing the report would overwrite it"
                )
            }
        }
    }

    func run() async throws {
        var configuration = RunConfiguration()
        configuration.jsonPath = list ? nil : json
        configuration.listJSON = list && json != nil
        configuration.list = list
        configuration.tapPath = tap
        configuration.htmlPath = html
        configuration.githubAnnotations = (annotations ?? .detected) == .github
        configuration.shard = shard.flatMap(Shard.init)
        configuration.maxConnectionsPerServer = maxConnectionsPerServer
        configuration.ratePerServer = rate
        configuration.paths = paths.isEmpty ? ["scenarios"] : paths
        configuration.compile = try compile.compileOptions()
        configuration.servers = server
        configuration.junitPath = junit
        configuration.junitStrict = junitStrict
        configuration.jobs = jobs
        configuration.tags = tags
        configuration.excludeTags = excludeTags
        configuration.verbose = verbose
        configuration.color = color.enabled
        let finalConfiguration = configuration
        try await runWithEmbeddedMock(dnsServer: try dns.server()) { resolver in
            await RunPipeline.run(finalConfiguration, resolver: resolver, output: .standard)
        }
    }
}

/// `smtp-scenario validate`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Compile scenario files and report errors without running anything.",
        discussion: "Exit codes: 0 every file compiles, 2 errors were found (each printed as path:line:column)."
    )

    @Argument(help: "Scenario files or folders (default: scenarios/).")
    var paths: [String] = []

    @OptionGroup var compile: CompileArguments

    func run() throws {
        let code = RunPipeline.validate(
            paths: paths.isEmpty ? ["scenarios"] : paths,
            options: try compile.compileOptions(),
            output: .standard
        )
        throw ExitCode(code)
    }
}
