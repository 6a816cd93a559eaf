import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SMTPWire
import ScenarioResults

/// A client connection to an SMTP server: write bytes, read one reply at a time with a deadline, upgrade to TLS.
///
/// Every wait has a deadline and ends early when the run is interrupted. The async methods are
/// `nonisolated(nonsending)`: they run on the caller's executor (a scenario's event loop) with no executor switch on
/// entry.
final class SMTPConnection: Sendable {
    private let channel: Channel
    private let reader: NIOLoopBound<ReplyReader>
    /// Why a write failed, if one did (writes are not awaited: the read of the reply follows at once). The first
    /// failure is kept: it names the cause (`connection reset by peer`), and the writes queued behind it only fail
    /// because the channel closed.
    private let writeFailure = NIOLockedValueBox<String?>(nil)

    /// The peer's IP address as connected (`${server.ip}`).
    let remoteIP: String

    private init(channel: Channel, reader: NIOLoopBound<ReplyReader>, remoteIP: String) {
        self.channel = channel
        self.reader = reader
        self.remoteIP = remoteIP
    }

    /// Why a connection could not be opened.
    struct ConnectError: Error, CustomStringConvertible {
        let description: String
    }

    /// Opens a TCP connection within `timeout`.
    nonisolated(nonsending) static func open(
        host: String,
        port: Int,
        timeout: Duration,
        group: EventLoopGroup,
        maxReplyLineLength: Int = ReplyParser.defaultMaxLineLength
    ) async throws(ConnectError) -> SMTPConnection {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(timeout))
            // The bootstrap's one default option, TCP_NODELAY, is applied through a chain of futures per connection
            // (13,600 instructions); the initializer sets it directly instead, about 4,500 fewer a session (NIO
            // still looks the local address up to check the socket is TCP). Enabling MPTCP drops that entry from
            // the option list, and disabling it again leaves MPTCP off.
            .enableMPTCP(true).enableMPTCP(false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                    let reader = ReplyReader(parser: ReplyParser(maxLineLength: maxReplyLineLength))
                    try channel.pipeline.syncOperations.addHandler(reader)
                }
            }
        let channel: Channel
        do {
            // An address needs no resolver: connecting to it directly saves a getaddrinfo round on another thread.
            if let address = try? SocketAddress(ipAddress: host, port: port) {
                channel = try await bootstrap.connect(to: address).resolved()
            } else {
                channel = try await bootstrap.connect(host: host, port: port).resolved()
            }
        } catch {
            throw ConnectError(description: Self.describe(error, host: host, port: port, timeout: timeout))
        }
        let lookUpReader: @Sendable () throws -> (NIOLoopBound<ReplyReader>, String) = {
            let handler = try channel.pipeline.syncOperations.handler(type: ReplyReader.self)
            // Noted when the connection opened: a server that closes at once leaves no address on the channel.
            let ip = handler.remoteIP ?? channel.remoteAddress?.numericHost ?? host
            return (NIOLoopBound(handler, eventLoop: channel.eventLoop), ip)
        }
        do {
            // A scenario's task runs on its connection's loop: there the handler is at hand, with no task to submit.
            let (reader, remoteIP) =
                channel.eventLoop.inEventLoop
                ? try lookUpReader() : try await channel.eventLoop.submit(lookUpReader).resolved()
            return SMTPConnection(channel: channel, reader: reader, remoteIP: remoteIP)
        } catch {
            channel.close(promise: nil)
            throw ConnectError(description: "connection to \(HostPort.text(host, port)) failed at once: \(error)")
        }
    }

    private static func describe(_ error: Error, host: String, port: Int, timeout: Duration) -> String {
        let target = HostPort.text(host, port)
        switch error {
        case is ChannelError where "\(error)".contains("connectTimeout"):
            return "connect to \(target) timed out after \(timeout)"
        case let error as NIOConnectionError:
            let reasons = error.connectionErrors.map {
                "\($0.target.ipAddress ?? "?"): \(describeSocketError($0.error))"
            }
            if let dns = error.dnsAAAAError ?? error.dnsAError, reasons.isEmpty {
                return "cannot resolve \(host): \(dns)"
            }
            return "connect to \(target) failed: " + (reasons.isEmpty ? "\(error)" : reasons.joined(separator: "; "))
        case is IOError:
            return "connect to \(target) failed: \(host): \(describeSocketError(error))"
        default:
            return "connect to \(target) failed: \(error)"
        }
    }

    /// `connection refused` rather than NIO's `connection reset (error set): Connection refused) (errno: 111)`;
    /// any other error (TLS, channel) as it describes itself.
    static func describeSocketError(_ error: Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        return SystemError.describe(io.errnoCode)
    }

    /// Writes and flushes `bytes` and waits until they are written.
    nonisolated(nonsending) func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes).resolved()
    }

    /// Writes and flushes `bytes` without waiting: the reply is read next, and a write that fails closes the
    /// connection, which the read reports; ``takeWriteFailure()`` then says why the write failed.
    func send(_ bytes: ByteBuffer) {
        let failure = writeFailure
        channel.writeAndFlush(bytes).whenFailure { error in
            failure.withLockedValue { if $0 == nil { $0 = Self.describeWriteError(error) } }
        }
    }

    /// `connection reset by peer`, or, for a write issued after the connection had ended (the read that saw the
    /// end names why), `the connection was already closed` rather than NIO's `I/O on closed channel`.
    private static func describeWriteError(_ error: Error) -> String {
        if let channelError = error as? ChannelError, channelError == .ioOnClosedChannel {
            return "the connection was already closed"
        }
        return describeSocketError(error)
    }

    /// Why a write first failed since the last call, if one did.
    func takeWriteFailure() -> String? {
        writeFailure.withLockedValue { value in
            defer { value = nil }
            return value
        }
    }

    /// Waits for the next reply for at most `timeout`, on the caller's executor (the scenario's event loop).
    /// Interruption ends the wait through ``cancelPendingRead()``,
    /// which the scenario's cancellation handler calls (one handler per scenario: a handler per read would move
    /// every read to the global executor and back).
    nonisolated(nonsending) func readReply(timeout: Duration) async -> ReadOutcome {
        if Task.isCancelled { return .cancelled }
        let reader = self.reader
        let loop = channel.eventLoop
        let deadline = TimeAmount(timeout)
        // On the connection's own event loop (where scenarios run) the read starts at once, without a hop, and a
        // reply that is already buffered (pipelining) is returned without suspending at all.
        let onLoop = loop.inEventLoop
        if onLoop, let outcome = reader.value.readWithoutWaiting() { return outcome }
        return await withUnsafeContinuation { continuation in
            if onLoop {
                // The continuation's body runs at once, on this thread: no reply was buffered a moment ago, and
                // nothing has run since.
                reader.value.readReply(timeout: deadline, on: loop, buffered: false, continuation: continuation)
            } else {
                loop.execute { reader.value.readReply(timeout: deadline, on: loop, continuation: continuation) }
            }
        }
    }

    /// Ends the pending read, if any, as cancelled; from any thread.
    func cancelPendingRead() {
        let reader = self.reader
        channel.eventLoop.execute { reader.value.cancelPendingRead() }
    }

    /// Starts TLS on the open connection and waits for the handshake (RFC 3207 for STARTTLS, RFC 8314 implicit TLS).
    ///
    /// Bytes already received and not read as replies (plaintext the server sent after its 220) fail it with
    /// ``PlaintextBeforeHandshake`` before TLS starts: they are checked and the TLS handler added in one event-loop
    /// task, so nothing can arrive in between and be lost or read inside TLS.
    nonisolated(nonsending) func startTLS(
        context: NIOSSLContext,
        serverHostname: String?,
        verification: TLSVerification,
        timeout: Duration
    )
        async throws -> TLSSessionInfo
    {
        let channel = self.channel
        let reader = self.reader
        let loop = channel.eventLoop
        let firstBytes = NIOLockedValueBox<[UInt8]>([])
        let handshake: EventLoopFuture<Void> = loop.flatSubmit {
            let early = reader.value.takeBufferedBytes()
            guard early.isEmpty else { return loop.makeFailedFuture(PlaintextBeforeHandshake(bytes: early)) }
            do {
                let handler: NIOSSLClientHandler
                if let callback = verification.callback {
                    handler = try NIOSSLClientHandler(
                        context: context,
                        serverHostname: serverHostname,
                        customVerificationCallback: callback
                    )
                } else {
                    handler = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                }
                let done = reader.value.awaitHandshake(on: loop)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
                // In front of TLS: the first bytes the server sends, to name plaintext where a handshake belongs.
                try channel.pipeline.syncOperations.addHandler(FirstBytesRecorder(into: firstBytes), position: .first)
                return done
            } catch {
                return loop.makeFailedFuture(error)
            }
        }
        let deadlinePassed = NIOLockedValueBox(false)
        let deadline = loop.scheduleTask(in: TimeAmount(timeout)) {
            deadlinePassed.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            try await withTaskCancellationHandler {
                try await handshake.resolved()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch let early as PlaintextBeforeHandshake {
            throw early
        } catch {
            throw TLSHandshakeError(
                underlying: error,
                timedOut: deadlinePassed.withLockedValue { $0 },
                firstBytes: firstBytes.withLockedValue { $0 }
            )
        }
        return try await loop.submit {
            let sync = channel.pipeline.syncOperations
            if let recorder = try? sync.handler(type: FirstBytesRecorder.self) {
                sync.removeHandler(recorder, promise: nil)
            }
            let version = try sync.nioSSL_tlsVersion()
            let certificate = try sync.nioSSL_peerCertificate()
            return TLSSessionInfo(version: version, leafDER: try certificate?.toDERBytes())
        }.resolved()
    }

    /// Closes the connection, ignoring errors (it may already be closed).
    nonisolated(nonsending) func close() async {
        // On the connection's loop (where scenarios run) a plain socket is closed before `close` returns: nothing
        // to wait for, and no future, continuation and trip through the loop's queue per connection. (TLS may
        // first exchange close_notify: then the channel's own close future is awaited.)
        if channel.eventLoop.inEventLoop {
            channel.close(promise: nil)
            if channel.isActive { try? await channel.closeFuture.resolved() }
            return
        }
        try? await channel.close().resolved()
    }

    /// Whether the server has closed the connection.
    var isActive: Bool { channel.isActive }

    /// Whether the socket sends small writes at once (TCP_NODELAY), as the kernel reports it; for tests.
    func sendsWithoutDelay() async throws -> Bool {
        try await channel.getOption(ChannelOptions.tcpOption(.tcp_nodelay)).get() != 0
    }

    /// Whether the server sent bytes no read has taken yet.
    nonisolated(nonsending) func hasUnreadBytes() async -> Bool {
        let reader = self.reader
        let loop = channel.eventLoop
        if loop.inEventLoop { return reader.value.hasUnreadBytes }
        return (try? await loop.submit { reader.value.hasUnreadBytes }.resolved()) ?? false
    }

    /// Waits until the server closes the connection, at most `timeout`; true when it did.
    nonisolated(nonsending) func awaitClose(timeout: Duration) async -> Bool {
        let channel = self.channel
        let loop = channel.eventLoop
        let closed: EventLoopFuture<Bool> = loop.flatSubmit {
            let promise = loop.makePromise(of: Bool.self)
            let settled = SettledFlag()
            let timer = loop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
                if settled.settle() { promise.succeed(false) }
            }
            channel.closeFuture.assumeIsolated().whenComplete { _ in
                timer.cancel()
                if settled.settle() { promise.succeed(true) }
            }
            return promise.futureResult
        }
        return (try? await closed.resolved()) ?? !channel.isActive
    }
}

/// Bytes the server sent in plaintext after its reply to STARTTLS, before the handshake began.
struct PlaintextBeforeHandshake: Error {
    let bytes: [UInt8]
}

/// Passes bytes through unchanged, keeping a copy of the first few: when a TLS handshake fails, they tell whether
/// the server sent a TLS record at all or plaintext where the handshake belongs. Confined to its event loop.
final class FirstBytesRecorder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let keep = 256
    private let bytes: NIOLockedValueBox<[UInt8]>
    private var count = 0

    /// Records into `bytes`, which the caller reads once the handshake has ended.
    init(into bytes: NIOLockedValueBox<[UInt8]>) { self.bytes = bytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if count < Self.keep {
            let buffer = unwrapInboundIn(data)
            let piece = buffer.readableBytesView.prefix(Self.keep - count)
            count += piece.count
            bytes.withLockedValue { $0 += piece }
        }
        context.fireChannelRead(data)
    }
}

/// Which of two racing event-loop callbacks came first. Confined to one event loop.
private final class SettledFlag {
    private var settled = false

    /// True for the first caller only.
    func settle() -> Bool {
        defer { settled = true }
        return !settled
    }
}
