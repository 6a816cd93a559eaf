import ArgumentParser
import SMTPScenarioApp

/// `smtp-scenario explain`.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Say what a reply code and an enhanced status code mean, and what to check.",
        discussion: """
            Takes any leading part of a reply line. The meanings are RFC 5321's, RFC 4954's, RFC 3463's and the IANA \
            registry of enhanced status codes'; failure messages use the same table.

            Examples:
              smtp-scenario explain 550
              smtp-scenario explain 5.7.1
              smtp-scenario explain "550 5.7.1 Relay access denied"
            """
    )

    @Argument(help: ArgumentHelp("A reply code, an enhanced code, or a reply line.", valueName: "REPLY"))
    var reply: [String]

    func run() throws {
        throw ExitCode(ExplainPipeline.run(reply.joined(separator: " "), output: .standard))
    }
}
