import Foundation
import LocatedYAML
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SMTPWire
import ScenarioLanguage
import ScenarioResults

/// Runs one scenario on its own connection, step by step, recording the transcript and a record per step.
///
/// Not an actor: one task owns it (the scenario's, or the interactive session's), which the compiler checks, since
/// the class is not `Sendable`. Its async methods are nonisolated and run on the task executor the task prefers,
/// the event loop its connections live on (``PlanRunner`` and ``InteractiveSession`` set the preference): the
/// steps, the socket writes and the reply reader all run on that one thread, so a step costs no hop between threads
/// (a write is not awaited; the read of its reply completes on the loop and resumes the scenario there). As an actor
/// with the loop as its executor, each reply cost two trips through the loop's task queue instead of one: a
/// continuation resumes on the generic executor, and the code after it had to hop back to the actor; 28 such
/// trips a five-command session became 15, and a session 5% fewer instructions.
///
/// Below ``run()`` (and the interactive session's entry points) the async methods are `nonisolated(nonsending)`:
/// they run on their caller's executor, which is already the loop. A plain nonisolated async function switches to
/// the generic executor on entry and after every call it awaits; each switch looks up the task's executor
/// preference under the task's status lock, though the thread never changes. That was 88 switches a five-command
/// session; now 33 are left, and a session costs 2.7% fewer instructions (callgrind).
///
/// The first failing step ends the scenario (a `retry` may try its body again first): after a wrong reply the
/// session is closed politely with QUIT (at most 5 s); after a timeout or a protocol error the connection is
/// dropped.
final class ScenarioExecution {
    /// How a failing step leaves the connection.
    enum Cleanup {
        case politeQuit
        case drop
    }

    /// A step that did not pass, and how to leave the session.
    struct Stop: Error, Sendable {
        let failure: StepFailure
        let cleanup: Cleanup
    }

    /// Where a failure is reported: the step's path (empty for the connection and greeting), label and location.
    struct Site {
        let path: StepPath
        let label: String
        let location: SourceLocation
    }

    static let quitTimeout: Duration = .seconds(5)

    let scenario: Scenario
    /// The loop as the task executor the scenario's task prefers, for the scenario's whole life.
    let taskExecutor: EventLoopTaskExecutor
    /// The event loop the scenario runs on, and its connections with it.
    var loop: any EventLoop { taskExecutor.loop }
    /// Where the scenario connects by default.
    let endpoint: Endpoint
    /// Endpoints for `connect: {server: ...}` steps.
    let resolveServer: @Sendable (ServerRef?) async throws -> Endpoint
    let group: EventLoopGroup
    /// Per-server connection limits (`--max-connections-per-server`, `--rate`).
    let gate: ConnectionGate
    /// The embedded mock's store, for `delivered` steps.
    let messageLookup: (any StoredMessageLookup)?
    /// The server whose gate slot the open connection holds.
    private var gateSlot: String?
    let logger: Logger
    private let start = NIODeadline.now()
    private(set) var transcript = Transcript(reservingLines: 32)
    /// The steps that ran, as data (kept only when `keepsStepRecords`).
    private(set) var records: [StepRecord] = []
    /// Whether every step's record is kept: off when no report of the run reads them (a `retry`'s is kept anyway).
    let keepsStepRecords: Bool
    var redactor: Redactor
    /// Run-time variables by key: built-ins, captures, repeat indexes.
    var variables: [String: String] = [:]
    var connection: SMTPConnection? {
        didSet { openConnection.withLockedValue { $0 = connection } }
    }
    /// The open connection, for the cancellation handler (which runs on whichever thread cancels).
    private let openConnection = NIOLockedValueBox<SMTPConnection?>(nil)
    /// The endpoint of the open connection.
    var connectedEndpoint: Endpoint
    /// The host name of the open connection (for an `mx:` target, the MX host that answered): the TLS server name.
    var connectedHost: String
    /// The last successful EHLO (or LHLO) reply; cleared by HELO, STARTTLS and reconnect.
    var ehloReply: Reply?
    /// Extensions from the last EHLO reply, read when a step asks: most scenarios never do, and every EHLO would
    /// otherwise split a dozen lines into words for nothing.
    var capabilities: EHLOCapabilities? { ehloReply.map(EHLOCapabilities.init(reply:)) }
    var inData = false
    var quitSent = false
    /// The group calls on the way to the step running now, outermost first.
    var callSites: [CallSite] = []
    /// The queue id of the last message the server accepted in this scenario, when it named one.
    var lastQueueID: String?
    /// When the end of the last accepted message was sent (Maildir checks look at files from then on).
    var messageSentAt: Date?
    /// The MX host of the last `mx:` connection (reported as the `smtp.mx-host` property).
    private(set) var mxHost: String?

