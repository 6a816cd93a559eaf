import Foundation
import LocatedYAML
import NIOCore
import SMTPAuth
import SMTPWire
import ScenarioLanguage

/// The step kinds.
extension ScenarioExecution {
    /// What reports call a step: its name, or what it sends (secrets masked).
    func label(for step: Step) -> String {
        // Masked first, then cut: a cut must never leave part of a secret visible.
        if let name = step.name { return Abbreviation.text(redactor.mask(resolve(name)), limit: 200) }
        switch step.action {
        case .send(let template): return Abbreviation.text(redactor.mask(resolve(template)), limit: 200)
        case .data: return "message content"
        case .raw(.text(let template)):
            return "raw " + redactor.mask(ByteEscaping.escaped(Array(resolve(template).utf8).prefix(60)))
        case .raw(.bytes(let bytes)): return "raw \(bytes.count) bytes"
        case .wait(let duration): return "wait \(DurationSyntax.format(duration))"
        case .reconnect: return "reconnect"
        case .read: return "read reply"
        case .startTLS(let action): return action.sendsCommand ? "STARTTLS" : "TLS handshake"
        case .auth(let auth): return "AUTH \(auth.mechanism.rawValue)"
        case .pipeline(let steps): return "pipeline of \(steps.count) commands"
        }
    }

