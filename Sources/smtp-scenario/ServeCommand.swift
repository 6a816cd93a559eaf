import ArgumentParser
import SMTPScenarioApp

/// `smtp-scenario serve`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the mock SMTP server standalone, for testing mail clients and applications.",
        discussion: """
            Prints one log line per session; stops cleanly on SIGINT or SIGTERM. \
            Without --tls-cert/--tls-key a self-signed certificate is generated at start; its SHA-256 fingerprint \
            is printed so scenarios can pin it (tls: {pin-sha256: ...}).

            Example:
              smtp-scenario serve --listen 127.0.0.1:2525 --store ./mail
            """
    )

    @Option(help: ArgumentHelp("Address for plain SMTP with STARTTLS.", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:2525"

    @Option(help: ArgumentHelp("Also listen with implicit TLS (RFC 8314) here.", valueName: "HOST:PORT"))
    var tlsListen: String?

    @Option(help: ArgumentHelp("Policy file (see schemas/mock.schema.json).", valueName: "FILE"))
    var config: String?

    @Option(help: ArgumentHelp("Write each accepted message here as a .eml file.", valueName: "DIR"))
    var store: String?

    @Option(help: ArgumentHelp("PEM certificate chain for TLS.", valueName: "FILE"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key for TLS.", valueName: "FILE"))
    var tlsKey: String?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() async throws {
        var configuration = ServePipeline.Configuration()
        configuration.listen = listen
        configuration.tlsListen = tlsListen
        configuration.policyFile = config
        configuration.storeDirectory = store
        configuration.certificateFile = tlsCert
        configuration.keyFile = tlsKey
        let finalConfiguration = configuration
        let outcome = await Interruption.run(finishing: "stopping the server") {
            await ServePipeline.run(finalConfiguration, output: .standard) {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
        }
        // Stopped by SIGINT or SIGTERM is the normal end of serve: exit 0.
        throw ExitCode(outcome.value)
    }
}
