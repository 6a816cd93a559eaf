import Foundation
import LocatedYAML
import Reports
import SMTPWire
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner

/// `smtp-scenario record`: a telnet session with manners. Each line typed goes to the server, each reply is
/// shown with its meaning, and the whole session is written as a scenario that replays it.
public enum RecordPipeline {
    /// What `record` was asked to do.
    public struct Configuration: Sendable {
        /// The server: `host:port`, `smtps://host:port`, `mx:domain`, `mock`.
        public var server = ""
        /// Where the scenario goes.
        public var outputPath = "recorded.yaml"
        /// Replace an existing file.
        public var force = false
        /// The scenario's name (default: the session with the server).
        public var name: String?
        /// A CA file for STARTTLS and implicit TLS, recorded as `tls: {ca: FILE}`.
        public var caFile: String?
        /// Skip certificate verification, recorded as `tls: {verify: false}`.
        public var insecure = false
        /// How long a reply may take.
        public var replyTimeout: Duration = .seconds(30)
        /// The environment variable `auth` steps read their secret from.
        public var secretVariable = "SMTP_PASSWORD"

        /// The defaults.
        public init() {}
    }

    /// The `:` commands, for `:help`.
    static let help = """
        Type SMTP commands as in telnet; after a 354, type the message and end it with a line holding a single dot
        (dot-stuff lines that begin with a dot yourself, as in telnet). Commands:
          :starttls             STARTTLS and the TLS handshake (recorded as starttls: {})
          :auth MECH USER       AUTH PLAIN, LOGIN, CRAM-MD5 or XOAUTH2; the password is asked for without echo
                                and recorded as ${env.SMTP_PASSWORD} (XOAUTH2: the token, ${env.SMTP_TOKEN})
          :wait DURATION        pause (2s, 500ms), recorded as wait:
          :expect               read a reply the server sends unasked (a 421 before it closes)
          :quit                 QUIT, write the scenario and exit (also at end of input, Ctrl-D)
          :help                 this text
        Ctrl-C leaves without writing anything.
        """

    /// Records a session; returns the exit code: 0 once the file is written, 1 when the server could not be
    /// reached (nothing written), 2 for bad arguments.
    public static func run(
        _ configuration: Configuration,
        resolver: any ServerResolver,
        input: any LineInput,
        output: ConsoleOutput
    ) async -> Int32 {
        let directory = FileManager.default.currentDirectoryPath
        guard let target = ServerTarget.parse(configuration.server, relativeTo: directory) else {
            output.err("error: \(ServerTarget.serverOptionError(configuration.server))\n")
            return ExitCode.usage
        }
        if !configuration.force, FileManager.default.fileExists(atPath: configuration.outputPath) {
            output.err("error: \(configuration.outputPath) exists; choose another --out, or --force to replace it\n")
            return ExitCode.usage
        }
        let endpoint: Endpoint
        do {
            endpoint = try await resolver.endpoint(for: target)
        } catch {
            output.err("error: cannot use server \(target): \(error)\n")
            return ExitCode.failure
        }
        var settings = InteractiveSession.Settings()
        settings.replyTimeout = configuration.replyTimeout
        settings.tls.verify = !configuration.insecure
        settings.tls.caFile = configuration.caFile.map {
            URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: directory)).path
        }
        var recording = RecordedScenario(
            name: configuration.name ?? "Session with \(configuration.server)",
            server: configuration.server
        )
        recording.tlsCAFile = settings.tls.caFile
        recording.tlsVerify = settings.tls.verify
        let recorder = Recorder(
            session: InteractiveSession(endpoint: endpoint, settings: settings),
            input: input,
            output: output,
            secretVariable: configuration.secretVariable,
            recording: recording
        )
        guard await recorder.start() else {
            output.err("error: no session with \(target); nothing was written\n")
            return ExitCode.failure
        }
        if input.isTerminal { output.out("Recording to \(configuration.outputPath). Type :help for commands.\n") }
        await recorder.loop()
        return write(recorder.recording, to: configuration.outputPath, output: output)
    }

    /// Writes the scenario atomically after checking that it compiles.
    static func write(_ recording: RecordedScenario, to path: String, output: ConsoleOutput) -> Int32 {
        let text = recording.yaml()
        var options = CompileOptions()
        // AUTH steps read their secret from the environment at run time; the check needs only a value.
        for variable in ["SMTP_PASSWORD", "SMTP_TOKEN"] where options.environment[variable] == nil {
            options.environment[variable] = "placeholder"
        }
        let check = ScenarioCompiler.compile(source: text, displayPath: path, options: options)
        if check.file == nil {
            // A bug of ours; the session is not lost: it goes to standard error.
            output.err("error: the recorded scenario does not compile:\n")
            for diagnostic in check.diagnostics { output.err(diagnostic.description + "\n") }
            output.err(text)
            return ExitCode.failure
        }
        if let problem = AtomicFile(path: path).write({ $0(Data(text.utf8)) }) {
            output.err("error: \(problem)\n")
            output.err(text)
            return ExitCode.failure
        }
        let count = recording.steps.count
        output.out("wrote \(path) (\(count) step\(count == 1 ? "" : "s")); replay: smtp-scenario run \(path)\n")
        return ExitCode.success
    }
}

