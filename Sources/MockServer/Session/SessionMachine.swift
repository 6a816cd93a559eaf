import Foundation
import NIOCore
import SMTPAuth
import SMTPWire
import Synchronization

/// What a session reads the time from: the wall clock for trace headers (`Received:`, `Date:`), and a monotonic
/// instant for greylisting. Injected into ``SessionMachine`` rather than read there, so tests can fix both (a
/// greylisting delay is then passed by moving the instant, not by waiting).
struct SessionClock: Sendable {
    var wallTime: @Sendable () -> Date = { Date() }
    var instant: @Sendable () -> ContinuousClock.Instant = { .now }
}

/// The RFC 5321 server state machine of one session, as a value: each input returns the actions to take.
///
/// It knows nothing of sockets, so every policy and fault can be tested by feeding it lines.
struct SessionMachine {
    /// Facts about the connection the machine needs.
    struct Connection {
        var clientAddress: String
        var serverAddress: String
        var tlsAvailable: Bool
    }

    let policy: MockPolicy
    let connection: Connection
    let greylist: Greylist
    /// The only time the machine reads: injected, so that it reads no clock of its own.
    let clock: SessionClock
    private let classifier: RecipientClassifier

    private(set) var helo: String?
    private(set) var esmtp = false
    private(set) var tlsActive = false
    private(set) var authenticatedUser: String?
    private var sender: MailPath?
    private var recipients: [String] = []
    /// A BDAT transaction has begun (RFC 3030): DATA is refused until it ends.
    private(set) var chunkedTransaction = false
    /// MAIL gave BODY=BINARYMIME: only BDAT may carry the message.
    private var binaryBody = false
    private var authExchange: SASLServer?
    private var commandCount = 0
    private var errorCount = 0

    /// Counters for the one-line session log.
    private(set) var stats = Stats()

    struct Stats {
        var commands = 0
        var mail = 0
        var recipientsAccepted = 0
        var recipientsRefused = 0
        var messages = 0
        var lastReply: Int?
    }

    /// Whether the next line belongs to an AUTH exchange rather than being a command.
    var inAuthExchange: Bool { authExchange != nil }

    init(policy: MockPolicy, connection: Connection, greylist: Greylist, clock: SessionClock = SessionClock()) {
        self.policy = policy
        self.connection = connection
        self.greylist = greylist
        self.clock = clock
        self.classifier = RecipientClassifier(
            localDomains: policy.localDomains,
            hostname: policy.hostname,
            serverAddresses: [connection.serverAddress]
        )
    }

    // MARK: - Inputs

    /// The greeting, with its faults applied.
    mutating func greeting() -> [SessionAction] {
        if drops(at: .greeting) { return [.drop] }
        return delayed([.reply(ServerReply(220, nil, "\(policy.hostname) \(policy.greetingText)"))], at: .greeting)
    }

    /// A command line (or a line of an AUTH exchange).
    mutating func receive(_ line: ByteBuffer) -> [SessionAction] {
        if authExchange != nil { return continueAuth(String(decoding: line.readableBytesView, as: UTF8.self)) }
        stats.commands += 1
        commandCount += 1
        if case .closeAfterCommands(let limit)? = policy.faults.first(where: {
            if case .closeAfterCommands = $0 { true } else { false }
        }),
            commandCount > limit
        {
            return [
                .reply(
                    ServerReply(421, "4.7.0", "\(policy.hostname) Error: closing connection (fault injected by policy)")
                ), .close,
            ]
        }
        guard line.readableBytes > 0 else { return error(ServerReply(500, "5.5.2", "Error: bad syntax")) }
        guard Self.isPrintable(line) else { return error(ServerReply(500, "5.5.2", "Error: bad syntax (binary data)")) }
        let command = SMTPCommandLine(line)
        if line.readableBytes > policy.limits.maxCommandLength, command.verb != .auth {
            return error(ServerReply(500, "5.5.2", "Error: line too long"))
        }
        let stage = command.verb.flatMap(FaultRule.Stage.init(verb:))
        if let stage, drops(at: stage) { return [.drop] }
        let actions: [SessionAction]
        switch command.verb {
        case .ehlo?: actions = ehlo(command.argument, extended: true)
        case .helo?: actions = ehlo(command.argument, extended: false)
        case .mail?: actions = mail(command.argument)
        case .rcpt?: actions = rcpt(command.argument)
        case .data?: actions = data(command.argument)
        case .rset?:
            resetTransaction()
            actions = [.reply(ServerReply(250, "2.0.0", "Ok"))]
        case .noop?: actions = [.reply(ServerReply(250, "2.0.0", "Ok"))]
        case .vrfy?: actions = verify(command.argument)
        case .expn?: actions = expand(command.argument)
        case .help?:
            actions = [
                .reply(
                    ServerReply(
                        214,
                        "2.0.0",
                        ["Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT STARTTLS AUTH", "See RFC 5321"]
                    )
                )
            ]
        case .quit?: actions = [.reply(ServerReply(221, "2.0.0", "Bye")), .close]
        case .starttls?: actions = startTLS(command.argument)
        case .auth?: actions = auth(command.argument)
        case .bdat?: actions = bdat(command.argument)
        case .etrn?, .turn?, .atrn?, .send?, .soml?, .saml?, .lhlo?:
            actions = error(ServerReply(502, "5.5.1", "Error: command not implemented"))
        case nil:
            actions = error(ServerReply(500, "5.5.2", "Error: command not recognized"))
        }
        return stage.map { delayed(actions, at: $0) } ?? actions
    }