    init(
        scenario: Scenario,
        endpoint: Endpoint,
        resolveServer: @escaping @Sendable (ServerRef?) async throws -> Endpoint,
        group: EventLoopGroup,
        gate: ConnectionGate,
        messageLookup: (any StoredMessageLookup)?,
        logger: Logger,
        extraSecrets: [String],
        taskExecutor: EventLoopTaskExecutor? = nil,
        keepsStepRecords: Bool = true
    ) {
        self.keepsStepRecords = keepsStepRecords
        self.gate = gate
        self.messageLookup = messageLookup
        self.scenario = scenario
        self.endpoint = endpoint
        self.connectedEndpoint = endpoint
        self.connectedHost = endpoint.host
        self.resolveServer = resolveServer
        // One loop for the scenario's whole life: connections are opened on it, and the steps run on it. The
        // runner picks it before the scenario's task starts, so that the task starts there too.
        self.taskExecutor = taskExecutor ?? EventLoopTaskExecutor(group.next())
        self.group = self.taskExecutor.loop
        self.logger = logger
        self.redactor = Redactor(secrets: scenario.secretValues + extraSecrets)
        variables["server.host"] = endpoint.host
        variables["server.port"] = String(endpoint.port)
    }

    // MARK: - Running

    /// Runs the scenario to its end and returns how it ended. Interruption (task cancellation) ends the read
    /// that is waiting, if any; every later wait sees the cancellation at once.
    func run() async -> ScenarioOutcome {
        let open = openConnection
        return await withTaskCancellationHandler {
            await self.runSteps()
        } onCancel: {
            open.withLockedValue { $0 }?.cancelPendingRead()
        }
    }