/// The loop of one recording: reads a line, runs it, shows the reply, records the step.
final class Recorder {
    let session: InteractiveSession
    let input: any LineInput
    let output: ConsoleOutput
    let secretVariable: String
    private(set) var recording: RecordedScenario

    init(
        session: InteractiveSession,
        input: any LineInput,
        output: ConsoleOutput,
        secretVariable: String,
        recording: RecordedScenario
    ) {
        self.session = session
        self.input = input
        self.output = output
        self.secretVariable = secretVariable
        self.recording = recording
    }

    /// Connects and shows the greeting; false when no greeting came.
    func start() async -> Bool {
        let outcome = await session.connect()
        show(outcome)
        recording.greeting = outcome.reply
        return outcome.reply != nil && outcome.connected
    }

    /// Reads and runs lines until `:quit`, QUIT, the end of input or the end of the connection.
    func loop() async {
        while await session.isConnected() {
            guard let line = await input.line(prompt: "smtp> ") else {
                if input.isTerminal { output.out("\n") }
                await quit()
                return
            }
            if !input.isTerminal { output.out("C: \(line)\n") }
            if line.hasPrefix(":") {
                if await command(line) { return }
                continue
            }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if await typed(line) { return }
        }
        output.out("# the server closed the connection\n")
    }

    /// A typed SMTP line; true when the session is over.
    private func typed(_ line: String) async -> Bool {
        switch SMTPCommandLine(line).verb {
        case .starttls?:
            await startTLS()
            return false
        case .auth?:
            output.err("not sent: type :auth MECHANISM USER, so the credentials never land in the scenario\n")
            return false
        case .bdat?:
            output.err("not sent: BDAT chunks cannot be typed; add a bdat: step to the scenario afterwards\n")
            return false
        default:
            break
        }
        let outcome = await session.send(line)
        show(outcome)
        recording.steps.append(.send(line, reply: outcome.reply))
        await followUnsolicited(after: outcome.reply)
        if outcome.awaitingContent { await content() }
        if SMTPCommandLine(line).verb == .quit { return true }
        return false
    }

    /// Message content after a 354, up to a line holding a single dot.
    private func content() async {
        var lines: [String] = []
        while true {
            guard let line = await input.line(prompt: "") else {
                output.err("end of input inside the message: it was not sent, nor recorded\n")
                return
            }
            if !input.isTerminal { output.out("C: \(line)\n") }
            if line == "." { break }
            // Un-stuffed as the server reads it (RFC 5321 4.5.2); the data step stuffs it again.
            lines.append(line.hasPrefix(".") ? String(line.dropFirst()) : line)
        }
        let text = lines.map { $0 + "\n" }.joined()
        let outcome = await session.sendContent(text)
        show(outcome)
        recording.steps.append(.data(text, reply: outcome.reply))
        await followUnsolicited(after: outcome.reply)
    }

    /// Replies the server sent on its own behind the last one (such as a 421 in the same write as a 500) are
    /// shown and recorded as `read` steps now, not taken for the answer to the next typed line. A 421 means the
    /// server is closing the channel (RFC 5321 3.8), so the session waits for that before asking for a line.
    private func followUnsolicited(after reply: ReplyRecord?) async {
        var last = reply
        while await session.hasUnreadInput() {
            let extra = await session.readReply()
            show(extra)
            guard let next = extra.reply else { break }
            recording.steps.append(.read(next))
            last = next
        }
        if last?.code == 421 { _ = await session.awaitClose(within: Self.closeAfter421) }
    }

