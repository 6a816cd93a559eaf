import Foundation
import LocatedYAML
import Logging
import NIOCore
import SMTPWire
import ScenarioLanguage

/// Runs one scenario on its own connection, step by step, recording the transcript.
///
/// Used by one task only. The first failing step ends the scenario: after a wrong reply the session is closed
/// politely with QUIT (at most 5 s); after a timeout or a protocol error the connection is dropped.
final class ScenarioExecution {
    /// How a failing step leaves the connection.
    enum Cleanup {
        case politeQuit
        case drop
    }

    /// A step that did not pass, and how to leave the session.
    struct Stop: Error {
        let failure: StepFailure
        let cleanup: Cleanup
    }

    /// Where a failure is reported: the step (nil for the connection and greeting), its label and location.
    struct Site {
        let stepNumber: String?
        let label: String
        let location: SourceLocation

        init(stepNumber: String?, label: String, location: SourceLocation) {
            self.stepNumber = stepNumber
            self.label = label
            self.location = location
        }

        init(_ step: Step, label: String) {
            self.init(stepNumber: step.number, label: label, location: step.location)
        }
    }

    static let quitTimeout: Duration = .seconds(5)

    let scenario: Scenario
    let endpoint: Endpoint
    let group: EventLoopGroup
    let logger: Logger
    private let start = ContinuousClock.now
    private(set) var transcript = Transcript()
    /// The replies checks were made against.
    private(set) var replies: [StepReply] = []
    var redactor: Redactor
    var variables: [String: String] = [:]
    var connection: SMTPConnection?
    /// Extensions from the last EHLO reply; cleared by STARTTLS and reconnect.
    var capabilities: EHLOCapabilities?
    var inData = false
    var quitSent = false

    init(scenario: Scenario, endpoint: Endpoint, group: EventLoopGroup, logger: Logger, extraSecrets: [String]) {
        self.scenario = scenario
        self.endpoint = endpoint
        self.group = group
        self.logger = logger
        self.redactor = Redactor(secrets: scenario.secretValues + extraSecrets)
        variables["server.host"] = endpoint.host
        variables["server.port"] = String(endpoint.port)
    }

    // MARK: - Running

    /// Runs the scenario to its end and returns how it ended.
    func run() async -> ScenarioOutcome {
        note("scenario \"\(scenario.name)\" (\(scenario.location.fileAndLine)) against \(endpoint.displayName)")
        do throws(Stop) {
            try await connectAndGreet(
                expectation: scenario.greeting,
                captures: scenario.greetingCaptures,
                at: Site(stepNumber: nil, label: "greeting", location: scenario.location)
            )
            for step in scenario.steps {
                if Task.isCancelled { throw interrupted(at: step) }
                try await execute(step)
            }
        } catch {
            note("FAILED: \(error.failure.message)")
            logger.debug(
                "scenario failed",
                metadata: ["scenario": "\(scenario.name)", "failure": "\(error.failure.message)"]
            )
            await cleanUp(error.cleanup)
            return .failed(error.failure)
        }
        await finishSession()
        logger.debug("scenario passed", metadata: ["scenario": "\(scenario.name)"])
        return .passed
    }

    /// Connects, starts implicit TLS when asked, reads and checks the greeting.
    func connectAndGreet(
        expectation: Expectation,
        captures: [Capture],
        at site: Site
    ) async throws(Stop) {
        let connection: SMTPConnection
        do {
            connection = try await SMTPConnection.open(
                host: endpoint.host,
                port: endpoint.port,
                timeout: scenario.connectTimeout,
                group: group
            )
        } catch {
            note(error.description)
            throw stop(.connection, at: site, expected: nil, actual: error.description, cleanup: .drop)
        }
        self.connection = connection
        variables["server.ip"] = connection.remoteIP
        note("connected to \(connection.remoteIP):\(endpoint.port)")
        logger.debug("connected", metadata: ["server": "\(endpoint.displayName)", "ip": "\(connection.remoteIP)"])
        var tlsExpectation: TLSExpectation?
        if case .reply(let reply) = expectation { tlsExpectation = reply.tls }
        if endpoint.implicitTLS {
            if try await handshake(tlsExpectation: tlsExpectation, at: site) { return }
        }
        let outcome = await read(timeout: scenario.replyTimeout)
        _ = try expectReply(outcome, expectation, timeout: scenario.replyTimeout, captures: captures, at: site)
    }