    /// A command that came with more commands behind it although PIPELINING is not advertised (RFC 2920 lets
    /// a server refuse that; OpenSMTPD answers this and closes).
    mutating func improperPipelining() -> [SessionAction] {
        stats.commands += 1
        return [.reply(ServerReply(500, "5.5.1", "Invalid command: Pipelining not supported")), .close]
    }

    /// A line longer than the framer allows.
    mutating func overlongLine() -> [SessionAction] {
        stats.commands += 1
        return error(ServerReply(500, "5.5.2", "Error: line too long"))
    }

    /// The end of DATA, with what the data reader found.
    mutating func dataFinished(_ outcome: DataReceiver.Outcome) -> [SessionAction] {
        if drops(at: .dataEnd) {
            resetTransaction()
            return [.drop]
        }
        // Computed before `delayed` is called: as its argument, the mutating call made Swift copy the whole machine
        // to call `delayed` on (about 700 instructions a message).
        let actions = dataResult(outcome)
        return delayed(actions, at: .dataEnd)
    }

    private mutating func dataResult(_ outcome: DataReceiver.Outcome) -> [SessionAction] {
        defer { resetTransaction() }
        switch outcome {
        case .message(let content):
            let id = Self.queueID()
            let message = StoredMessage(
                id: id,
                sender: sender?.mailbox?.description ?? "",
                recipients: recipients,
                clientAddress: connection.clientAddress,
                helo: helo ?? "unknown",
                authenticatedUser: authenticatedUser,
                tls: tlsActive,
                receivedAt: clock.wallTime(),
                hostname: policy.hostname,
                content: content
            )
            stats.messages += 1
            return [.deliver(message), .reply(ServerReply(250, "2.0.0", "Ok: queued as \(id)"))]
        case .tooLarge:
            return error(ServerReply(552, "5.3.4", "Error: message file too big"))
        case .bareLineEnding:
            return error(
                ServerReply(
                    550,
                    "5.6.0",
                    "Error: bare <CR> or <LF> in message content (refused to prevent SMTP smuggling)"
                )
            )
        case .lineTooLong:
            return error(ServerReply(500, "5.5.2", "Error: line too long in message content"))
        }
    }

    /// TLS is up: forget everything learned before it (RFC 3207 4.2).
    mutating func tlsEstablished() {
        tlsActive = true
        helo = nil
        esmtp = false
        authenticatedUser = nil
        authExchange = nil
        resetTransaction()
    }

    // MARK: - Commands

    private mutating func ehlo(_ argument: String, extended: Bool) -> [SessionAction] {
        let name = String(argument.trimmingWhitespace())
        guard !name.isEmpty else {
            return error(ServerReply(501, "5.5.4", "Syntax: \(extended ? "EHLO" : "HELO") hostname"))
        }
        resetTransaction()
        helo = name
        esmtp = extended
        guard extended else { return [.reply(ServerReply(250, nil, policy.hostname))] }
        var lines = [policy.hostname, "PIPELINING", "SIZE \(policy.maxMessageSize)"]
        if connection.tlsAvailable, !tlsActive { lines.append("STARTTLS") }
        if authAvailable {
            lines.append("AUTH " + SASLMechanism.allCases.map(\.rawValue).joined(separator: " "))
        }
        lines += ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8", "CHUNKING", "BINARYMIME"] + policy.advertise
        lines = lines.enumerated().filter { index, line in
            index == 0 || !isHidden(String(line.split(separator: " ")[0]))
        }.map(\.element)
        return [.reply(ServerReply(250, nil, lines))]
    }

