import Foundation
import LocatedYAML
import NIOCore
import SMTPAuth
import SMTPWire
import ScenarioLanguage
import ScenarioResults

/// The step kinds.
extension ScenarioExecution {
    /// What reports call a step: its name, or what it sends (secrets masked, then cut).
    /// `sendLine` is a send step's line when the caller has resolved it already.
    func label(for step: Step, sendLine: String? = nil) -> String {
        // Masked first, then cut: a cut must never leave part of a secret visible.
        if let name = step.name { return Abbreviation.text(Self.printable(redactor.mask(resolve(name))), limit: 200) }
        switch step.action {
        case .send(let template):
            return Abbreviation.text(Self.printable(redactor.mask(sendLine ?? resolve(template))), limit: 200)
        case .data: return "message content"
        case .bdat(let chunk): return chunk.last ? "BDAT LAST" : "BDAT"
        case .raw(.text(let template)):
            return "raw " + redactor.mask(ByteEscaping.escaped(Array(resolve(template).utf8).prefix(60)))
        case .raw(.bytes(let bytes)): return "raw \(bytes.count) bytes"
        case .wait(let duration): return "wait \(DurationSyntax.format(duration))"
        case .reconnect: return "reconnect"
        case .read: return "read reply"
        case .startTLS(let action): return action.sendsCommand ? "STARTTLS" : "TLS handshake"
        case .auth(let auth): return "AUTH \(auth.mechanism.rawValue)"
        case .pipeline(let pipeline): return "pipeline of \(pipeline.steps.count) commands"
        case .call(let call): return "call \(call.group)"
        case .repeatSteps(let loop): return "repeat \(loop.count)"
        case .retry(let retry): return "retry (\(retry.attempts) attempts)"
        case .fail(let reason): return "fail: " + Self.printable(redactor.mask(resolve(reason)))
        case .connect(let action): return "connect" + (action.server.map { " to \($0)" } ?? "")
        case .disconnect: return "disconnect"
        case .delivered(let check): return check.maildir.map { "delivered (Maildir \($0))" } ?? "delivered"
        }
    }

    /// Runs `steps` in order, each at its path under `prefix`.
    nonisolated(nonsending) func execute(_ steps: [Step], under prefix: StepPath) async throws(Stop) {
        for step in steps {
            let path = prefix.appending(step.position)
            if Task.isCancelled {
                throw interrupted(at: Site(path: path, label: label(for: step), location: step.location))
            }
            try await execute(step, at: path)
        }
    }