    /// Sends QUIT after a passing scenario unless it already did, is inside DATA, or the server closed.
    private func finishSession() async {
        guard let connection else { return }
        if !quitSent, !inData, connection.isActive {
            await sendQuit()
        }
        await connection.close()
        self.connection = nil
    }

    private func cleanUp(_ cleanup: Cleanup) async {
        guard let connection else { return }
        if cleanup == .politeQuit, !inData, !quitSent, connection.isActive {
            await sendQuit()
        }
        await connection.close()
        self.connection = nil
    }

    /// Sends QUIT and reads replies for at most 5 s until the 221 (earlier pipelined replies may come first).
    private func sendQuit() async {
        guard let connection else { return }
        sent("QUIT")
        var buffer = ByteBuffer()
        SMTPCommandLine.encode("QUIT", into: &buffer)
        guard (try? await connection.write(buffer)) != nil else { return }
        let deadline = ContinuousClock.now + Self.quitTimeout
        while ContinuousClock.now < deadline {
            switch await read(timeout: deadline - ContinuousClock.now) {
            case .reply(let reply, _):
                if reply.code == 221 { return }
            case .timedOut:
                note("no reply to QUIT within \(DurationSyntax.format(Self.quitTimeout))")
                return
            default:
                return
            }
        }
    }

    // MARK: - Reading and checking

    /// Reads one reply and records it.
    func read(timeout: Duration) async -> ReadOutcome {
        guard let connection else { return .closed(.orderly, partial: []) }
        let outcome = await connection.readReply(timeout: timeout)
        switch outcome {
        case .reply(let reply, _):
            for line in reply.displayLines { received(line) }
        case .closed(let reason, let partial):
            if !partial.isEmpty { received(ByteEscaping.escaped(partial) + " (incomplete)") }
            note(reason.description)
        case .timedOut(let partial):
            if !partial.isEmpty { received(ByteEscaping.escaped(partial) + " (incomplete)") }
        case .protocolError(let error):
            note("protocol error: \(error)")
        case .cancelled:
            note("interrupted")
        }
        return outcome
    }

    /// A failure at `site`, with what was expected and what happened masked for secrets.
    func stop(
        _ kind: StepFailure.Kind,
        at site: Site,
        expected: String?,
        actual: String,
        cleanup: Cleanup
    ) -> Stop {
        Stop(
            failure: StepFailure(
                kind: kind,
                stepNumber: site.stepNumber,
                stepLabel: site.label,
                location: site.location,
                expected: expected.map(redactor.mask),
                actual: redactor.mask(actual)
            ),
            cleanup: cleanup
        )
    }

    /// Checks `outcome` against `expectation` and applies `captures` to the reply; returns the reply when one
    /// was read and met the expectation.
    func expectReply(
        _ outcome: ReadOutcome,
        _ expectation: Expectation,
        timeout: Duration,
        captures: [Capture],
        at site: Site
    ) throws(Stop) -> Reply? {
        let reply = try check(outcome, against: expectation, timeout: timeout, at: site)
        if let reply { try apply(captures, to: reply, at: site) }
        return reply
    }

