import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import SMTPWire

/// One client connection of the mock: frames lines, drives the ``SessionMachine`` and carries out its actions.
///
/// Pipelined commands are answered in order with one write per batch. Buffers are bounded: command lines by the
/// framer, message content by ``DataReceiver`` (an oversize message is counted, not kept), unread input by
/// back-pressure (no further reads while the client does not read our replies, or while input waits for a delay
/// or a TLS handshake). Confined to the channel's event loop.
final class MockSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Work queued for the connection: the machine's actions, plus single lines of a split multi-line reply.
    private enum Work {
        case action(SessionAction)
        case writeLine(ByteBuffer)
    }

    /// The longest command line read at all: AUTH lines may be long (RFC 4954: 12288 octets).
    static let maxFramedCommand = 12_288
    /// The longest line of message content kept (RFC 5321 says 1000; be generous).
    static let maxDataLine = 64 * 1024
    /// A command line still without its end after this many bytes is not SMTP: `421` and close.
    static let commandLineHardCap = 1024 * 1024
    /// Unprocessed input held at most before reading from the socket pauses.
    static let maxBufferedInput = 256 * 1024

    private let core: MockServerCore
    /// The policy's answer, read once: asked of every command line, it copied the whole policy each time.
    private let refusesImproperPipelining: Bool
    /// The policy's `split-multiline-replies`, read once: asked of every reply.
    private let splitsMultilineReplies: Bool
    private var machine: SessionMachine
    private var buffer = ByteBuffer()
    private var commandFramer = LineFramer(maxLineLength: MockSessionHandler.maxFramedCommand)
    private var dataFramer = LineFramer(maxLineLength: MockSessionHandler.maxDataLine)
    private var dataReceiver: DataReceiver?
    /// The BDAT chunks of the current transaction (RFC 3030), and the chunk being read.
    private var chunkReceiver: ChunkReceiver?
    private var currentChunk: (last: Bool, refusal: ServerReply?)?
    private var queue: [Work] = []
    private var outbound = ByteBuffer()
    private var paused = false
    private var awaitingHandshake = false
    private var finished = false
    /// How the client left, when it did so without QUIT's orderly close (for the session line).
    private var sessionEnding: String?
    private var counted = false
    /// A `read()` held back by back-pressure, to issue once input can flow again.
    private var readHeldBack = false
    /// The session's one timer. It fires at the earlier of the session's time limit and the idle limit after the
    /// last input, and re-arms while input keeps coming. NIO's IdleStateHandler plus a separate session timer
    /// scheduled and cancelled two tasks a connection and put one more handler on every read and write.
    /// Times are the event loop's (`now`), so that an embedded loop's clock drives them in tests.
    private var timer: Scheduled<Void>?
    private var started = NIODeadline.uptimeNanoseconds(0)
    private let sessionTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// When the client last sent anything (decrypted input, as the session sees it).
    private var lastInput = NIODeadline.uptimeNanoseconds(0)
    private var clientDescription = "unknown"
    /// Whether `clientDescription` is already `ip:port`.
    private let describedClient: Bool

    /// `clientDescription` is the peer as `ip:port` when the caller knows it; else it is read when the channel
    /// becomes active.
    init(core: MockServerCore, connection: SessionMachine.Connection, clientDescription: String? = nil) {
        self.core = core
        let policy = core.policy
        self.refusesImproperPipelining = policy.refusesImproperPipelining
        self.splitsMultilineReplies = policy.splitMultilineReplies
        self.sessionTimeout = TimeAmount(policy.limits.sessionTimeout)
        self.idleTimeout = TimeAmount(policy.limits.idleTimeout)
        self.machine = SessionMachine(policy: policy, connection: connection, greylist: core.greylist)
        self.clientDescription = clientDescription ?? connection.clientAddress
        self.describedClient = clientDescription != nil
    }

    /// Bytes of storage held for unprocessed input (for tests of the input bounds).
    var bufferedInputCapacity: Int { buffer.capacity }

    /// Bytes of storage held for the message being received (for tests of the size limit).
    var heldMessageCapacity: Int { dataReceiver?.contentCapacity ?? chunkReceiver?.contentCapacity ?? 0 }

    /// For implicit-TLS listeners: the session starts encrypted.
    func markTLSActive() { machine.tlsEstablished() }

    func channelActive(context: ChannelHandlerContext) {
        if !describedClient, let remote = context.remoteAddress {
            clientDescription = HostPort.text(remote.numericHost ?? "?", remote.port ?? 0)
        }
        guard core.connectionOpened() else {
            var reply = ByteBuffer()
            ReplyEncoder.encode(
                code: 421,
                enhanced: EnhancedStatusCode("4.7.0"),
                lines: ["\(core.policy.hostname) Error: too many connections, try again later"],
                into: &reply
            )
            finished = true
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            core.log("\(clientDescription) refused: connection limit \(core.policy.limits.maxConnections) reached")
            return
        }
        counted = true
        started = context.eventLoop.now
        lastInput = started
        armTimer(at: min(sessionDeadline, lastInput + idleTimeout), context: context)
        enqueue(machine.greeting())
        process(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !finished else { return }
        lastInput = context.eventLoop.now
        if buffer.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer.writeBuffer(&incoming)
        }
        process(context: context)
    }

    // MARK: - Back-pressure

    /// Reads from the socket only while input can flow: the client reads our replies, and what it sent is
    /// being consumed. Otherwise a client that pipelines without reading could grow the server without bound.
    func read(context: ChannelHandlerContext) {
        if holdsReads(context) {
            readHeldBack = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { process(context: context) }
        context.fireChannelWritabilityChanged()
    }

    private func holdsReads(_ context: ChannelHandlerContext) -> Bool {
        !context.channel.isWritable || buffer.readableBytes >= Self.maxBufferedInput
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        guard readHeldBack, !finished, !holdsReads(context) else { return }
        readHeldBack = false
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            awaitingHandshake = false
            machine.tlsEstablished()
            process(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Nothing to answer. A client that leaves without a TLS close-notify, or resets the connection (as many
        // do right after QUIT), ended its session normally: the session line says how. Anything else is an error.
        if let ending = Self.ordinaryEnding(error) {
            sessionEnding = ending
        } else {
            core.log("\(clientDescription) error: \(error)")
        }
        finished = true
        context.close(promise: nil)
    }

    /// How a session ended when `error` is an ordinary way for a client to leave; nil for real errors.
    static func ordinaryEnding(_ error: Error) -> String? {
        if let tls = error as? NIOSSLError, case .uncleanShutdown = tls { return "closed without TLS close-notify" }
        if let io = error as? IOError, [ECONNRESET, EPIPE].contains(io.errnoCode) { return "reset by the client" }
        return nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if counted {
            core.connectionClosed()
            let ms = (context.eventLoop.now - started).nanoseconds / 1_000_000
            var partial: String?
            if dataReceiver != nil { partial = "client vanished during DATA; nothing stored" }
            if chunkReceiver != nil { partial = "client vanished during BDAT; nothing stored" }
            core.log(
                Self.sessionLine(
                    client: clientDescription,
                    machine: machine,
                    milliseconds: ms,
                    notes: [partial, sessionEnding].compactMap { $0 }
                )
            )
        }
        dataReceiver = nil
        chunkReceiver = nil
        context.fireChannelInactive()
    }

    /// The line `serve` logs when a session ends: `127.0.0.1:40312 helo=client tls=no auth=- commands=5 mail=1
    /// rcpt=1/1 messages=1 duration=2ms`, then each note in parentheses.
    ///
    /// Gathered as bytes and decoded once, numbers written as digits in place: as an interpolation of
    /// interpolations it cost 11,000 instructions a session (a thirtieth of the mock's work), as an array of
    /// strings 6,400.
    static func sessionLine(client: String, machine: SessionMachine, milliseconds: Int64, notes: [String]) -> String {
        let stats = machine.stats
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + notes.reduce(0) { $0 + $1.utf8.count + 3 })
        bytes.append(contentsOf: client.utf8)
        bytes.append(contentsOf: " helo=".utf8)
        bytes.append(contentsOf: (machine.helo ?? "-").utf8)
        bytes.append(contentsOf: (machine.tlsActive ? " tls=yes auth=" : " tls=no auth=").utf8)
        bytes.append(contentsOf: (machine.authenticatedUser ?? "-").utf8)
        bytes.append(contentsOf: " commands=".utf8)
        appendDecimal(Int64(stats.commands), to: &bytes)
        bytes.append(contentsOf: " mail=".utf8)
        appendDecimal(Int64(stats.mail), to: &bytes)
        bytes.append(contentsOf: " rcpt=".utf8)
        appendDecimal(Int64(stats.recipientsAccepted), to: &bytes)
        bytes.append(UInt8(ascii: "/"))
        appendDecimal(Int64(stats.recipientsAccepted + stats.recipientsRefused), to: &bytes)
        bytes.append(contentsOf: " messages=".utf8)
        appendDecimal(Int64(stats.messages), to: &bytes)
        bytes.append(contentsOf: " duration=".utf8)
        appendDecimal(milliseconds, to: &bytes)
        bytes.append(contentsOf: "ms".utf8)
        for note in notes {
            bytes.append(contentsOf: " (".utf8)
            bytes.append(contentsOf: note.utf8)
            bytes.append(UInt8(ascii: ")"))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value` in decimal, as `String(value)` writes it (a minus sign for a negative value).
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
    }

    // MARK: - Processing

    private func enqueue(_ actions: [SessionAction]) {
        for action in actions {
            if case .reply(let reply) = action, splitsMultilineReplies, reply.lines.count > 1 {
                var encoded = ByteBuffer()
                ReplyEncoder.encode(code: reply.code, enhanced: reply.enhanced, lines: reply.lines, into: &encoded)
                let text = String(decoding: encoded.readableBytesView, as: UTF8.self)
                let lines = text.split(separator: "\r\n").map { ByteBuffer(string: $0 + "\r\n") }
                for (index, line) in lines.enumerated() {
                    queue.append(.writeLine(line))
                    if index < lines.count - 1 { queue.append(.action(.pause(.milliseconds(40)))) }
                }
            } else {
                queue.append(.action(action))
            }
        }
    }

    /// Carries out queued work, then reads further lines, until input runs out or something must wait (a delay,
    /// a TLS handshake, or a client that does not read its replies).
    private func process(context: ChannelHandlerContext) {
        // Looked up once: `context.channel` goes through the pipeline, and the loop asks about writability before
        // each of a session's thirty-odd steps.
        let channel = context.channel
        while !finished, !paused, !awaitingHandshake, channel.isWritable {
            if !queue.isEmpty {
                perform(queue.removeFirst(), context: context)
                continue
            }
            guard let actions = nextInput() else { break }
            if queue.isEmpty, actions.allSatisfy(isImmediate) {
                // Nothing these actions do can change what the loop checks, so the queue would only copy each of
                // them in and out (2,600 instructions of a session on the event loop).
                for action in actions { perform(action, context: context) }
            } else {
                enqueue(actions)
            }
        }
        writeOutbound(context: context)
        if commandFramer.discardedSoFar > Self.commandLineHardCap, !finished {
            enqueue([
                .reply(ServerReply(421, "4.7.0", "\(core.policy.hostname) Error: line too long, closing connection")),
                .close,
            ])
            while !queue.isEmpty, !finished { perform(queue.removeFirst(), context: context) }
        }
        // Consumed bytes are dropped, so the buffer holds only what is still unread.
        if buffer.readableBytes == 0 {
            buffer.clear()
        } else if buffer.readerIndex > 64 * 1024 {
            buffer.discardReadBytes()
        }
        resumeReadingIfPossible(context: context)
    }

    /// Feeds the next complete line to the machine; nil when more bytes are needed.
    private func nextInput() -> [SessionAction]? {
        if let chunk = currentChunk {
            // A chunk is read by its size, never by lines.
            guard let outcome = chunkReceiver!.consume(&buffer) else { return nil }
            currentChunk = nil
            let actions = machine.chunkFinished(outcome, refusal: chunk.refusal, last: chunk.last)
            if chunk.last || chunk.refusal != nil || !machine.chunkedTransaction { chunkReceiver = nil }
            return actions
        }
        if dataReceiver != nil {
            // Every content line that has arrived, in one call: no line of content produces an action, so nothing
            // between two lines needs the loop above. Mutated in place: a copy would share the message buffer and
            // make every append copy it whole.
            guard let outcome = dataReceiver!.receiveLines(from: &buffer, framer: &dataFramer) else { return nil }
            dataReceiver = nil
            return machine.dataFinished(outcome)
        }
        guard let framed = commandFramer.next(from: &buffer) else { return nil }
        switch framed {
        case .line(let line, _):
            // More input already behind a command that has not been answered: the client pipelined.
            // (A BDAT chunk always follows its command in the same write: that is no pipelining.)
            if refusesImproperPipelining, buffer.readableBytes > 0, !machine.inAuthExchange,
                SMTPCommandLine(line).verb != .bdat
            {
                return machine.improperPipelining()
            }
            return machine.receive(line)
        case .overlong: return machine.overlongLine()
        }
    }

    /// Whether `action` only adds to the pending output or state without writing, waiting or calling out of the
    /// handler: a reply that is not to be split, or the start of DATA. Such actions run at once, unqueued.
    private func isImmediate(_ action: SessionAction) -> Bool {
        switch action {
        case .reply(let reply): !splitsMultilineReplies || reply.lines.count <= 1
        case .enterData: true
        default: false
        }
    }

    private func perform(_ work: Work, context: ChannelHandlerContext) {
        switch work {
        case .writeLine(var line):
            outbound.writeBuffer(&line)
            writeOutbound(context: context)
        case .action(let action):
            perform(action, context: context)
        }
    }

    private func perform(_ action: SessionAction, context: ChannelHandlerContext) {
        switch action {
        case .reply(let reply):
            ReplyEncoder.encode(code: reply.code, enhanced: reply.enhanced, lines: reply.lines, into: &outbound)
        case .pause(let duration):
            writeOutbound(context: context)
            paused = true
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [self] in
                paused = false
                process(context: context)
            }
        case .close:
            finished = true
            writeOutbound(context: context)
            context.close(promise: nil)
        case .drop:
            finished = true
            outbound.clear()
            context.close(promise: nil)
        case .startTLS:
            writeOutbound(context: context)
            startTLS(context: context)
        case .readChunk(let size, let last, let first, let refusal):
            if chunkReceiver == nil || first || refusal != nil {
                chunkReceiver = ChunkReceiver(maxSize: refusal == nil ? core.policy.maxMessageSize : 0)
            }
            chunkReceiver!.begin(size: size, last: last)
            currentChunk = (last, refusal)
            if size == 0 {
                // An empty chunk (BDAT 0 LAST ends a message) needs no bytes.
                currentChunk = nil
                enqueue(machine.chunkFinished(chunkReceiver!.finishChunk(), refusal: refusal, last: last))
                if last || refusal != nil { chunkReceiver = nil }
            }
        case .enterData:
            dataReceiver = DataReceiver(policy: core.policy.bareLineEndings, maxSize: core.policy.maxMessageSize)
            dataFramer = LineFramer(maxLineLength: Self.maxDataLine)
        case .deliver(let message):
            guard let writer = core.fileWriter else {
                // Kept in memory only: nothing to write, nothing that can fail.
                _ = try? core.store.store(message)
                break
            }
            let stored = core.store.store(message, on: writer, eventLoop: context.eventLoop)
            // The file is written on a thread pool, not on this loop, which serves every other session of the
            // listener. What follows (the "queued as" reply) waits for it: a reader of that reply finds the file.
            writeOutbound(context: context)
            paused = true
            stored.assumeIsolated().whenComplete { [self] result in
                if case .failure(let error) = result {
                    core.log("\(clientDescription) cannot store message \(message.id): \(error)")
                    refuseUnstoredMessage()
                }
                paused = false
                process(context: context)
            }
        }
    }

    /// A message whose file could not be written was not accepted: its "queued as" reply, next in the queue, becomes
    /// 452 4.3.1 (RFC 5321 4.2.3, RFC 3463 "mail system full"), as a real MTA answers when it cannot queue.
    private func refuseUnstoredMessage() {
        guard
            let index = queue.firstIndex(where: {
                if case .action(.reply(let reply)) = $0 { reply.code == 250 } else { false }
            })
        else { return }
        queue[index] = .action(
            .reply(ServerReply(452, "4.3.1", "Insufficient system storage: the message was not stored"))
        )
    }

    private func startTLS(context: ChannelHandlerContext) {
        guard let tls = core.tlsContext else { return }
        if !core.policy.executePlaintextAfterSTARTTLS {
            // RFC 3207 4.2: plaintext received after STARTTLS must not be acted on inside TLS (CVE-2011-0411).
            buffer.clear()
        }
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            awaitingHandshake = true
        } catch {
            core.log("\(clientDescription) cannot start TLS: \(error)")
            finished = true
            context.close(promise: nil)
        }
    }

    private func writeOutbound(context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(outbound), promise: nil)
        // Cleared rather than replaced: storage NIO has let go of takes the next reply as it is, and storage NIO still
        // holds is replaced by one of the same capacity, which the encoder fills without growing it. (callgrind shows
        // the second case on every reply with NIO 2.101: a plain allocation, cheaper than growing a new empty buffer.)
        outbound.clear()
    }

    // MARK: - Time limits

    private var sessionDeadline: NIODeadline { started + sessionTimeout }

    private func armTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timerFired(context: context)
        }
    }

    /// Ends the session when a limit has passed; otherwise (input came since the timer was set) waits again.
    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        guard !finished else { return }
        let now = context.eventLoop.now
        if now >= sessionDeadline { return timeOut(context: context, reason: "session time limit exceeded") }
        let idleDeadline = lastInput + idleTimeout
        if now >= idleDeadline { return timeOut(context: context, reason: "idle timeout") }
        armTimer(at: min(sessionDeadline, idleDeadline), context: context)
    }

    private func timeOut(context: ChannelHandlerContext, reason: String) {
        guard !finished else { return }
        finished = true
        ReplyEncoder.encode(
            code: 421,
            enhanced: EnhancedStatusCode("4.4.2"),
            lines: ["\(core.policy.hostname) Error: \(reason)"],
            into: &outbound
        )
        let bytes = outbound
        outbound = ByteBuffer()
        context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
