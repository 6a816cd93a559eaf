import NIOCore
import NIOSSL
import NIOTLS
import SMTPWire

/// One client connection of the mock: frames lines, drives the ``SessionMachine`` and carries out its actions.
///
/// Pipelined commands are answered in order with one write per batch. Buffers are bounded: command lines by the
/// framer, message content by ``DataReceiver`` (an oversize message is counted, not kept). Confined to the
/// channel's event loop.
final class MockSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
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

    private let core: MockServerCore
    private var machine: SessionMachine
    private var buffer = ByteBuffer()
    private var commandFramer = LineFramer(maxLineLength: MockSessionHandler.maxFramedCommand)
    private var dataFramer = LineFramer(maxLineLength: MockSessionHandler.maxDataLine)
    private var dataReceiver: DataReceiver?
    private var queue: [Work] = []
    private var outbound = ByteBuffer()
    private var paused = false
    private var awaitingHandshake = false
    private var finished = false
    private var counted = false
    private var sessionTimer: Scheduled<Void>?
    private let started = ContinuousClock.now
    private var clientDescription = "unknown"

    init(core: MockServerCore, connection: SessionMachine.Connection) {
        self.core = core
        self.machine = SessionMachine(policy: core.policy, connection: connection, greylist: core.greylist)
        self.clientDescription = connection.clientAddress
    }

    /// For implicit-TLS listeners: the session starts encrypted.
    func markTLSActive() { machine.tlsEstablished() }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.remoteAddress { clientDescription = "\(remote.ipAddress ?? "?"):\(remote.port ?? 0)" }
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
        let loop = context.eventLoop.assumeIsolated()
        sessionTimer = loop.scheduleTask(in: TimeAmount(core.policy.limits.sessionTimeout)) { [self] in
            timeOut(context: context, reason: "session time limit exceeded")
        }
        enqueue(machine.greeting())
        process(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !finished else { return }
        buffer.writeBuffer(&incoming)
        process(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            timeOut(context: context, reason: "idle timeout")
            return
        }
        if case .handshakeCompleted = event as? TLSUserEvent {
            awaitingHandshake = false
            machine.tlsEstablished()
            process(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // TLS failures, resets: nothing to answer; the log line records how the session ended.
        core.log("\(clientDescription) error: \(error)")
        finished = true
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        sessionTimer?.cancel()
        if counted {
            core.connectionClosed()
            let elapsed = ContinuousClock.now - started
            let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            let partial = dataReceiver != nil ? " (client vanished during DATA; nothing stored)" : ""
            core.log(
                "\(clientDescription) helo=\(machine.helo ?? "-") tls=\(machine.tlsActive ? "yes" : "no") "
                    + "auth=\(machine.authenticatedUser ?? "-") \(machine.stats) duration=\(ms)ms\(partial)"
            )
        }
        dataReceiver = nil
        context.fireChannelInactive()
    }

    // MARK: - Processing

    private func enqueue(_ actions: [SessionAction]) {
        for action in actions {
            if case .reply(let reply) = action, core.policy.splitMultilineReplies, reply.lines.count > 1 {
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

    /// Carries out queued work, then reads further lines, until input runs out or something must wait.
    private func process(context: ChannelHandlerContext) {
        while !finished, !paused, !awaitingHandshake {
            if !queue.isEmpty {
                perform(queue.removeFirst(), context: context)
                continue
            }
            guard let actions = nextInput() else { break }
            enqueue(actions)
        }
        flush(context: context)
    }

    /// Feeds the next complete line to the machine; nil when more bytes are needed.
    private func nextInput() -> [SessionAction]? {
        if var receiver = dataReceiver {
            guard let line = dataFramer.next(from: &buffer) else { return nil }
            let outcome = receiver.receive(line)
            dataReceiver = receiver
            guard let outcome else { return [] }
            dataReceiver = nil
            return machine.dataFinished(outcome)
        }
        guard let framed = commandFramer.next(from: &buffer) else { return nil }
        switch framed {
        case .line(let line, _): return machine.receive(line)
        case .overlong: return machine.overlongLine()
        }
    }

    private func perform(_ work: Work, context: ChannelHandlerContext) {
        switch work {
        case .writeLine(var line):
            outbound.writeBuffer(&line)
            flush(context: context)
        case .action(.reply(let reply)):
            ReplyEncoder.encode(code: reply.code, enhanced: reply.enhanced, lines: reply.lines, into: &outbound)
        case .action(.pause(let duration)):
            flush(context: context)
            paused = true
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [self] in
                paused = false
                process(context: context)
            }
        case .action(.close):
            finished = true
            flush(context: context)
            context.close(promise: nil)
        case .action(.drop):
            finished = true
            outbound.clear()
            context.close(promise: nil)
        case .action(.startTLS):
            flush(context: context)
            startTLS(context: context)
        case .action(.enterData):
            dataReceiver = DataReceiver(policy: core.policy.bareLineEndings, maxSize: core.policy.maxMessageSize)
            dataFramer = LineFramer(maxLineLength: Self.maxDataLine)
        case .action(.deliver(let message)):
            do {
                try core.store.store(message)
            } catch {
                core.log("\(clientDescription) cannot store message \(message.id): \(error)")
            }
        }
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

    private func flush(context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        let bytes = outbound
        outbound = ByteBuffer()
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
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
