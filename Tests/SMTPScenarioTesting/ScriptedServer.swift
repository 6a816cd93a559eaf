import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A tiny SMTP-ish server for failure cases: each connection runs an async script that reads lines and writes
/// whatever bytes the test wants (garbage, endless lines, resets, silence). Listens on 127.0.0.1, port 0.
public final class ScriptedServer: Sendable {
    /// What a script gets for each connection.
    public typealias Script = @Sendable (ScriptedConnection) async -> Void

    /// The port it listens on.
    public let port: Int
    private let channel: Channel
    private let registry: NIOLockedValueBox<[ScriptedConnection]>

    private init(port: Int, channel: Channel, registry: NIOLockedValueBox<[ScriptedConnection]>) {
        self.port = port
        self.channel = channel
        self.registry = registry
    }

    /// Starts listening; returns once bound.
    public static func start(_ script: @escaping Script) async throws -> ScriptedServer {
        let registry = NIOLockedValueBox<[ScriptedConnection]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = ScriptedConnection(channel: channel)
                    registry.withLockedValue { $0.append(connection) }
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(connection: connection))
                    Task { await script(connection) }
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ScriptedServer(port: channel.localAddress!.port!, channel: channel, registry: registry)
    }

    /// Every connection accepted so far.
    public var accepted: [ScriptedConnection] { registry.withLockedValue { $0 } }

    /// Stops listening and closes open connections.
    public func stop() async {
        for connection in accepted { await connection.close() }
        try? await channel.close()
    }
}

/// One connection of a ``ScriptedServer``.
public final class ScriptedConnection: Sendable {
    let channel: Channel
    private let state = NIOLockedValueBox(State())

    private struct State {
        var lines: [String] = []
        var all: [String] = []
        var waiter: CheckedContinuation<String?, Never>?
        var closed = false
        var bytesReceived = 0
        var bytesWaiter: (beyond: Int, continuation: CheckedContinuation<Void, Never>)?
        var resetBeyond: Int?
    }

    init(channel: Channel) { self.channel = channel }

    /// Every line received so far (without CRLF), for assertions.
    public var receivedLines: [String] { state.withLockedValue { $0.all } }

    /// Writes text exactly as given (add `\r\n` yourself).
    public func send(_ text: String) async {
        try? await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Writes raw bytes.
    public func send(bytes: [UInt8]) async {
        try? await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// The next line from the client (without CRLF), or nil when the client closed.
    public func readLine() async -> String? {
        await withCheckedContinuation { continuation in
            let immediate: String?? = state.withLockedValue { state in
                if !state.lines.isEmpty { return .some(state.lines.removeFirst()) }
                if state.closed { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Bytes received so far, lines or not.
    public var bytesReceived: Int { state.withLockedValue { $0.bytesReceived } }

    /// Waits until more than `count` bytes have arrived in all (a TLS ClientHello has no line end), or the
    /// client closed.
    public func waitForBytes(beyond count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state in
                if state.bytesReceived > count || state.closed { return true }
                state.bytesWaiter = (count, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Resets the connection (RST) as soon as more than `count` bytes have arrived in all, on the event loop in
    /// the read that brought them: the client cannot have written much more than the socket buffers hold by then.
    public func reset(afterReceiving count: Int) {
        state.withLockedValue { $0.resetBeyond = count }
    }

    /// Counts `count` more bytes; true when the connection is to be reset now (``reset(afterReceiving:)``).
    func receivedBytes(_ count: Int) -> Bool {
        let (waiter, reset): (CheckedContinuation<Void, Never>?, Bool) = state.withLockedValue { state in
            state.bytesReceived += count
            let reset = state.resetBeyond.map { state.bytesReceived > $0 } ?? false
            guard let waiter = state.bytesWaiter, state.bytesReceived > waiter.beyond else { return (nil, reset) }
            state.bytesWaiter = nil
            return (waiter.continuation, reset)
        }
        waiter?.resume()
        return reset
    }

    /// Reads lines until one starts with `prefix` (case-insensitive); nil when the client closed first.
    public func readLine(startingWith prefix: String) async -> String? {
        while let line = await readLine() {
            if line.uppercased().hasPrefix(prefix.uppercased()) { return line }
        }
        return nil
    }

    /// Reads the next line and, when it is QUIT, answers 221 (so a polite client does not wait for its reply).
    public func answerQuit() async {
        if await readLine() == "QUIT" { await send("221 2.0.0 Bye\r\n") }
    }

    /// Closes the connection (FIN).
    public func close() async {
        try? await channel.close()
    }

    /// Resets the connection (RST, via SO_LINGER 0).
    public func reset() async {
        try? await makeCloseAReset(channel)?.get()
        try? await channel.close()
    }

    func received(_ line: String) {
        let waiter: CheckedContinuation<String?, Never>? = state.withLockedValue { state in
            state.all.append(line)
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.lines.append(line)
            return nil
        }
        waiter?.resume(returning: line)
    }

    func ended() {
        let (waiter, bytesWaiter) = state.withLockedValue { state in
            state.closed = true
            defer {
                state.waiter = nil
                state.bytesWaiter = nil
            }
            return (state.waiter, state.bytesWaiter?.continuation)
        }
        waiter?.resume(returning: nil)
        bytesWaiter?.resume()
    }
}

/// Sets SO_LINGER 0 on `channel`, so that its close sends a reset (RST) rather than a FIN.
private func makeCloseAReset(_ channel: Channel) -> EventLoopFuture<Void>? {
    (channel as? SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let connection: ScriptedConnection
    private var buffer = ByteBuffer()

    init(connection: ScriptedConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        // Counted before the lines are handed out, so a script that reads a line sees its bytes counted.
        if connection.receivedBytes(incoming.readableBytes) {
            // On the loop the option is set at once, before the close.
            _ = makeCloseAReset(context.channel)
            context.close(promise: nil)
            return
        }
        buffer.writeBuffer(&incoming)
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            var line = buffer.readString(length: length) ?? ""
            buffer.moveReaderIndex(forwardBy: 1)
            if line.hasSuffix("\r") { line.removeLast() }
            connection.received(line)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.ended()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
