import ArgumentParser
import Foundation
import SMTPScenarioApp

/// `smtp-scenario relay-check`.
struct RelayCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-check",
        abstract: "Check whether a server is an open relay. Test only servers you are responsible for.",
        discussion: """
            Tries the 16 envelope forms of nmap's smtp-open-relay script, each in its own connection \
            (EHLO, MAIL, RCPT, QUIT), and never sends DATA unless --confirm-with-data is given.

            Exit codes: 0 not an open relay (every form refused), 1 OPEN RELAY (some form accepted), \
            2 bad input, 3 inconclusive (some form could not be tested and none was accepted).

            A server that refuses unresolvable domains refuses the default test domain whether or not it \
            relays: re-check with --domain set to a real external domain you control (never the server's own).

            Example (a CI step):
              smtp-scenario relay-check --server mx.example.com:25 --junit relay-check.xml
            """
    )

    @Option(
        help: ArgumentHelp(
            "The server to check (HOST:PORT, smtps://HOST:PORT, mx:DOMAIN[:PORT]).",
            valueName: "HOST:PORT"
        )
    )
    var server: String

    @OptionGroup var dns: DNSArguments

    @Option(help: ArgumentHelp("Foreign test domain D (default relay-test.invalid).", valueName: "DOMAIN"))
    var domain: String?

    @Option(help: ArgumentHelp("Local part F of the sender (default antispam).", valueName: "LOCALPART"))
    var from: String?

    @Option(help: ArgumentHelp("Local part T of the recipient (default relaytest).", valueName: "LOCALPART"))
    var to: String?

    @Option(help: ArgumentHelp("Write a JUnit XML report, one testcase per form.", valueName: "FILE"))
    var junit: String?

    @Flag(help: "JUnit without what the Jenkins xUnit plugin rejects.")
    var junitStrict = false

    @Option(help: ArgumentHelp("At most this many connections per second.", valueName: "N"))
    var rate: Double?

    @Flag(help: "Send a message through every accepted form, to --domain only (which must be yours).")
    var confirmWithData = false

    @Option(help: "Forms tested at the same time.")
    var jobs = 4

    @Option(help: ArgumentHelp("Per-reply timeout.", valueName: "DURATION"))
    var timeout: String?

    @Flag(help: "Print every transcript.")
    var verbose = false

    @Option(help: "Colour: auto, always, never.")
    var color: ColorChoice = .auto

    func validate() throws {
        if let rate, !(0.01...10_000).contains(rate) {
            throw ValidationError("--rate must be between 0.01 and 10000 connections per second")
        }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if junit == "-" { throw dashReportPath("--junit") }
        // They go into MAIL FROM and RCPT TO lines of every form: a space, bracket or line break would change or
        // split the command the check means to send.
        for (option, value, what) in [
            ("--from", from, "a local part (the text before @)"), ("--to", to, "a local part (the text before @)"),
            ("--domain", domain, "a domain name"),
        ] {
            if let value, value.isEmpty || value.unicodeScalars.contains(where: Self.breaksAnAddress) {
                throw ValidationError(
                    "\(option) must be \(what), without spaces, control characters, <, > or @; found "
                        + value.debugDescription
                )
            }
        }
    }

    private static func breaksAnAddress(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F
            || "<>@".unicodeScalars.contains(scalar)
    }

    func run() async throws {
        var configuration = RelayCheck.Configuration()
        configuration.server = server
        configuration.domain = domain
        configuration.from = from
        configuration.to = to
        configuration.junitPath = junit
        configuration.junitStrict = junitStrict
        configuration.rate = rate
        configuration.confirmWithData = confirmWithData
        configuration.jobs = jobs
        configuration.verbose = verbose
        configuration.color = color.enabled
        configuration.timeout = try timeout.map(CompileArguments.duration)
        let finalConfiguration = configuration
        try await runWithEmbeddedMock(dnsServer: try dns.server()) { resolver in
            await RelayCheck.run(finalConfiguration, resolver: resolver, output: .standard)
        }
    }
}
