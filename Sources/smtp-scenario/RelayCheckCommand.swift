import ArgumentParser

/// `smtp-scenario relay-check` (the open-relay pack as a command).
struct RelayCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-check",
        abstract: "Check whether a server is an open relay (test only servers you are responsible for)."
    )

    func run() async throws {
        throw ExitCode(2)
    }
}