    private var authAvailable: Bool {
        !policy.users.isEmpty && !isHidden("AUTH") && authenticatedUser == nil && (tlsActive || !policy.authRequiresTLS)
    }

    private func isHidden(_ keyword: String) -> Bool {
        policy.hide.contains { $0.equalsIgnoringCase(keyword) }
    }

    private mutating func mail(_ argument: String) -> [SessionAction] {
        guard helo != nil else { return error(ServerReply(503, "5.5.1", "Error: send HELO/EHLO first")) }
        guard sender == nil else { return error(ServerReply(503, "5.5.1", "Error: nested MAIL command")) }
        guard let pathText = argument.afterPrefixIgnoringCase("FROM:") else {
            return error(ServerReply(501, "5.5.4", "Syntax: MAIL FROM:<address>"))
        }
        if policy.requireTLS, !tlsActive {
            return error(ServerReply(530, "5.7.0", "Must issue a STARTTLS command first"))
        }
        let path: MailPath
        do {
            path = try MailPath(parsing: String(pathText))
        } catch {
            return self.error(ServerReply(501, "5.1.7", "Bad sender address syntax (\(error.reason))"))
        }
        if policy.requireAuth, authenticatedUser == nil {
            let address = path.mailbox?.description ?? ""
            return error(ServerReply(530, "5.7.0", "<\(address)>: Sender address rejected: Authentication required"))
        }
        for parameter in path.parameters {
            switch parameter.keyword {
            case "SIZE":
                guard let size = parameter.value.flatMap({ Int($0) }) else {
                    return error(ServerReply(501, "5.5.4", "Bad message size syntax"))
                }
                if size > policy.maxMessageSize {
                    return error(ServerReply(552, "5.3.4", "Message size exceeds fixed limit"))
                }
            case "BODY":
                switch parameter.value?.uppercased() {
                case "7BIT"?, "8BITMIME"?: binaryBody = false
                case "BINARYMIME"? where !isHidden("BINARYMIME"): binaryBody = true
                default: return error(ServerReply(501, "5.5.4", "Bad BODY parameter"))
                }
            case "SMTPUTF8", "RET", "ENVID", "AUTH":
                continue
            default:
                return error(ServerReply(555, "5.5.4", "Unsupported option: \(parameter.keyword)"))
            }
        }
        sender = path
        stats.mail += 1
        return [.reply(ServerReply(250, "2.1.0", "Ok"))]
    }