    /// Runs one step; throws ``ScenarioExecution/Stop`` when it fails.
    nonisolated(nonsending) func execute(_ step: Step, at path: StepPath) async throws(Stop) {
        // A send step's line is resolved once, for its label and for the wire.
        let sendLine: String? = if case .send(let template) = step.action { resolve(template) } else { nil }
        let label = label(for: step, sendLine: sendLine)
        let site = Site(path: path, label: label, location: step.location)
        let started = NIODeadline.now()
        switch step.action {
        case .send(let template):
            let line = try commandLine(sendLine ?? resolve(template), of: template, at: site)
            sent(line)
            var buffer = ByteBuffer()
            SMTPCommandLine.encode(line, into: &buffer)
            let command = SMTPCommandLine(line)
            let reply = try await recorded(
                step,
                at: site,
                since: started,
                verb: command.keyword,
                sent: redactor.mask(line)
            ) { () async throws(Stop) -> Reply? in
                try await exchange(buffer, step: step, at: site)
            }
            track(command: command, reply: reply)
        case .data(let template):
            let encoded = MessageData.encode(resolve(template))
            // The transcript shows the lines as sent: dot-stuffed, with the final ".".
            for line in Self.linesEndingInCRLF(encoded.readableBytesView) {
                sent(String(decoding: line, as: UTF8.self))
            }
            let sentAt = Date()
            let reply = try await recorded(step, at: site, since: started) { () async throws(Stop) -> Reply? in
                try await exchange(encoded, step: step, at: site)
            }
            inData = false
            noteAccepted(reply, sentAt: sentAt)
        case .bdat(let chunk):
            let bytes: [UInt8]
            switch chunk.payload {
            case .text(let template): bytes = MessageData.chunkContent(resolve(template))
            case .bytes(let raw): bytes = raw
            }
            let command = "BDAT \(bytes.count)" + (chunk.last ? " LAST" : "")
            sent(command)
            for line in Self.linesEndingInCRLF(bytes) {
                sent(ByteEscaping.escaped(Array(String(decoding: line, as: UTF8.self).utf8)))
            }
            if !bytes.isEmpty, bytes.suffix(2) != [UInt8(ascii: "\r"), UInt8(ascii: "\n")] {
                sent(ByteEscaping.escaped(bytes.suffix(80)) + "  (no CRLF at the end of the chunk)")
            }
            let sentAt = Date()
            let reply = try await recorded(step, at: site, since: started, verb: "BDAT", sent: command) {
                () async throws(Stop) -> Reply? in
                try await exchange(MessageData.bdat(bytes, last: chunk.last), step: step, at: site)
            }
            if chunk.last { noteAccepted(reply, sentAt: sentAt) }
        case .raw(let payload):
            let bytes: [UInt8]
            switch payload {
            case .text(let template): bytes = Array(resolve(template).utf8)
            case .bytes(let raw): bytes = raw
            }
            let shown = ByteEscaping.escaped(bytes)
            sent(shown + "  (raw, \(bytes.count) bytes)")
            _ = try await recorded(step, at: site, since: started, sent: redactor.mask(shown)) {
                () async throws(Stop) -> Reply? in
                try await exchange(ByteBuffer(bytes: bytes), step: step, at: site)
            }
        case .wait(let duration):
            try await pause(for: duration, at: site)
        case .reconnect:
            await dropConnection()
            note("reconnecting")
            let target = connectedEndpoint
            _ = try await recorded(step, at: site, since: started) { () async throws(Stop) -> Reply? in
                try await connectAndGreet(
                    target,
                    expectation: step.expectation,
                    captures: step.captures,
                    at: site
                )
                return nil
            }
        case .connect(let action):
            let target: Endpoint
            if let server = action.server {
                do {
                    target = try await resolveServer(server)
                } catch {
                    throw stop(
                        .setup,
                        at: site,
                        expected: nil,
                        actual: "cannot use server \(server): \(error)",
                        cleanup: .drop
                    )
                }
            } else {
                target = endpoint
            }
            _ = try await recorded(step, at: site, since: started) { () async throws(Stop) -> Reply? in
                try await connectAndGreet(
                    target,
                    expectation: step.expectation,
                    captures: step.captures,
                    at: site
                )
                return nil
            }
        case .disconnect:
            await dropConnection()
            ehloReply = nil
            inData = false
            note("disconnected without QUIT")
            keepRecord(of: step, at: site, .passed)
        case .read:
            _ = try await recorded(step, at: site, since: started) { () async throws(Stop) -> Reply? in
                let outcome = await read(timeout: step.timeout)
                return try expectReply(outcome, for: step, at: site)
            }
        case .startTLS(let action):
            _ = try await recorded(step, at: site, since: started, verb: action.sendsCommand ? "STARTTLS" : nil) {
                () async throws(Stop) -> Reply? in
                try await startTLS(action, step: step, at: site)
                return nil
            }
        case .auth(let auth):
            _ = try await recorded(step, at: site, since: started, verb: "AUTH") { () async throws(Stop) -> Reply? in
                try await authenticate(auth, step: step, at: site)
            }
        case .pipeline(let pipeline):
            try await self.pipeline(pipeline, step: step, at: site)
        case .call(let call):
            note("call \(call.group) (defined at \(call.definition))")
            callSites.append(CallSite(group: call.group, location: step.location))
            do {
                try await execute(call.steps, under: path.appending(.call(call.group)))
            } catch {
                callSites.removeLast()
                throw error
            }
            callSites.removeLast()
            note("end of \(call.group)")
        case .repeatSteps(let loop):
            for index in 0..<loop.count {
                if let key = loop.indexKey { variables[key] = String(index) }
                try await execute(loop.steps, under: path.appending(.iteration(variable: loop.indexName, index: index)))
            }
        case .retry(let retry):
            try await self.retry(retry, step: step, at: site, since: started)
        case .delivered(let check):
            try await checkDelivery(check, step: step, at: site)
        case .fail(let reason):
            let text = Self.printable(redactor.mask(resolve(reason)))
            note("fail: \(text)")
            keepRecord(of: step, at: site, .failed)
            throw stop(.deliberate, at: site, expected: nil, actual: "fail: \(text)", cleanup: .politeQuit)
        }
    }