    private nonisolated(nonsending) func runSteps() async -> ScenarioOutcome {
        note("scenario \"\(scenario.name)\" (\(scenario.location.fileAndLine)) against \(endpoint.displayName)")
        do throws(Stop) {
            if scenario.connectsAtStart {
                try await connectAndGreet(
                    endpoint,
                    expectation: scenario.greeting,
                    captures: scenario.greetingCaptures,
                    at: Site(path: StepPath(), label: "greeting", location: scenario.location)
                )
            } else {
                note("no connection yet (connect: false)")
            }
            try await execute(scenario.steps, under: StepPath())
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

    /// Notes how the scenario ended once `xfail` was applied; returns what its result keeps.
    func finish(as final: ScenarioOutcome) -> (Transcript, [StepRecord], mxHost: String?) {
        if case .expectedFailure(let reason, _) = final { note("XFAIL (\(reason)): failed as expected") }
        if case .unexpectedPass(let reason) = final {
            note("XPASS: passed although marked xfail (\(reason)); strict, so this fails")
        }
        return (transcript, records, mxHost)
    }

    /// Connects to `target`, starts implicit TLS when asked, reads and checks the greeting; returns it.
    @discardableResult
    nonisolated(nonsending) func connectAndGreet(
        _ target: Endpoint,
        expectation: Expectation,
        captures: [Capture],
        at site: Site
    ) async throws(Stop) -> Reply? {
        if !gate.isOpen {
            let server = "\(target.host):\(target.port)"
            guard await gate.acquire(server) else { throw interrupted(at: site) }
            gateSlot = server
        }
        let (connection, host) = try await open(target, at: site)
        self.connection = connection
        connectedEndpoint = target
        connectedHost = host
        ehloReply = nil
        inData = false
        quitSent = false
        variables["server.host"] = host
        variables["server.port"] = String(target.port)
        variables["server.ip"] = connection.remoteIP
        if target.candidates.isEmpty {
            note(
                "connected to \(HostPort.text(connection.remoteIP, target.port))"
                    + (target == endpoint ? "" : " (\(target.displayName))")
            )
        } else {
            note(
                "connected to MX host \(host) at \(HostPort.text(connection.remoteIP, target.port)) (\(target.displayName))"
            )
            mxHost = host
        }
        logger.debug("connected", metadata: ["server": "\(target.displayName)", "ip": "\(connection.remoteIP)"])
        var tlsExpectation: TLSExpectation?
        if case .reply(let reply) = expectation { tlsExpectation = reply.tls }
        if target.implicitTLS {
            if try await handshake(tlsExpectation: tlsExpectation, at: site) { return nil }
        }
        let outcome = await read(timeout: scenario.replyTimeout)
        return try expectReply(outcome, expectation, timeout: scenario.replyTimeout, captures: captures, at: site)
    }

    /// Opens a connection to `target`; for an `mx:` target, to each candidate address in turn until one connects
    /// (RFC 5321 5.1: a host that cannot be reached moves on to the next). Returns the connection and the host name.
    private nonisolated(nonsending) func open(
        _ target: Endpoint,
        at site: Site
    ) async throws(Stop) -> (SMTPConnection, String) {
        let attempts =
            target.candidates.isEmpty
            ? [Endpoint.Candidate(host: target.host, address: target.host, preference: nil)] : target.candidates
        var failures: [String] = []
        for candidate in attempts {
            if Task.isCancelled { throw interrupted(at: site) }
            do {
                let connection = try await SMTPConnection.open(
                    host: candidate.address,
                    port: target.port,
                    timeout: scenario.connectTimeout,
                    group: group
                )
                return (connection, candidate.host)
            } catch {
                if target.candidates.isEmpty {
                    note(error.description)
                    failures.append(error.description)
                } else {
                    let preference = candidate.preference.map { "MX \($0) " } ?? "implicit MX "
                    let failure = "\(preference)\(candidate.host): \(error.description)"
                    note(failure + (candidate == attempts.last ? "" : "; trying the next"))
                    failures.append(failure)
                }
            }
        }
        let actual =
            target.candidates.isEmpty
            ? failures.joined()
            : "no mail exchanger of \(target.displayName) could be reached: " + failures.joined(separator: "; ")
        throw stop(.connection, at: site, expected: nil, actual: actual, cleanup: .drop)
    }

    /// Sends QUIT after a passing scenario unless it already did, is inside DATA, or the server closed.
    nonisolated(nonsending) func finishSession() async {
        if let connection, !quitSent, !inData, connection.isActive {
            await sendQuit()
        }
        await dropConnection()
    }

    private nonisolated(nonsending) func cleanUp(_ cleanup: Cleanup) async {
        if let connection, cleanup == .politeQuit, !inData, !quitSent, connection.isActive {
            await sendQuit()
        }
        await dropConnection()
    }

    /// Closes the connection (if any) and gives back its slot at the per-server gate.
    nonisolated(nonsending) func dropConnection() async {
        if let connection {
            await connection.close()
            self.connection = nil
        }
        if let held = gateSlot {
            gateSlot = nil
            await gate.release(held)
        }
    }

    /// Sends QUIT and reads replies for at most 5 s until the 221 (earlier pipelined replies may come first).
    private nonisolated(nonsending) func sendQuit() async {
        guard let connection else { return }
        sent("QUIT")
        var buffer = ByteBuffer()
        SMTPCommandLine.encode("QUIT", into: &buffer)
        guard (try? await connection.write(buffer)) != nil else { return }
        let deadline = NIODeadline.now() + TimeAmount(Self.quitTimeout)
        while NIODeadline.now() < deadline {
            switch await read(timeout: .nanoseconds((deadline - NIODeadline.now()).nanoseconds)) {
            case .reply(let reply):
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
    nonisolated(nonsending) func read(timeout: Duration) async -> ReadOutcome {
        guard let connection else { return .closed(.orderly, partial: []) }
        let outcome = await connection.readReply(timeout: timeout)
        switch outcome {
        case .reply(let reply):
            for line in reply.displayLines { received(line) }
        case .closed(let reason, let partial):
            if !partial.isEmpty { received(ByteEscaping.escaped(partial) + " (incomplete)") }
            if let failure = connection.takeWriteFailure() { note(redactor.mask("write failed: \(failure)")) }
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
        mismatch: Mismatch? = nil,
        cleanup: Cleanup
    ) -> Stop {
        Stop(
            failure: StepFailure(
                kind: kind,
                path: site.path,
                stepLabel: site.label,
                location: site.location,
                callSites: callSites,
                expected: expected.map(redactor.mask),
                actual: redactor.mask(actual),
                mismatch: mismatch
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

    /// A reply as results keep it: escaped lines, secrets masked.
    func record(_ reply: Reply) -> ReplyRecord {
        ReplyRecord(
            code: reply.code,
            enhanced: reply.enhancedCode?.description,
            lines: reply.rawLines.map { redactor.mask(ByteEscaping.escaped($0.dropFirst(4))) }
        )
    }

    /// Checks `outcome` against `expectation`; returns the reply when one was read and met the expectation.
    func check(
        _ outcome: ReadOutcome,
        against expectation: Expectation,
        timeout: Duration,
        at site: Site
    ) throws(Stop) -> Reply? {
        // What a failure reports is put together only when there is one: most replies meet their expectation.
        var waited: String { DurationSyntax.format(timeout) }
        func stop(
            _ kind: StepFailure.Kind,
            _ expected: String?,
            _ actual: String,
            _ cleanup: Cleanup,
            reply: Reply? = nil,
            event: String? = nil,
            check: String = "event"
        ) -> Stop {
            let expectedCodes: [String]
            var expectedChecks: [String: String] = [:]
            switch expectation {
            case .reply(let wanted):
                expectedCodes = wanted.codes.map(\.description)
                expectedChecks = ReplyCheck.checks(of: wanted, lookup: lookup)
            case .closed:
                expectedCodes = []
                expectedChecks = ["event": "closed"]
            case .nothing:
                expectedCodes = []
                expectedChecks = ["event": "nothing"]
            case .noReply:
                expectedCodes = []
            }
            let mismatch = Mismatch(
                expectedCodes: expectedCodes,
                expectedChecks: expectedChecks,
                actualReply: reply.map(record),
                actualEvent: event,
                failedCheck: check
            )
            return self.stop(kind, at: site, expected: expected, actual: actual, mismatch: mismatch, cleanup: cleanup)
        }
        switch (expectation, outcome) {
        case (_, .cancelled):
            throw self.stop(.interrupted, at: site, expected: nil, actual: "interrupted", cleanup: .drop)
        case (.noReply, _):
            return nil
        case (.reply(let wanted), .reply(let reply)):
            if let failure = ReplyCheck.mismatch(of: reply, against: wanted, lookup: lookup) {
                throw stop(
                    .unexpectedReply,
                    ReplyCheck.describe(wanted),
                    failure.description,
                    .politeQuit,
                    reply: reply,
                    check: failure.check
                )
            }
            return reply
        case (.reply(let wanted), .closed(let reason, let partial)):
            let kind: StepFailure.Kind = reason == .orderly ? .unexpectedReply : .connection
            throw stop(
                kind,
                ReplyCheck.describe(wanted),
                reason.description + partialNote(partial),
                .drop,
                event: reason.event
            )
        case (.reply(let wanted), .timedOut(let partial)):
            throw stop(
                .timeout,
                ReplyCheck.describe(wanted),
                "no complete reply within \(waited)" + partialNote(partial),
                .drop,
                event: "timeout"
            )
        case (_, .protocolError(let error)):
            throw stop(.protocolViolation, expectation.summary, error.description, .drop, event: "protocol-error")
        case (.closed, .closed):
            return nil
        case (.closed, .reply(let reply)):
            throw stop(
                .unexpectedReply,
                "the server to close the connection",
                ReplyCheck.describe(reply),
                .politeQuit,
                reply: reply
            )
        case (.closed, .timedOut(let partial)):
            throw stop(
                .unexpectedReply,
                "the server to close the connection",
                "the connection stayed open for \(waited)" + partialNote(partial),
                .drop,
                event: "timeout"
            )
        case (.nothing, .timedOut(let partial)) where partial.isEmpty:
            note("no reply within \(waited), as expected")
            return nil
        case (.nothing, .timedOut(let partial)):
            throw stop(
                .unexpectedReply,
                "no reply within \(waited)",
                "unsolicited bytes" + partialNote(partial),
                .drop,
                event: "unsolicited-bytes"
            )
        case (.nothing, .reply(let reply)):
            throw stop(
                .unexpectedReply,
                "no reply within \(waited)",
                ReplyCheck.describe(reply),
                .politeQuit,
                reply: reply
            )
        case (.nothing, .closed(let reason, _)):
            throw stop(.unexpectedReply, "no reply within \(waited)", reason.description, .drop, event: reason.event)
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
                    at: Site(path: site.path, label: site.label, location: capture.location),
                    expected: "text matching \(capture.regex) to capture \(capture.name)",
                    actual: ReplyCheck.describe(reply),
                    mismatch: Mismatch(
                        expectedCodes: [],
                        expectedChecks: ["capture": "\(capture.name) \(capture.regex)"],
                        actualReply: record(reply),
                        failedCheck: "capture"
                    ),
                    cleanup: .politeQuit
                )
            }
            variables[capture.key] = value
            note("captured \(capture.name) = \(Self.printable(redactor.mask(value)))")
        }
    }

    /// `text` as one line of a transcript or report: control characters (a capture can hold a line break) as
    /// `\xNN`, the rest as is. Mask secrets first: an escaped secret would no longer match its mask.
    static func printable(_ text: String) -> String {
        // Nearly always nothing to escape: one scan, no copy.
        guard text.containsUTF8Byte(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else { return text }
        return ByteEscaping.escaped(Array(text.utf8))
    }

    /// Run-time variable values: built-ins, captures, repeat indexes, by key.
    func lookup(_ key: String) -> String? { variables[key] }

    /// Resolves a template's run-time variables.
    func resolve(_ template: Template) -> String { template.resolve(lookup) }

    func interrupted(at site: Site) -> Stop {
        stop(.interrupted, at: site, expected: nil, actual: "interrupted before this step", cleanup: .drop)
    }

    // MARK: - Records and transcript

    /// Milliseconds since the scenario started.
    var elapsed: Int {
        Int((NIODeadline.now() - start).nanoseconds / 1_000_000)
    }

    /// Keeps the record of `step`, run at `site`: its verdict, and the time since `started` (zero when the step
    /// takes no time of its own). When no report reads records, only a `retry`'s is kept (its attempts are in every
    /// report, as ``ScenarioResult/retriedAttempts``); for the other steps nothing is built, reply lines included.
    func keepRecord(
        of step: Step,
        at site: Site,
        _ verdict: StepRecord.Verdict,
        since started: NIODeadline? = nil,
        verb: String? = nil,
        sent: @autoclosure () -> String? = nil,
        reply: @autoclosure () -> ReplyRecord? = nil,
        attempts: Int? = nil
    ) {
        guard keepsStepRecords || attempts != nil else { return }
        records.append(
            StepRecord(
                path: site.path,
                location: step.location,
                label: site.label,
                verb: verb,
                sent: sent(),
                reply: reply(),
                verdict: verdict,
                duration: started?.elapsed ?? .zero,
                attempts: attempts
            )
        )
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

extension CloseReason {
    /// `closed` or `reset`, for mismatch data.
    var event: String {
        switch self {
        case .orderly: return "closed"
        case .reset: return "reset"
        }
    }
}