    /// Runs one step; throws ``ScenarioExecution/Stop`` when it fails.
    func execute(_ step: Step) async throws(Stop) {
        let label = label(for: step)
        switch step.action {
        case .send(let template):
            let line = resolve(template)
            sent(line)
            var buffer = ByteBuffer()
            SMTPCommandLine.encode(line, into: &buffer)
            let reply = try await exchange(buffer, step: step, label: label)
            track(command: line, reply: reply)
        case .data(let template):
            let encoded = MessageData.encode(resolve(template))
            let text = String(decoding: encoded.readableBytesView, as: UTF8.self)
            for line in text.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
                sent(String(line))
            }
            _ = try await exchange(encoded, step: step, label: label)
            inData = false
        case .raw(let payload):
            let bytes: [UInt8]
            switch payload {
            case .text(let template): bytes = Array(resolve(template).utf8)
            case .bytes(let raw): bytes = raw
            }
            sent(ByteEscaping.escaped(bytes) + "  (raw, \(bytes.count) bytes)")
            _ = try await exchange(ByteBuffer(bytes: bytes), step: step, label: label)
        case .wait(let duration):
            note("waiting \(DurationSyntax.format(duration))")
            do {
                try await Task.sleep(for: duration)
            } catch {
                throw interrupted(at: step)
            }
        case .reconnect:
            await connection?.close()
            note("reconnecting")
            capabilities = nil
            inData = false
            quitSent = false
            try await connectAndGreet(
                expectation: step.expectation,
                captures: step.captures,
                at: Site(step, label: label)
            )
        case .read:
            let outcome = await read(timeout: step.timeout)
            _ = try expectReply(outcome, for: step, label: label)
        case .startTLS(let action):
            try await startTLS(action, step: step, label: label)
        case .auth(let auth):
            try await authenticate(auth, step: step, label: label)
        case .pipeline(let steps):
            try await pipeline(steps, step: step, label: label)
        }
    }

    /// Writes `bytes` and, when the step expects one, reads and checks the reply and applies its captures.
    func exchange(_ bytes: ByteBuffer, step: Step, label: String) async throws(Stop) -> Reply? {
        let outcome: ReadOutcome
        if let writeFailure = await write(bytes) {
            outcome = writeFailure
            note(redactor.mask("write failed: \(writeFailure)"))
        } else if case .noReply = step.expectation {
            return nil
        } else {
            outcome = await read(timeout: step.timeout)
        }
        return try expectReply(outcome, for: step, label: label)
    }

    /// Checks `outcome` against `step`'s expectation and applies its captures.
    func expectReply(_ outcome: ReadOutcome, for step: Step, label: String) throws(Stop) -> Reply? {
        try expectReply(
            outcome,
            step.expectation,
            timeout: step.timeout,
            captures: step.captures,
            at: Site(step, label: label)
        )
    }

    /// Writes bytes; a failed write means the connection is gone, reported as that close.
    func write(_ bytes: ByteBuffer) async -> ReadOutcome? {
        guard let connection else { return .closed(.orderly, partial: []) }
        do {
            try await connection.write(bytes)
            return nil
        } catch {
            // The reader saw why the connection ended (FIN or reset); ask it, without waiting long.
            let outcome = await connection.readReply(timeout: .milliseconds(200))
            if case .closed = outcome { return outcome }
            return .closed(.reset(String(describing: error)), partial: [])
        }
    }

    /// Follows the session state a command and its reply imply: EHLO extensions, DATA mode, QUIT.
    func track(command line: String, reply: Reply?) {
        let verb = SMTPCommandLine(line).verb
        switch verb {
        case "EHLO", "LHLO":
            if let reply, reply.code / 100 == 2 { capabilities = EHLOCapabilities(reply: reply) }
        case "HELO":
            if let reply, reply.code / 100 == 2 { capabilities = nil }
        case "DATA":
            if reply?.code == 354 { inData = true }
        case "QUIT":
            quitSent = true
        case "RSET":
            inData = false
        default:
            break
        }
    }

    // MARK: - PIPELINING (RFC 2920)

    private func pipeline(_ steps: [Step], step: Step, label: String) async throws(Stop) {
        guard let capabilities, capabilities.advertises("PIPELINING") else {
            let actual: String
            if let capabilities {
                actual =
                    "the last EHLO reply does not advertise PIPELINING (it advertises \(capabilities.keywords.joined(separator: ", ")))"
            } else {
                actual = "no EHLO reply in this session (since connecting or STARTTLS); send EHLO first"
            }
            throw stop(
                .unexpectedReply,
                at: Site(step, label: label),
                expected: "a server that advertised PIPELINING",
                actual: actual,
                cleanup: .politeQuit
            )
        }
        var buffer = ByteBuffer()
        var lines: [String] = []
        for inner in steps {
            guard case .send(let template) = inner.action else { continue }
            let line = resolve(template)
            lines.append(line)
            sent(line)
            SMTPCommandLine.encode(line, into: &buffer)
        }
        note("pipelined \(lines.count) commands in one write")
        if let failure = await write(buffer) {
            _ = try check(
                failure,
                against: steps[0].expectation,
                timeout: steps[0].timeout,
                at: Site(steps[0], label: lines[0])
            )
        }
        var recipients = 0
        var acceptedRecipients = 0
        for (inner, line) in zip(steps, lines) {
            let innerLabel = self.label(for: inner)
            let outcome = await read(timeout: inner.timeout)
            let reply = try expectReply(
                outcome,
                inner.expectation,
                timeout: inner.timeout,
                captures: inner.captures,
                at: Site(inner, label: innerLabel)
            )
            let verb = SMTPCommandLine(line).verb
            if verb == "RCPT" {
                recipients += 1
                if let reply, reply.code / 100 == 2 { acceptedRecipients += 1 }
            }
            if verb == "DATA", reply?.code == 354, recipients > 0, acceptedRecipients == 0 {
                // RFC 2920 3.1: every recipient was refused but DATA was accepted; end the empty message.
                note("every recipient was refused but DATA got 354: sending a lone \".\" (RFC 2920 3.1)")
                sent(".")
                _ = await write(ByteBuffer(string: ".\r\n"))
                _ = await read(timeout: inner.timeout)
                continue
            }
            track(command: line, reply: reply)
        }
    }

    // MARK: - AUTH (RFC 4954)

    private func authenticate(_ auth: AuthAction, step: Step, label: String) async throws(Stop) {
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
            if let failure = await write(buffer) {
                outcome = failure
            } else {
                outcome = await read(timeout: step.timeout)
            }
            if case .reply(let reply, _) = outcome, reply.code == 334, rounds < 4 {
                rounds += 1
                if let next = exchange.respond(toChallenge: reply.textLines.first ?? "") {
                    toSend = next
                    continue
                }
            }
            _ = try expectReply(outcome, for: step, label: label)
            return
        }
    }
}