    /// A `wait` step. On its own, not inline in ``execute(_:at:)``: `Task.sleep(for:)` needs a `ContinuousClock`,
    /// a type from a module built for library evolution, which an async function allocates on entry whichever case
    /// runs.
    private nonisolated(nonsending) func pause(for duration: Duration, at site: Site) async throws(Stop) {
        note("waiting \(DurationSyntax.format(duration))")
        do {
            try await Task.sleep(for: duration)
        } catch {
            throw interrupted(at: site)
        }
    }

    /// A `send` line with its run-time variables filled in. A value with a line break in it (a capture can hold one)
    /// would send two commands and put every later reply out of step, so the step fails instead, sending nothing.
    /// (The compiler refuses line breaks that are in the file or in static variables.)
    func commandLine(_ template: Template, at site: Site) throws(Stop) -> String {
        try commandLine(resolve(template), of: template, at: site)
    }

    /// `line`, `template` resolved; a stop when its variables brought in a line break.
    func commandLine(_ line: String, of template: Template, at site: Site) throws(Stop) -> String {
        guard SMTPCommandLine.containsLineBreak(line) else { return line }
        let variables = template.variableNames
        let names = variables.map { "${\($0)}" }.joined(separator: ", ") + (variables.count == 1 ? " is" : " are")
        throw stop(
            .setup,
            at: site,
            expected: "one command line",
            actual: "a line break once \(names) filled in, so nothing was sent: "
                + Abbreviation.text(Self.printable(redactor.mask(line)), limit: 200),
            cleanup: .politeQuit
        )
    }

    /// Runs a step's exchange and keeps its record, passed or failed.
    private nonisolated(nonsending) func recorded(
        _ step: Step,
        at site: Site,
        since started: NIODeadline,
        verb: String? = nil,
        sent: @autoclosure () -> String? = nil,
        _ body: nonisolated(nonsending) () async throws(Stop) -> Reply?
    ) async throws(Stop) -> Reply? {
        do {
            let reply = try await body()
            keepRecord(of: step, at: site, .passed, since: started, verb: verb, sent: sent(), reply: reply.map(record))
            return reply
        } catch {
            keepRecord(
                of: step,
                at: site,
                .failed,
                since: started,
                verb: verb,
                sent: sent(),
                reply: error.failure.mismatch?.actualReply
            )
            throw error
        }
    }

    /// Writes `bytes` and, when the step expects one, reads and checks the reply and applies its captures.
    nonisolated(nonsending) func exchange(_ bytes: ByteBuffer, step: Step, at site: Site) async throws(Stop) -> Reply? {
        let outcome: ReadOutcome
        if let writeFailure = write(bytes) {
            outcome = writeFailure
            note(redactor.mask("write failed: \(writeFailure)"))
        } else if case .noReply = step.expectation {
            return nil
        } else {
            outcome = await read(timeout: step.timeout)
        }
        return try expectReply(outcome, for: step, at: site)
    }

    /// Checks `outcome` against `step`'s expectation and applies its captures.
    func expectReply(_ outcome: ReadOutcome, for step: Step, at site: Site) throws(Stop) -> Reply? {
        try expectReply(outcome, step.expectation, timeout: step.timeout, captures: step.captures, at: site)
    }

    /// Writes bytes without waiting for them to go out: the reply is read next (RFC 2920 allows no less). A write
    /// that fails closes the connection, and the read that follows reports the close and the write's error.
    func write(_ bytes: ByteBuffer) -> ReadOutcome? {
        guard let connection else { return .closed(.orderly, partial: []) }
        connection.send(bytes)
        return nil
    }

