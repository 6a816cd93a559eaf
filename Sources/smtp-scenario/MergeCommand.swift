import ArgumentParser
import SMTPScenarioApp

/// `smtp-scenario merge`.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the JUnit or JSON reports of several shards into one.",
        discussion: """
            Counts are summed and every testcase is kept once; inputs that overlap (the same testcase twice) or \
            are not reports of one format are refused (exit 2); an OUT that cannot be written is exit 74.

            Example:
              smtp-scenario merge report.xml shard-1.xml shard-2.xml shard-3.xml shard-4.xml
              smtp-scenario merge - shard-*.json > report.json
            """
    )

    @Argument(help: ArgumentHelp("The merged report to write (- for standard output).", valueName: "OUT"))
    var output: String

    @Argument(help: ArgumentHelp("The reports to merge (all JUnit XML, or all JSON).", valueName: "IN"))
    var inputs: [String]

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give the reports to merge after OUT") }
        guard !inputs.contains(output) else { throw ValidationError("OUT must not be one of the inputs") }
    }

    func run() throws {
        throw ExitCode(MergePipeline.run(output: output, inputs: inputs, console: .standard))
    }
}
