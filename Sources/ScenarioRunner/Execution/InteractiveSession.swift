import Logging
import NIOCore
import NIOPosix
import SMTPWire
import ScenarioLanguage
import ScenarioResults

/// A session a person drives one step at a time (`smtp-scenario record`). Each step runs exactly as in a
/// scenario, through the same execution code (transcript, secret masking, STARTTLS checks, SASL), but accepts
/// whatever the server answers: the caller shows the reply and records it as the step's expectation.
public final class InteractiveSession {
    /// How the session connects and how long it waits.
    public struct Settings: Sendable {
        /// TLS for `starttls` and implicit TLS (verification, CA file, pin).
        public var tls = TLSOptions()
        /// How long a reply may take.
        public var replyTimeout: Duration = .seconds(30)
        /// How long the TCP connection may take.
        public var connectTimeout: Duration = .seconds(10)

        /// The defaults.
        public init() {}
    }

    /// What one step produced.
    public struct Outcome: Sendable {
        /// The transcript lines the step added (the reply's lines, notes such as the TLS session), to show.
        public let entries: [Transcript.Entry]
        /// The server's final reply, when one arrived.
        public let reply: ReplyRecord?
        /// Why the step did not get a reply (no reply in time, the connection closed, a failed handshake).
        public let problem: String?
        /// Whether the connection is still open.
        public let connected: Bool
        /// Whether the server now waits for message content (it answered DATA with 354).
        public let awaitingContent: Bool
    }

    private let execution: ScenarioExecution
    private let settings: Settings
    private var stepNumber = 0

    /// Prepares a session with `endpoint`; nothing connects before ``connect()``. `secrets` are masked in the
    /// transcript like a scenario's passwords.
    public init(
        endpoint: Endpoint,
        settings: Settings,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        secrets: [String] = []
    ) {
        self.settings = settings
        let scenario = Scenario(
            identity: ScenarioIdentity(
                name: "recorded session",
                location: SourceLocation(file: "record", line: 1, column: 1),
                suite: "record"
            ),
            server: nil,
            greeting: Self.anyReply,
            greetingCaptures: [],
            connectTimeout: settings.connectTimeout,
            replyTimeout: settings.replyTimeout,
            skipReason: nil,
            steps: [],
            tls: settings.tls,
            secretValues: secrets
        )
        execution = ScenarioExecution(
            scenario: scenario,
            endpoint: endpoint,
            resolveServer: { _ in endpoint },
            group: group,
            gate: ConnectionGate(maxConnections: nil, interval: nil),
            messageLookup: nil,
            logger: Logger(label: "smtp-scenario.record"),
            extraSecrets: []
        )
    }

    /// Everything said so far.
    public func transcript() async -> Transcript { execution.transcript }

    /// Whether the connection is open.
    public func isConnected() async -> Bool { execution.isConnected }

    /// Connects and reads the greeting.
    public func connect() async -> Outcome { await onLoop { await $0.interactiveConnect() } }

    /// Sends a command line as typed and reads its reply.
    public func send(_ line: String) async -> Outcome {
        await run(.send(Template(literal: line)), expecting: Self.anyReply)
    }

    /// Sends message content after a 354 (CRLF line endings, dot-stuffed, ended with CRLF.CRLF).
    public func sendContent(_ text: String) async -> Outcome {
        await run(.data(Template(literal: text)), expecting: Self.anyReply)
    }

    /// STARTTLS, its 220, and the TLS handshake.
    public func startTLS() async -> Outcome {
        await run(
            .startTLS(StartTLSAction(sendsCommand: true)),
            expecting: .reply(ReplyExpectation(codes: [.exact(220)]))
        )
    }

    /// The whole SASL exchange of `mechanism`; `secret` is masked in the transcript.
    public func authenticate(mechanism: SASLMechanism, username: String, secret: String) async -> Outcome {
        execution.addSecret(secret)
        return await run(
            .auth(
                AuthAction(
                    mechanism: mechanism,
                    username: Template(literal: username),
                    secret: Template(literal: secret)
                )
            ),
            expecting: Self.anyReply
        )
    }

    /// Reads the next reply without sending anything (an unsolicited reply, such as a 421 before closing).
    public func readReply() async -> Outcome { await run(.read, expecting: Self.anyReply) }

    /// Whether the server has sent something no step has read yet: a reply of its own after the last one.
    public func hasUnreadInput() async -> Bool { await onLoop { await $0.hasUnreadInput() } }

    /// Waits until the server closes the connection, at most `timeout`; true when it is closed.
    public func awaitClose(within timeout: Duration) async -> Bool {
        await onLoop { await $0.awaitServerClose(timeout) }
    }

    /// Sends QUIT unless it was sent, reads the 221 (at most 5 s), and closes.
    public func close() async { await onLoop { await $0.finishSession() } }

    static let anyReply = Expectation.reply(ReplyExpectation(codes: [.any]))

    private func run(_ action: StepAction, expecting expectation: Expectation) async -> Outcome {
        stepNumber += 1
        let step = Step(
            position: .step(stepNumber),
            name: nil,
            action: action,
            expectation: expectation,
            captures: [],
            timeout: settings.replyTimeout,
            location: SourceLocation(file: "record", line: stepNumber, column: 1)
        )
        return await onLoop { await $0.interactiveStep(step) }
    }

    /// Runs `body` preferring the execution's event loop as the task executor: the steps run on the loop their
    /// connection lives on, exactly as a scenario's do, whatever thread the caller is on.
    private func onLoop<T>(_ body: (ScenarioExecution) async -> T) async -> T {
        let execution = self.execution
        return await withTaskExecutorPreference(execution.taskExecutor) { await body(execution) }
    }
}

/// The steps of an interactive session, run on the execution's own event loop.
extension ScenarioExecution {
    var isConnected: Bool { connection?.isActive ?? false }

    func addSecret(_ secret: String) { redactor.add([secret]) }

    func hasUnreadInput() async -> Bool { await connection?.hasUnreadBytes() ?? false }

    func awaitServerClose(_ timeout: Duration) async -> Bool {
        guard let connection else { return true }
        return await connection.awaitClose(timeout: timeout)
    }

    func interactiveConnect() async -> InteractiveSession.Outcome {
        await interactive { () async throws(Stop) -> ReplyRecord? in
            let site = Site(path: StepPath(), label: "greeting", location: scenario.location)
            let greeting = try await connectAndGreet(
                endpoint,
                expectation: InteractiveSession.anyReply,
                captures: [],
                at: site
            )
            return greeting.map(record)
        }
    }

    func interactiveStep(_ step: Step) async -> InteractiveSession.Outcome {
        await interactive { () async throws(Stop) -> ReplyRecord? in
            let before = records.count
            try await execute(step, at: StepPath([step.position]))
            return records.count > before ? records.last?.reply : nil
        }
    }

    /// Runs `body`, then says what it added to the transcript and how the session stands.
    private func interactive(
        _ body: () async throws(Stop) -> ReplyRecord?
    ) async -> InteractiveSession.Outcome {
        let before = transcript.entries.count
        var reply: ReplyRecord?
        var problem: String?
        do {
            reply = try await body()
        } catch {
            problem = error.failure.actual
            reply = error.failure.mismatch?.actualReply
        }
        return InteractiveSession.Outcome(
            entries: Array(transcript.entries.dropFirst(before)),
            reply: reply,
            problem: problem,
            connected: isConnected,
            awaitingContent: inData
        )
    }
}