    /// Remembers the queue id a server names when it accepts a message (`250 ... queued as ID`), and when the
    /// message's end was sent, for `delivered` steps. The time is the sending's, not the reply's: a server can
    /// deliver locally before its 250 reaches us (and a busy client can read that reply late).
    func noteAccepted(_ reply: Reply?, sentAt: Date) {
        guard let reply, reply.code / 100 == 2 else { return }
        messageSentAt = sentAt
        lastQueueID = reply.queueID
    }

    /// The lines of `bytes` that end in CRLF, without it; bytes after the last CRLF are not a line.
    static func linesEndingInCRLF<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> [Bytes.SubSequence]
    where Bytes.Index == Int {
        var lines: [Bytes.SubSequence] = []
        var start = bytes.startIndex
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") {
                lines.append(bytes[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        return lines
    }

    /// Follows the session state a command and its reply imply: EHLO extensions, DATA mode, QUIT.
    func track(command: SMTPCommandLine, reply: Reply?) {
        switch command.verb {
        case .ehlo?, .lhlo?:
            if let reply, reply.code / 100 == 2 { ehloReply = reply }
        case .helo?:
            if let reply, reply.code / 100 == 2 { ehloReply = nil }
        case .data?:
            if reply?.code == 354 { inData = true }
        case .quit?:
            quitSent = true
        case .rset?:
            inData = false
        default:
            break
        }
    }

    // MARK: - retry

    /// Runs the body until it passes; a failure `retry.retryOn` names is tried again after the interval, any
    /// other fails at once. The connection is left as the failed attempt left it.
    private nonisolated(nonsending) func retry(
        _ retry: RetryAction,
        step: Step,
        at site: Site,
        since started: NIODeadline
    ) async throws(Stop) {
        var attempt = 1
        while true {
            note("attempt \(attempt) of \(retry.attempts)")
            do throws(Stop) {
                try await execute(retry.steps, under: site.path.appending(.retry))
                if attempt > 1 { note("passed after \(attempt) attempts") }
                keepRecord(of: step, at: site, .passed, since: started, attempts: attempt)
                return
            } catch {
                let failure = error.failure
                let retryable = Self.isRetried(failure, by: retry.retryOn)
                guard retryable, attempt < retry.attempts, !Task.isCancelled else {
                    keepRecord(of: step, at: site, .failed, since: started, attempts: attempt)
                    guard retryable, attempt > 1 else { throw error }
                    throw Stop(failure: failure.after(attempts: attempt), cleanup: error.cleanup)
                }
                note(
                    "attempt \(attempt) failed (\(failure.actual)); retrying in \(DurationSyntax.format(retry.interval))"
                )
                do {
                    try await Task.sleep(for: retry.interval)
                } catch {
                    throw interrupted(at: site)
                }
                attempt += 1
            }
        }
    }

    /// Whether `failure` is one of the failures `conditions` retry.
    static func isRetried(_ failure: StepFailure, by conditions: [RetryCondition]) -> Bool {
        conditions.contains { condition in
            switch condition {
            case .codes(let codes):
                guard failure.kind == .unexpectedReply, let reply = failure.mismatch?.actualReply else { return false }
                return codes.contains { $0.matches(reply.code) }
            case .closed:
                return ["closed", "reset"].contains(failure.mismatch?.actualEvent ?? "")
                    || (failure.kind == .connection && failure.mismatch != nil)
            case .nothing:
                return failure.kind == .timeout
            }
        }
    }

    // MARK: - PIPELINING (RFC 2920)

    private nonisolated(nonsending) func pipeline(
        _ pipeline: PipelineAction,
        step: Step,
        at site: Site
    ) async throws(Stop) {
        let steps = pipeline.steps
        let capabilities = self.capabilities
        if pipeline.unadvertised {
            note("pipelining whether or not PIPELINING was advertised (unadvertised: true)")
        } else if capabilities?.advertises("PIPELINING") != true {
            let actual: String
            if let capabilities {
                actual =
                    "the last EHLO reply does not advertise PIPELINING (it advertises \(capabilities.keywords.joined(separator: ", ")))"
            } else {
                actual = "no EHLO reply in this session (since connecting or STARTTLS); send EHLO first"
            }
            throw stop(
                .unexpectedReply,
                at: site,
                expected: "a server that advertised PIPELINING",
                actual: actual,
                cleanup: .politeQuit
            )
        }
        var buffer = ByteBuffer()
        var lines: [String] = []
        for inner in steps {
            guard case .send(let template) = inner.action else { continue }
            let innerSite = Site(
                path: site.path.appending(inner.position),
                label: label(for: inner),
                location: inner.location
            )
            lines.append(try commandLine(template, at: innerSite))
        }
        // Recorded once every line is known to be one: a pipeline with a bad line sends none of them.
        for line in lines {
            sent(line)
            SMTPCommandLine.encode(line, into: &buffer)
        }
        note("pipelined \(lines.count) commands in one write")
        let started = NIODeadline.now()
        if let failure = write(buffer) {
            let first = Site(path: site.path.appending(steps[0].position), label: lines[0], location: steps[0].location)
            _ = try check(failure, against: steps[0].expectation, timeout: steps[0].timeout, at: first)
        }
        var recipients = 0
        var acceptedRecipients = 0
        for (inner, line) in zip(steps, lines) {
            let innerSite = Site(
                path: site.path.appending(inner.position),
                label: label(for: inner),
                location: inner.location
            )
            let command = SMTPCommandLine(line)
            let reply = try await recorded(
                inner,
                at: innerSite,
                since: started,
                verb: command.keyword,
                sent: redactor.mask(line)
            ) { () async throws(Stop) -> Reply? in
                let outcome = await read(timeout: inner.timeout)
                return try expectReply(outcome, for: inner, at: innerSite)
            }
            if command.verb == .rcpt {
                recipients += 1
                if let reply, reply.code / 100 == 2 { acceptedRecipients += 1 }
            }
            if command.verb == .data, reply?.code == 354, recipients > 0, acceptedRecipients == 0 {
                // RFC 2920 3.1: every recipient was refused but DATA was accepted; end the empty message.
                note("every recipient was refused but DATA got 354: sending a lone \".\" (RFC 2920 3.1)")
                sent(".")
                _ = write(ByteBuffer(string: ".\r\n"))
                _ = await read(timeout: inner.timeout)
                continue
            }
            track(command: command, reply: reply)
        }
    }

    // MARK: - AUTH (RFC 4954)

    private nonisolated(nonsending) func authenticate(
        _ auth: AuthAction,
        step: Step,
        at site: Site
    ) async throws(Stop) -> Reply? {
        let username = resolve(auth.username)
        let secret = resolve(auth.secret)
        redactor.add([secret])
        var exchange = SASLClient(mechanism: auth.mechanism, username: username, secret: secret)
        var toSend = exchange.initialCommand()
        var rounds = 0
        while true {
            // Mask what this line carries (base64 credentials) from now on, in replies that echo it too.
            redactor.add(toSend.secrets)
            sent(toSend.display)
            var buffer = ByteBuffer()
            SMTPCommandLine.encode(toSend.line, into: &buffer)
            let outcome: ReadOutcome
            if let failure = write(buffer) {
                outcome = failure
            } else {
                outcome = await read(timeout: step.timeout)
            }
            if case .reply(let reply) = outcome, reply.code == 334, rounds < 4 {
                rounds += 1
                if let next = exchange.respond(toChallenge: reply.textLines.first ?? "") {
                    toSend = next
                    continue
                }
            }
            return try expectReply(outcome, for: step, at: site)
        }
    }
}

extension StepFailure {
    /// The same failure, noting that a `retry` used up `attempts` attempts.
    func after(attempts: Int) -> StepFailure {
        StepFailure(
            kind: kind,
            path: path,
            stepLabel: stepLabel,
            location: location,
            callSites: callSites,
            expected: expected,
            actual: actual,
            mismatch: mismatch,
            attempts: attempts
        )
    }
}
