import ArgumentParser
import Foundation
import Reports
import SMTPScenarioApp
import ScenarioRunner

/// `smtp-scenario`: declarative SMTP test scenarios.
@main
struct SMTPScenarioCommand: AsyncParsableCommand {
    static let version = SMTPScenarioVersion.current

    /// `run --list --json` prints the listing as JSON on standard output: a bare `--json` there means `--json -`.
    static func main() async {
        // A reader that goes away (`| head`) makes a write fail with EPIPE, which the output layer handles (the run
        // ends and still writes its reports), instead of killing the process before anything is written.
        signal(SIGPIPE, SIG_IGN)
        DescriptorLimit.raise()
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "run", arguments.contains("--list"), let json = arguments.firstIndex(of: "--json"),
            json + 1 == arguments.count || arguments[json + 1].hasPrefix("-") && arguments[json + 1] != "-"
        {
            arguments.insert("-", at: json + 1)
        }
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            fail(error, in: Self.self)
        }
        do {
            // Dispatched by concrete type: a cast to a protocol (`as? AsyncParsableCommand`) looks the conformance
            // up by scanning every conformance record of this static binary, 600,000 instructions (a tenth of a
            // millisecond and more) a cast, twice on every start.
            switch command {
            case var run as RunCommand: try await start(&run)
            case var serve as ServeCommand: try await start(&serve)
            case var relayCheck as RelayCheckCommand: try await start(&relayCheck)
            case var record as RecordCommand: try await start(&record)
            case var root as SMTPScenarioCommand: try root.run()  // no subcommand: ParsableCommand's run asks for help
            default:
                assert(!(command is AsyncParsableCommand), "\(type(of: command)) is async: dispatch it above")
                try command.run()
            }
        } catch {
            fail(error, in: Self.self)
        }
    }

    /// Runs a subcommand that may open connections, once the process's open-file limit allows it.
    private static func start<Command: AsyncParsableCommand & OpensConnections>(_ command: inout Command) async throws {
        // Before the loop count is first read, by the check below.
        if command.opensConnections, !Command.serves { EventLoopBudget.preferOneLoop() }
        if command.opensConnections, let problem = DescriptorLimit.startupProblem() {
            // EX_OSERR: the system cannot give what the run needs. Nothing has started yet.
            StandardStream.error.write(problem)
            Foundation.exit(71)
        }
        try await command.run()
    }

    /// Exits for `error`: usage errors with 2, like every other usage error of run and validate (the README's
    /// table), not ArgumentParser's 64.
    static func fail(_ error: Error, in command: ParsableCommand.Type) -> Never {
        // How every run, validate or serve ends: its own status, with nothing to print. ArgumentParser's
        // `exitCode(for:)` and `exit(withError:)` would each build the error's message first, help text included
        // (550,000 instructions at the end of every run).
        if let status = error as? ArgumentParser.ExitCode { Foundation.exit(status.rawValue) }
        if command.exitCode(for: error) == .validationFailure {
            StandardStream.error.write(command.fullMessage(for: error) + "\n")
            Foundation.exit(2)
        }
        command.exit(withError: error)
    }

    static let configuration = CommandConfiguration(
        commandName: "smtp-scenario",
        abstract: "Run declarative SMTP test scenarios against mail servers, with console and JUnit reports.",
        discussion: """
            Examples:
              smtp-scenario run scenarios/               # the embedded mock server
              smtp-scenario run scenarios/ --server 127.0.0.1:2525 --junit report.xml
              smtp-scenario validate scenarios/
              smtp-scenario serve --listen 127.0.0.1:2525 --store ./mail
              smtp-scenario relay-check --server mx.example.com:25 --junit relay.xml
              smtp-scenario record --server 127.0.0.1:25 --out session.yaml
              smtp-scenario explain "550 5.7.1"
            """,
        version: version,
        subcommands: [
            RunCommand.self, ValidateCommand.self, ServeCommand.self, RelayCheckCommand.self, MergeCommand.self,
            ExplainCommand.self, RecordCommand.self,
        ]
    )
}

/// A subcommand that opens connections, and so starts the event loops: the process's open-file limit is checked
/// before it runs (``DescriptorLimit/startupProblem()``).
protocol OpensConnections: SendableMetatype {
    /// False for a form of the command that connects nowhere (`run --list`).
    var opensConnections: Bool { get }

    /// True for a server (`serve`), whose listeners each keep a loop of the shared group; a client's connections
    /// share one loop (``EventLoopBudget/preferOneLoop()``).
    static var serves: Bool { get }
}

extension OpensConnections {
    static var serves: Bool { false }
}

extension RunCommand: OpensConnections {
    var opensConnections: Bool { !list }
}

extension ServeCommand: OpensConnections {
    var opensConnections: Bool { true }
    static var serves: Bool { true }
}

extension RelayCheckCommand: OpensConnections {
    var opensConnections: Bool { true }
}

extension RecordCommand: OpensConnections {
    var opensConnections: Bool { true }
}