    private mutating func rcpt(_ argument: String) -> [SessionAction] {
        guard helo != nil else { return error(ServerReply(503, "5.5.1", "Error: send HELO/EHLO first")) }
        guard let sender else { return error(ServerReply(503, "5.5.1", "Error: need MAIL command")) }
        guard let pathText = argument.afterPrefixIgnoringCase("TO:") else {
            return error(ServerReply(501, "5.5.4", "Syntax: RCPT TO:<address>"))
        }
        let path: MailPath
        do {
            path = try MailPath(parsing: String(pathText))
        } catch {
            stats.recipientsRefused += 1
            return self.error(ServerReply(501, "5.1.3", "Bad recipient address syntax (\(error.reason))"))
        }
        guard let mailbox = path.mailbox else {
            stats.recipientsRefused += 1
            return error(ServerReply(501, "5.1.3", "Bad recipient address syntax"))
        }
        let address = mailbox.description
        guard recipients.count < policy.maxRecipients else {
            return error(ServerReply(452, "4.5.3", "Error: too many recipients"))
        }
        for case .failRecipients(let pattern, let code) in policy.faults where pattern.matches(address) {
            stats.recipientsRefused += 1
            return error(
                ServerReply(
                    code,
                    Self.enhancedCode(forFault: code),
                    "<\(address)>: Recipient address rejected: fault injected by policy"
                )
            )
        }
        switch classifier.classify(mailbox) {
        case .foreign:
            guard mayRelay else {
                stats.recipientsRefused += 1
                return error(ServerReply(554, "5.7.1", "<\(address)>: Relay access denied"))
            }
        case .local(let localPart):
            let known =
                policy.mailboxes.map { list in
                    localPart.equalsIgnoringCase("postmaster") || list.contains { $0.equalsIgnoringCase(localPart) }
                } ?? true
            guard known else {
                stats.recipientsRefused += 1
                return error(
                    ServerReply(
                        550,
                        "5.1.1",
                        "<\(address)>: Recipient address rejected: User unknown in local recipient table"
                    )
                )
            }
        }
        if let greylisting = policy.greylisting,
            let remaining = greylist.remainingDelay(
                at: clock.instant(),
                client: connection.clientAddress,
                sender: sender.mailbox?.description ?? "",
                recipient: address,
                delay: greylisting.delay
            )
        {
            stats.recipientsRefused += 1
            let seconds = max(
                1,
                Int(
                    (Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18).rounded(
                        .up
                    )
                )
            )
            return [
                .reply(
                    ServerReply(
                        450,
                        "4.7.1",
                        "<\(address)>: Recipient address rejected: Greylisted, try again in \(seconds)s"
                    )
                )
            ]
        }
        recipients.append(address)
        stats.recipientsAccepted += 1
        return [.reply(ServerReply(250, "2.1.5", "Ok"))]
    }

    private var mayRelay: Bool {
        if authenticatedUser != nil { return true }
        switch policy.relay {
        case .closed: return false
        case .open: return true
        case .networks(let networks): return networks.contains { $0.contains(connection.clientAddress) }
        }
    }

    /// `BDAT n [LAST]` (RFC 3030): the chunk that follows is read by size whatever the answer, so a refusal is
    /// given after it; a size that cannot be read leaves no way to find the next command, so the session ends.
    private mutating func bdat(_ argument: String) -> [SessionAction] {
        let words = argument.split(separator: " ", omittingEmptySubsequences: true)
        guard !isHidden("CHUNKING"), (1...2).contains(words.count), words[0].count <= 10,
            words[0].allSatisfy({ $0.isASCII && $0.isNumber }), let size = Int(words[0]),
            words.count == 1 || words[1].uppercased() == "LAST"
        else {
            let reply =
                isHidden("CHUNKING")
                ? ServerReply(502, "5.5.1", "Error: command not implemented")
                : ServerReply(501, "5.5.4", "Syntax: BDAT size [LAST]")
            return [
                .reply(reply),
                .reply(ServerReply(421, "4.7.0", "\(policy.hostname) Error: cannot find the end of the chunk")), .close,
            ]
        }
        let last = words.count == 2
        let first = !chunkedTransaction
        var refusal: ServerReply?
        if helo == nil {
            refusal = ServerReply(503, "5.5.1", "Error: send HELO/EHLO first")
        } else if sender == nil {
            refusal = ServerReply(503, "5.5.1", "Error: need MAIL command")
        } else if recipients.isEmpty {
            refusal = ServerReply(554, "5.5.1", "Error: no valid recipients")
        } else {
            chunkedTransaction = true
        }
        return [.readChunk(size: size, last: last, first: first, refusal: refusal)]
    }

    /// A BDAT chunk was read: a 250 for the chunk, or for the last one the message stored.
    mutating func chunkFinished(_ outcome: ChunkReceiver.Outcome, refusal: ServerReply?, last: Bool) -> [SessionAction]
    {
        if let refusal {
            if last { resetTransaction() }
            return error(refusal)
        }
        switch outcome {
        case .chunkAccepted(let size) where size > policy.maxMessageSize:
            // Past the limit before the last chunk: the transaction fails now (RFC 3030 section 2).
            resetTransaction()
            return error(ServerReply(552, "5.3.4", "Error: message file too big"))
        case .chunkAccepted(let size):
            return [.reply(ServerReply(250, "2.0.0", "\(size) octets received"))]
        case .message(let content):
            if drops(at: .dataEnd) {
                resetTransaction()
                return [.drop]
            }
            let actions = dataResult(.message(content))
            return delayed(actions, at: .dataEnd)
        case .tooLarge:
            let actions = dataResult(.tooLarge(size: 0))
            return delayed(actions, at: .dataEnd)
        }
    }