    /// How long a server that said 421 gets to close the connection.
    static let closeAfter421: Duration = .seconds(5)

    /// A `:` command; true when the session is over.
    private func command(_ line: String) async -> Bool {
        let words = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch words.first?.lowercased() {
        case "quit"?, "q"?:
            await quit()
            return true
        case "starttls"?:
            await startTLS()
        case "auth"?:
            await auth(Array(words.dropFirst()))
        case "wait"?:
            guard words.count == 2, let duration = DurationSyntax.parse(words[1]), duration > .zero,
                duration <= .seconds(3600)
            else {
                output.err(":wait takes one duration up to 1h: :wait 2s, :wait 500ms\n")
                return false
            }
            try? await Task.sleep(for: duration)
            recording.steps.append(.wait(words[1]))
        case "expect"?:
            let outcome = await session.readReply()
            show(outcome)
            if let reply = outcome.reply { recording.steps.append(.read(reply)) }
        case "help"?, "h"?, "?"?:
            output.out(RecordPipeline.help + "\n")
        default:
            output.err("unknown command \(line); :help lists them\n")
        }
        return false
    }

    private func startTLS() async {
        let outcome = await session.startTLS()
        show(outcome)
        if outcome.problem == nil {
            recording.steps.append(.startTLS)
        } else {
            output.err("STARTTLS did not succeed; not recorded\n")
        }
    }

    private func auth(_ arguments: [String]) async {
        guard arguments.count == 2, let mechanism = SASLMechanism(rawValue: arguments[0].uppercased()) else {
            let names = SASLMechanism.allCases.map(\.rawValue).joined(separator: ", ")
            output.err(":auth takes a mechanism (\(names)) and a user name: :auth PLAIN alice\n")
            return
        }
        let usesToken = mechanism == .xoauth2
        let variable = usesToken ? "SMTP_TOKEN" : secretVariable
        let secret: String?
        if input.isTerminal {
            secret = await input.secret(
                prompt: "\(usesToken ? "Token" : "Password") for \(arguments[1]) (not recorded): "
            )
        } else {
            // From a pipe the secret comes from the environment, never from the typed session.
            secret = ProcessInfo.processInfo.environment[variable]
            if secret == nil { output.err(":auth from a pipe reads the secret from $\(variable), which is not set\n") }
        }
        guard let secret, !secret.isEmpty else { return }
        let outcome = await session.authenticate(mechanism: mechanism, username: arguments[1], secret: secret)
        show(outcome)
        recording.steps.append(
            .auth(
                mechanism: mechanism.rawValue,
                username: arguments[1],
                secretVariable: variable,
                usesToken: usesToken,
                reply: outcome.reply
            )
        )
    }

    private func quit() async {
        guard await session.isConnected() else { return }
        if !input.isTerminal { output.out("C: QUIT\n") }
        let outcome = await session.send("QUIT")
        show(outcome)
        recording.steps.append(.send("QUIT", reply: outcome.reply))
        await session.close()
    }

    /// Shows what a step added: the reply (its last line followed by its meaning), notes, and any problem.
    private func show(_ outcome: InteractiveSession.Outcome) {
        let serverLines = outcome.entries.filter { $0.direction == .server }.count
        var shownServer = 0
        for entry in outcome.entries {
            switch entry.direction {
            case .client:
                continue
            case .server:
                shownServer += 1
                var line = input.isTerminal ? entry.text : "S: " + entry.text
                if shownServer == serverLines, let reply = outcome.reply {
                    let enhanced = reply.enhanced.flatMap { EnhancedStatusCode($0) }
                    line += "  (" + StatusCodeRegistry.meaning(of: reply.code, enhanced: enhanced) + ")"
                }
                output.out(line + "\n")
            case .note:
                output.out("# \(entry.text)\n")
            }
        }
        // A problem the session already noted (a failed connect) is not said twice.
        if let problem = outcome.problem, outcome.reply == nil,
            !outcome.entries.contains(where: { $0.direction == .note && $0.text == problem })
        {
            output.out("# \(problem)\n")
        }
    }
}
