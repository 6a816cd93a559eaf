import ArgumentParser
import Dispatch
import Foundation
import Reports
import SMTPScenarioApp

/// `smtp-scenario record`.
struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Type an SMTP session as in telnet; it is written as a scenario that replays it.",
        discussion: """
            Every line typed is sent, every reply shown with its meaning, and recorded as a step expecting that \
            reply's code (and enhanced code). After a 354 type the message and end it with a lone dot. :help \
            lists the commands for what cannot be typed (:starttls, :auth MECH USER, :wait, :expect, :quit). \
            On a terminal there is line editing and history; from a pipe it reads lines as they come. End of \
            input writes the file like :quit; Ctrl-C leaves without writing anything.

            Exit codes: 0 the scenario was written, 1 no session with the server (nothing written), 2 usage error.

            Examples:
              smtp-scenario record --server 127.0.0.1:25 --out session.yaml
              smtp-scenario record --server mx:example.com --out mx.yaml < session.txt
            """
    )

    @Option(
        help: ArgumentHelp(
            "The server: host:port, [::1]:2525, smtps://host:465, mx:DOMAIN[:PORT], mock, mock:FILE.",
            valueName: "HOST:PORT"
        )
    )
    var server: String

    @Option(help: ArgumentHelp("Where to write the scenario.", valueName: "FILE"))
    var out = "recorded.yaml"

    @Flag(help: "Replace --out if it exists.")
    var force = false

    @Option(help: ArgumentHelp("The scenario's name.", valueName: "NAME"))
    var name: String?

    @Option(help: ArgumentHelp("Trust this CA for TLS (recorded as tls: {ca: FILE}).", valueName: "FILE"))
    var tlsCA: String?

    @Flag(help: "Do not verify the server's certificate (recorded as tls: {verify: false}).")
    var insecure = false

    @Option(help: ArgumentHelp("How long a reply may take (default 30s).", valueName: "DURATION"))
    var timeout: String?

    @OptionGroup var dns: DNSArguments

    func validate() throws {
        if tlsCA != nil, insecure { throw ValidationError("--tls-ca and --insecure contradict each other") }
        if let timeout { _ = try CompileArguments.duration(timeout) }
        // Standard output shows the session as it happens; the scenario needs a file of its own.
        if out == "-" { throw ValidationError("--out - would write a file named '-': name the file to record into") }
    }

    func run() async throws {
        var configuration = RecordPipeline.Configuration()
        configuration.server = server
        configuration.outputPath = out
        configuration.force = force
        configuration.name = name
        configuration.caFile = tlsCA
        configuration.insecure = insecure
        if let timeout { configuration.replyTimeout = try CompileArguments.duration(timeout) }
        let input = StandardInput()
        let restoreTerminal = TerminalState.save()
        let signals = Self.leaveOnSignals(restoring: restoreTerminal)
        let resolver = EmbeddedMockResolver(dnsServer: try dns.server())
        let code = await RecordPipeline.run(configuration, resolver: resolver, input: input, output: .standard)
        for source in signals { source.cancel() }
        await resolver.shutdown()
        throw ExitCode(code)
    }

    /// Ctrl-C (or SIGTERM) leaves at once: the terminal restored, nothing written (the file is only ever written
    /// whole, at the end).
    private static func leaveOnSignals(restoring terminal: TerminalState?) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                terminal?.restore()
                StandardStream.error.write("\ninterrupted: nothing was written\n")
                Foundation.exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}

/// The terminal's settings at start, to put back if the program leaves in the middle of a line edit.
struct TerminalState: @unchecked Sendable {
    private let saved: termios

    /// The current settings of standard input, when it is a terminal.
    static func save() -> TerminalState? {
        guard isatty(STDIN_FILENO) == 1 else { return nil }
        var settings = termios()
        guard tcgetattr(STDIN_FILENO, &settings) == 0 else { return nil }
        return TerminalState(saved: settings)
    }

    /// Puts them back.
    func restore() {
        var settings = saved
        tcsetattr(STDIN_FILENO, TCSANOW, &settings)
    }
}
