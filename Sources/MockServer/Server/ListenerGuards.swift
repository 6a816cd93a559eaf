import Foundation
import NIOCore
import SMTPWire
import ScenarioResults

/// Logs what goes wrong on a listener, which NIO otherwise drops without a word: an `accept` that fails (the
/// process is out of file descriptors) or a new connection whose set-up fails before its greeting. Such errors
/// come in storms, so at most one line per `interval` is written, and a later line counts the ones held back.
/// Errors stop here: the instance before NIO's accept handler sees failed accepts, the one after it (at the end of
/// the listener's pipeline) only failed set-ups.
final class ListenerErrorLog: ChannelInboundHandler {
    typealias InboundIn = Channel

    /// What the line says failed: `cannot accept connections` or `closed a new connection during set-up`.
    private let action: String
    /// The listener's address, which starts the line; known once the listener is bound.
    private var listener = "listener"
    private let interval: TimeAmount
    private let log: @Sendable (String) -> Void
    private var lastLine: NIODeadline?
    private var heldBack = 0
    private var flush: Scheduled<Void>?

    init(
        action: String,
        interval: TimeAmount = .seconds(5),
        log: @escaping @Sendable (String) -> Void
    ) {
        self.action = action
        self.interval = interval
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A client that gave up between its connect and our accept is no fault of the listener.
        if (error as? IOError)?.errnoCode == ECONNABORTED { return }
        if let address = context.localAddress, let ip = address.ipAddress, let port = address.port {
            listener = HostPort.text(ip, port)
        }
        if let last = lastLine, context.eventLoop.now - last < interval {
            heldBack += 1
            // The storm may end before the interval does: the count still gets its line.
            if flush == nil {
                flush = context.eventLoop.assumeIsolated().scheduleTask(deadline: last + interval) { [self] in
                    flush = nil
                    if heldBack > 0 {
                        emit("\(action): \(heldBack) more in the last \(seconds) s", at: context.eventLoop.now)
                    }
                }
            }
            return
        }
        flush?.cancel()
        flush = nil
        let earlier = heldBack > 0 ? " (and \(heldBack) more before this)" : ""
        emit("\(action): \(Self.reason(error))" + earlier, at: context.eventLoop.now)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flush?.cancel()
        flush = nil
    }

    private var seconds: Int64 { interval.nanoseconds / 1_000_000_000 }

    private func emit(_ text: String, at now: NIODeadline) {
        heldBack = 0
        lastLine = now
        log("\(listener) \(text)")
    }

    /// `too many open files (this process's file descriptor limit 64 is reached: ...)` rather than NIO's
    /// `accept(descriptor:addr:len:): Too many open files (errno: 24)`.
    static func reason(_ error: Error) -> String {
        guard let code = (error as? IOError)?.errnoCode else { return SystemError.reason(error) }
        let text = SystemError.describe(code)
        switch code {
        case EMFILE:
            let soft = SystemError.descriptorLimit.map { " \($0)" } ?? ""
            return "\(text) (this process's file descriptor limit\(soft) is reached: raise it with `ulimit -n`, or "
                + "lower `limits: max-connections`; accepting resumes as connections close)"
        case ENFILE: return "\(text) (the system's file limit is reached; accepting resumes as files close)"
        default: return text
        }
    }
}

/// Stops a listener accepting for a moment after `accept` failed for want of resources. The connection that could
/// not be taken stays in the backlog and keeps the socket readable, so without a pause the event loop retries at
/// full speed (measured: 85% of a core, 1.5 million failed accepts in 5 s). NIO's `AcceptBackoffHandler` does
/// not help here: it delays the next `read`, which NIO does not ask for after a failed accept.
final class AcceptPause: ChannelInboundHandler {
    typealias InboundIn = Channel

    private let pause: TimeAmount
    private var resume: Scheduled<Void>?

    init(pause: TimeAmount = .milliseconds(100)) { self.pause = pause }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        defer { context.fireErrorCaught(error) }
        guard resume == nil, let code = (error as? IOError)?.errnoCode,
            [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(code),
            let options = context.channel.syncOptions
        else { return }
        // Turning automatic reading off takes the socket out of the poll set until it is turned on again.
        try? options.setOption(.autoRead, value: false)
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [self] in
            resume = nil
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
    }
}