    private mutating func data(_ argument: String) -> [SessionAction] {
        guard !chunkedTransaction else { return error(ServerReply(503, "5.5.1", "Error: DATA after BDAT")) }
        guard !binaryBody else {
            return error(ServerReply(503, "5.5.1", "Error: BODY=BINARYMIME needs BDAT, not DATA"))
        }
        guard helo != nil else { return error(ServerReply(503, "5.5.1", "Error: send HELO/EHLO first")) }
        guard sender != nil else { return error(ServerReply(503, "5.5.1", "Error: need RCPT command")) }
        guard !recipients.isEmpty else { return error(ServerReply(554, "5.5.1", "Error: no valid recipients")) }
        guard argument.trimmingWhitespace().isEmpty else {
            return error(ServerReply(501, "5.5.4", "Syntax: DATA"))
        }
        return [.reply(ServerReply(354, nil, "End data with <CR><LF>.<CR><LF>")), .enterData]
    }

    private mutating func verify(_ argument: String) -> [SessionAction] {
        let target = argument.trimmingCharacters(in: CharacterSet(charactersIn: " <>"))
        guard !target.isEmpty else { return error(ServerReply(501, "5.5.4", "Syntax: VRFY address")) }
        switch policy.verify {
        case .noConfirm:
            return [.reply(ServerReply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"))]
        case .disabled:
            return error(ServerReply(502, "5.5.1", "VRFY command is disabled"))
        case .confirm:
            return confirmUser(target)
        }
    }

    private mutating func expand(_ argument: String) -> [SessionAction] {
        guard policy.verify == .confirm else {
            return error(ServerReply(502, "5.5.1", "EXPN command is disabled"))
        }
        return confirmUser(argument.trimmingCharacters(in: CharacterSet(charactersIn: " <>")))
    }

    /// The weak mode: say whether a user exists.
    private mutating func confirmUser(_ target: String) -> [SessionAction] {
        let localPart = String(target.split(separator: "@").first ?? "")
        let known = policy.mailboxes?.contains { $0.equalsIgnoringCase(localPart) } ?? true
        if known { return [.reply(ServerReply(250, "2.0.0", "<\(localPart)@\(policy.hostname)>"))] }
        return error(
            ServerReply(550, "5.1.1", "<\(target)>: Recipient address rejected: User unknown in local recipient table")
        )
    }

    private mutating func startTLS(_ argument: String) -> [SessionAction] {
        guard connection.tlsAvailable, !isHidden("STARTTLS") else {
            return error(ServerReply(502, "5.5.1", "Error: command not implemented"))
        }
        guard !tlsActive else { return error(ServerReply(554, "5.5.1", "Error: TLS already active")) }
        guard argument.trimmingWhitespace().isEmpty else {
            return error(ServerReply(501, "5.5.4", "Syntax: STARTTLS"))
        }
        return [.reply(ServerReply(220, "2.0.0", "Ready to start TLS")), .startTLS]
    }

    private mutating func auth(_ argument: String) -> [SessionAction] {
        guard !policy.users.isEmpty, !isHidden("AUTH") else {
            return error(ServerReply(502, "5.5.1", "Error: authentication not enabled"))
        }
        guard esmtp else { return error(ServerReply(503, "5.5.1", "Error: send EHLO first")) }
        guard authenticatedUser == nil else { return error(ServerReply(503, "5.5.1", "Error: already authenticated")) }
        guard sender == nil else { return error(ServerReply(503, "5.5.1", "Error: MAIL transaction in progress")) }
        guard tlsActive || !policy.authRequiresTLS else {
            return error(ServerReply(538, "5.7.11", "Encryption required for requested authentication mechanism"))
        }
        let words = argument.split(separator: " ", omittingEmptySubsequences: true)
        guard let name = words.first, let mechanism = SASLMechanism(rawValue: name.uppercased()) else {
            return error(ServerReply(504, "5.5.4", "Unsupported authentication mechanism"))
        }
        let (exchange, step) = SASLServer.start(
            mechanism: mechanism,
            initialResponse: words.count > 1 ? String(words[1]) : nil,
            users: policy.users,
            hostname: policy.hostname
        )
        authExchange = exchange
        return authStep(step)
    }

    private mutating func continueAuth(_ line: String) -> [SessionAction] {
        guard var exchange = authExchange else { return [] }
        let step = exchange.receive(line)
        authExchange = exchange
        return authStep(step)
    }

    private mutating func authStep(_ step: SASLServer.Step) -> [SessionAction] {
        switch step {
        case .challenge(let challenge):
            return [.reply(ServerReply(334, nil, challenge))]
        case .success(let user):
            authExchange = nil
            authenticatedUser = user
            return [.reply(ServerReply(235, "2.7.0", "Authentication successful"))]
        case .failed:
            authExchange = nil
            return error(ServerReply(535, "5.7.8", "Error: authentication failed"))
        case .aborted:
            authExchange = nil
            return error(ServerReply(501, "5.7.0", "Authentication aborted"))
        case .badBase64:
            authExchange = nil
            return error(ServerReply(501, "5.5.2", "Error: invalid base64 data"))
        }
    }

    // MARK: - Helpers

    private mutating func resetTransaction() {
        sender = nil
        recipients = []
        chunkedTransaction = false
        binaryBody = false
    }

    /// A negative reply, counted towards the error limit; too many errors end the session.
    private mutating func error(_ reply: ServerReply) -> [SessionAction] {
        errorCount += 1
        if errorCount >= policy.limits.maxErrors {
            return [
                .reply(reply),
                .reply(ServerReply(421, "4.7.0", "\(policy.hostname) Error: too many errors")),
                .close,
            ]
        }
        return [.reply(reply)]
    }

    /// Whether a drop fault applies at `stage`.
    private func drops(at stage: FaultRule.Stage) -> Bool {
        policy.faults.contains { if case .drop(stage) = $0 { true } else { false } }
    }

    /// `actions` preceded by the delay faults of `stage`.
    private func delayed(_ actions: [SessionAction], at stage: FaultRule.Stage) -> [SessionAction] {
        var result = actions
        for case .delay(stage, let duration) in policy.faults { result.insert(.pause(duration), at: 0) }
        return result
    }

    /// No control characters (tab aside) and valid UTF-8; an all-ASCII line, the usual one, is checked in one pass.
    static func isPrintable(_ line: ByteBuffer) -> Bool {
        // Nearly every command line is printable ASCII, which a word-at-a-time scan confirms. Otherwise the bytes
        // from the first other one on hold a control byte (refused) or UTF-8, which must be valid.
        guard let first = line.withUnsafeReadableBytes({ PrintableASCII.firstOtherByte(in: $0) }) else { return true }
        let view = line.readableBytesView
        for byte in view.dropFirst(first) where byte < 0x20 && byte != 0x09 || byte == 0x7F { return false }
        return String(validating: view, as: UTF8.self) != nil
    }

    static func enhancedCode(forFault code: Int) -> String {
        switch code {
        case 450: return "4.2.1"
        case 451: return "4.3.0"
        case 452: return "4.2.2"
        case 553: return "5.1.3"
        case 554: return "5.7.1"
        default: return code / 100 == 4 ? "4.0.0" : "5.1.1"
        }
    }

    /// A queue ID: twelve characters of Postfix's long-ID alphabet from a 64-bit value (33^12 < 2^64). The value is
    /// SplitMix64 of a counter offset by one random seed per process: as spread as a random draw, distinct for
    /// every message of a process before the reduction to twelve digits, and without the getrandom system call each
    /// message paid for a draw from the system generator.
    static func queueID() -> String {
        let count = queueIDCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        var value = splitMix64(queueIDSeed &+ count &* 0x9E37_79B9_7F4A_7C15)
        return String(
            unsafeUninitializedCapacity: 12,
            initializingUTF8With: { buffer in
                for index in 0..<12 {
                    buffer[index] = queueIDAlphabet[Int(value % 33)]
                    value /= 33
                }
                return 12
            }
        )
    }

    private static let queueIDAlphabet = Array("0123456789ABCDEFGHJKLMNPQRSTVWXYZ".utf8)
    private static let queueIDSeed = UInt64.random(in: 0...UInt64.max)
    private static let queueIDCounter = Atomic<UInt64>(0)

    /// SplitMix64's finaliser (Steele, Lea and Flood 2014): a bijection on 64-bit values that spreads neighbours apart.
    static func splitMix64(_ input: UInt64) -> UInt64 {
        var value = input
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
