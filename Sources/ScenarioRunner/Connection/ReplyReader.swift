import NIOCore
import NIOTLS
import SMTPWire

/// The inbound end of a client connection: buffers what the server sends and hands out one reply per request.
///
/// Bytes are parsed only when a reply is requested, so bytes the server sends early (for example plaintext after
/// a `220` to STARTTLS) can be inspected and discarded instead of being read as replies. Confined to its channel's
/// event loop.
final class ReplyReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// The waiting read: its continuation is resumed exactly once, by `complete(with:)` or the deadline.
    /// A continuation rather than a promise: no future (with its generic metadata lookups) and callback per reply.
    private struct PendingRead {
        let continuation: UnsafeContinuation<ReadOutcome, Never>
        let deadline: NIODeadline
    }

    /// Watches the pending read's deadline. One callback serves the reads that follow each other: a read whose
    /// deadline is no earlier than the armed one leaves it be, and when it fires before the pending read's deadline
    /// it arms itself again for that. Scheduling and cancelling a callback per reply cost 26,000 instructions a
    /// session (NIO's timer heap); now a connection schedules one and cancels it when it ends.
    ///
    /// A callback cancelled by anything but this reader (the event loop shutting down) ends the pending read as
    /// cancelled, so no read waits forever; the reader's own cancellations change `timerGeneration` first, so
    /// they resume nothing.
    private struct ReadDeadline: NIOScheduledCallbackHandler {
        let reader: ReplyReader
        let generation: UInt64
        func handleScheduledCallback(eventLoop: some EventLoop) { reader.deadlineFired(generation: generation) }
        func didCancelScheduledCallback(eventLoop: some EventLoop) {
            guard generation == reader.timerGeneration else { return }
            reader.complete(with: .cancelled)
        }
    }

    /// The armed deadline callback, and when it fires.
    private var timer: (callback: NIOScheduledCallback, at: NIODeadline)?
    private var timerGeneration: UInt64 = 0

    private var buffer = ByteBuffer()
    private var parser: ReplyParser
    private var pendingRead: PendingRead?
    private var pendingHandshake: EventLoopPromise<Void>?
    private var closeReason: CloseReason?
    private var eventLoop: EventLoop?
    /// The peer's IP address, noted when the connection became active (a connection closed at once has none later).
    private(set) var remoteIP: String?

    init(parser: ReplyParser = ReplyParser()) {
        self.parser = parser
    }

    func handlerAdded(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
        if context.channel.isActive { remoteIP = context.channel.remoteAddress?.numericHost }
    }

    /// The address is the channel's, which NIO notes when the connect finishes, before this call.
    /// `context.remoteAddress` would ask the socket again: a `getpeername` call and an `inet_ntop` a connection.
    func channelActive(context: ChannelHandlerContext) {
        remoteIP = context.channel.remoteAddress?.numericHost
        context.fireChannelActive()
    }

    /// The next reply if it can be had without waiting (it is buffered, or the connection has ended); nil when a
    /// read would wait or one already does.
    func readWithoutWaiting() -> ReadOutcome? {
        pendingRead == nil ? tryCompleteRead() : nil
    }

    /// Waits for the next complete reply, or `timeout`, or the end of the connection, and resumes `continuation`
    /// with it, exactly once. `buffered` false says the caller has just found no reply buffered
    /// (``readWithoutWaiting()`` on this loop, nothing run since), so the buffer is not parsed again.
    func readReply(
        timeout: TimeAmount,
        on loop: EventLoop,
        buffered: Bool = true,
        continuation: UnsafeContinuation<ReadOutcome, Never>
    ) {
        precondition(pendingRead == nil, "one reply read at a time")
        if buffered, let outcome = tryCompleteRead() { return continuation.resume(returning: outcome) }
        let deadline = NIODeadline.now() + timeout
        if let timer, timer.at <= deadline {
            // The armed callback fires first and arms itself again for this read.
        } else if !arm(at: deadline, on: loop) {
            // Only a loop that is shutting down refuses to schedule: the run is ending.
            return continuation.resume(returning: .cancelled)
        }
        pendingRead = PendingRead(continuation: continuation, deadline: deadline)
    }

    /// Schedules the deadline callback for `deadline`, in place of an armed one; false when the loop refuses.
    private func arm(at deadline: NIODeadline, on loop: EventLoop) -> Bool {
        disarm()
        let handler = ReadDeadline(reader: self, generation: timerGeneration)
        guard let callback = try? loop.assumeIsolated().scheduleCallback(at: deadline, handler: handler) else {
            return false
        }
        timer = (callback, deadline)
        return true
    }

    /// Cancels the armed callback, if any, without ending a read.
    private func disarm() {
        guard let armed = timer else { return }
        timer = nil
        timerGeneration &+= 1
        armed.callback.cancel()
    }

    private func deadlineFired(generation: UInt64) {
        guard generation == timerGeneration else { return }
        timer = nil
        guard let pending = pendingRead else { return }
        if NIODeadline.now() < pending.deadline, let loop = eventLoop {
            // Armed for an earlier read: watch this one's deadline now.
            if !arm(at: pending.deadline, on: loop) { complete(with: .cancelled) }
            return
        }
        pendingRead = nil
        pending.continuation.resume(returning: .timedOut(partial: partialBytes))
    }

    /// Ends a pending read because the run was interrupted.
    func cancelPendingRead() {
        complete(with: .cancelled)
    }

    /// Removes and returns every byte received but not yet read as a reply.
    func takeBufferedBytes() -> [UInt8] {
        let bytes = Array(buffer.readableBytesView)
        buffer.clear()
        parser = ReplyParser()
        return bytes
    }

    /// Whether the connection has ended.
    var isClosed: Bool { closeReason != nil }

    /// Whether the server sent bytes that no read has taken yet (an unsolicited reply, or part of one).
    var hasUnreadBytes: Bool { buffer.readableBytes > 0 || !parser.partialLines.isEmpty }

    /// Registers interest in the end of a TLS handshake started by a handler in front of this one.
    func awaitHandshake(on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        if let closeReason {
            promise.fail(ConnectionClosedError(reason: closeReason))
        } else {
            pendingHandshake = promise
        }
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        // Nearly always nothing is left over: take the read's buffer rather than copy it into ours.
        if buffer.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer.writeBuffer(&incoming)
        }
        // Parse only for a waiting reader: unread bytes must stay inspectable (see takeBufferedBytes).
        if pendingRead != nil, let outcome = tryCompleteRead() { complete(with: outcome) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, let promise = pendingHandshake {
            pendingHandshake = nil
            promise.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let promise = pendingHandshake {
            pendingHandshake = nil
            promise.fail(error)
        }
        if closeReason == nil { closeReason = .reset(SMTPConnection.describeSocketError(error)) }
        complete(with: .closed(closeReason!, partial: partialBytes))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if closeReason == nil { closeReason = .orderly }
        // Nothing is read after the end: the callback would only hold the reader until it fired.
        defer { disarm() }
        if let promise = pendingHandshake {
            pendingHandshake = nil
            promise.fail(ConnectionClosedError(reason: closeReason!))
        }
        if pendingRead != nil, let outcome = tryCompleteRead() { complete(with: outcome) }
        context.fireChannelInactive()
    }

    private func tryCompleteRead() -> ReadOutcome? {
        do {
            if let reply = try parser.parse(&buffer) { return .reply(reply) }
        } catch {
            return .protocolError(error)
        }
        if let closeReason { return .closed(closeReason, partial: partialBytes) }
        return nil
    }

    /// Lines of an unfinished reply plus bytes of an unfinished line, for messages about what did arrive.
    private var partialBytes: [UInt8] {
        parser.partialLines.flatMap { $0 + [UInt8(ascii: "\r"), UInt8(ascii: "\n")] } + Array(buffer.readableBytesView)
    }

    /// Ends the pending read with `outcome`; the deadline callback stays armed for the reads that follow.
    private func complete(with outcome: ReadOutcome) {
        guard let pending = pendingRead else { return }
        pendingRead = nil
        pending.continuation.resume(returning: outcome)
    }
}

/// The connection ended while something was still expected of it.
struct ConnectionClosedError: Error, CustomStringConvertible {
    let reason: CloseReason
    var description: String { reason.description }
}