    /// Checks `outcome` against `expectation`; returns the reply when one was read and met the expectation.
    func check(
        _ outcome: ReadOutcome,
        against expectation: Expectation,
        timeout: Duration,
        at site: Site
    ) throws(Stop) -> Reply? {
        func stop(_ kind: StepFailure.Kind, _ expected: String?, _ actual: String, _ cleanup: Cleanup) -> Stop {
            self.stop(kind, at: site, expected: expected, actual: actual, cleanup: cleanup)
        }
        let waited = DurationSyntax.format(timeout)
        if case .reply(let reply, _) = outcome {
            replies.append(StepReply(step: site.stepNumber ?? "greeting", reply: reply))
        }
        switch (expectation, outcome) {
        case (_, .cancelled):
            throw stop(.interrupted, nil, "interrupted", .drop)
        case (.noReply, _):
            return nil
        case (.reply(let wanted), .reply(let reply, _)):
            if let mismatch = ReplyCheck.mismatch(of: reply, against: wanted, lookup: lookup) {
                throw stop(.unexpectedReply, ReplyCheck.describe(wanted), mismatch, .politeQuit)
            }
            return reply
        case (.reply(let wanted), .closed(let reason, let partial)):
            let kind: StepFailure.Kind = reason == .orderly ? .unexpectedReply : .connection
            throw stop(kind, ReplyCheck.describe(wanted), reason.description + partialNote(partial), .drop)
        case (.reply(let wanted), .timedOut(let partial)):
            throw stop(
                .timeout,
                ReplyCheck.describe(wanted),
                "no complete reply within \(waited)" + partialNote(partial),
                .drop
            )
        case (_, .protocolError(let error)):
            throw stop(.protocolViolation, expectation.summary, error.description, .drop)
        case (.closed, .closed):
            return nil
        case (.closed, .reply(let reply, _)):
            throw stop(.unexpectedReply, "the server to close the connection", ReplyCheck.describe(reply), .politeQuit)
        case (.closed, .timedOut(let partial)):
            throw stop(
                .unexpectedReply,
                "the server to close the connection",
                "the connection stayed open for \(waited)" + partialNote(partial),
                .drop
            )
        case (.nothing, .timedOut(let partial)) where partial.isEmpty:
            note("no reply within \(waited), as expected")
            return nil
        case (.nothing, .timedOut(let partial)):
            throw stop(.unexpectedReply, "no reply within \(waited)", "unsolicited bytes" + partialNote(partial), .drop)
        case (.nothing, .reply(let reply, _)):
            throw stop(.unexpectedReply, "no reply within \(waited)", ReplyCheck.describe(reply), .politeQuit)
        case (.nothing, .closed(let reason, _)):
            throw stop(.unexpectedReply, "no reply within \(waited)", reason.description, .drop)
        }
    }

    private func partialNote(_ partial: [UInt8]) -> String {
        partial.isEmpty ? "" : " (after an incomplete reply: \"\(ByteEscaping.escaped(partial.prefix(200)))\")"
    }

    /// Applies `captures` to a reply's text; a pattern that does not match fails the step.
    func apply(_ captures: [Capture], to reply: Reply, at site: Site) throws(Stop) {
        for capture in captures {
            guard let value = capture.regex.firstGroup(in: reply.text) else {
                throw stop(
                    .unexpectedReply,
                    at: Site(stepNumber: site.stepNumber, label: site.label, location: capture.location),
                    expected: "text matching \(capture.regex) to capture \(capture.name)",
                    actual: ReplyCheck.describe(reply),
                    cleanup: .politeQuit
                )
            }
            variables[capture.name] = value
            note("captured \(capture.name) = \(redactor.mask(value))")
        }
    }

    /// Run-time variable values: built-ins and captures.
    func lookup(_ name: String) -> String? { variables[name] }

    /// Resolves a template's run-time variables.
    func resolve(_ template: Template) -> String { template.resolve(lookup) }

    func interrupted(at step: Step) -> Stop {
        stop(
            .interrupted,
            at: Site(step, label: label(for: step)),
            expected: nil,
            actual: "interrupted before this step",
            cleanup: .drop
        )
    }

    // MARK: - Transcript

    private var elapsed: Int {
        let duration = ContinuousClock.now - start
        return Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Records a line sent (masked).
    func sent(_ line: String) { transcript.append(.client, redactor.mask(line), elapsedMilliseconds: elapsed) }

    /// Records a line received (masked).
    func received(_ line: String) { transcript.append(.server, redactor.mask(line), elapsedMilliseconds: elapsed) }

    /// Records a note (masked).
    func note(_ text: String) { transcript.append(.note, redactor.mask(text), elapsedMilliseconds: elapsed) }
}

extension Expectation {
    /// A short phrase for messages.
    var summary: String? {
        switch self {
        case .noReply: return nil
        case .reply(let reply): return ReplyCheck.describe(reply)
        case .closed: return "the server to close the connection"
        case .nothing: return "no reply"
        }
    }
}
