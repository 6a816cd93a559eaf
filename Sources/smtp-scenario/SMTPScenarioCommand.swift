import ArgumentParser

/// `smtp-scenario`: declarative SMTP test scenarios.
@main
struct SMTPScenarioCommand: AsyncParsableCommand {
    static let version = "0.1.0"

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
            """,
        version: version,
        subcommands: [RunCommand.self, ValidateCommand.self, ServeCommand.self, RelayCheckCommand.self]
    )
}
