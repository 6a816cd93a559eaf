import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SMTPWire

/// What every connection of one server shares: policy, store, greylist, TLS, the connection count, the log.
final class MockServerCore: Sendable {
    let policy: MockPolicy
    let store: MessageStore
    /// Writes the store's files off the event loops; nil when messages are kept in memory only.
    let fileWriter: NIOThreadPool?
    let greylist = Greylist()
    let tlsContext: NIOSSLContext?
    private let connections = NIOLockedValueBox(0)
    private let logLine: (@Sendable (String) -> Void)?

    init(
        policy: MockPolicy,
        store: MessageStore,
        fileWriter: NIOThreadPool? = nil,
        tlsContext: NIOSSLContext?,
        log: (@Sendable (String) -> Void)?
    ) {
        self.policy = policy
        self.store = store
        self.fileWriter = fileWriter
        self.tlsContext = tlsContext
        self.logLine = log
    }

    /// Counts a new connection; false when the cap is reached.
    func connectionOpened() -> Bool {
        connections.withLockedValue { count in
            guard count < policy.limits.maxConnections else { return false }
            count += 1
            return true
        }
    }

    func connectionClosed() { connections.withLockedValue { $0 -= 1 } }

    /// Hands `line` to the log; with no log (the embedded mock) the line is not even built: the session line
    /// alone cost some 16,000 instructions a session.
    func log(_ line: @autoclosure () -> String) { logLine?(line()) }
}

/// The policy-driven mock SMTP server: `smtp-scenario serve` and the embedded default target of `run`.
public final class MockServer: Sendable {
    /// How to start a server.
    public struct Configuration: Sendable {
        /// The policy.
        public var policy = MockPolicy()
        /// Host and port for plain SMTP (STARTTLS offered); port 0 picks a free one.
        public var host = "127.0.0.1"
        public var port = 0
        /// A second listener with implicit TLS (RFC 8314), if wanted; port 0 picks a free one.
        public var implicitTLSPort: Int?
        /// The certificate; nil generates a self-signed one at start.
        public var identity: TLSIdentity?
        /// Where `.eml` files go, if anywhere.
        public var storeDirectory: URL?
        /// Accepted messages kept in memory for ``MessageStore/all`` (the embedded mode's API); 0 keeps none,
        /// so a long-running `serve` does not grow.
        public var messagesKeptInMemory = 10_000
        /// One line per session (and per refused connection); nil logs nothing.
        public var log: (@Sendable (String) -> Void)?

        /// Defaults: 127.0.0.1 on a free port, default policy, self-signed certificate, in-memory store.
        public init() {}
    }

    /// The port of the plain listener.
    public let port: Int
    /// The port of the implicit-TLS listener, if any.
    public let implicitTLSPort: Int?
    /// The host the listeners are bound to.
    public let host: String
    /// The certificate in use.
    public let identity: TLSIdentity
    /// Accepted messages.
    public let store: MessageStore
    private let channels: [Channel]
    private let fileWriter: NIOThreadPool?

    private init(
        host: String,
        port: Int,
        implicitTLSPort: Int?,
        identity: TLSIdentity,
        store: MessageStore,
        channels: [Channel],
        fileWriter: NIOThreadPool?
    ) {
        self.host = host
        self.port = port
        self.implicitTLSPort = implicitTLSPort
        self.identity = identity
        self.store = store
        self.channels = channels
        self.fileWriter = fileWriter
    }

    /// Starts listening; returns once the listeners are bound (ready for connections).
    public static func start(
        _ configuration: Configuration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> MockServer {
        let identity = try configuration.identity ?? TLSIdentity.selfSigned(hostname: configuration.policy.hostname)
        let tlsContext = try identity.serverContext()
        let store: MessageStore
        do {
            store = try MessageStore(
                directory: configuration.storeDirectory,
                memoryLimit: configuration.messagesKeptInMemory
            )
        } catch {
            throw MockServerStartError.storeFolder(configuration.storeDirectory?.path ?? "", error)
        }
        // The server's own pool (one thread), not NIO's perpetual singleton: it stops with the server.
        let fileWriter = configuration.storeDirectory.map { _ in NIOThreadPool(numberOfThreads: 1) }
        fileWriter?.start()
        let core = MockServerCore(
            policy: configuration.policy,
            store: store,
            fileWriter: fileWriter,
            tlsContext: tlsContext,
            log: configuration.log
        )
        var channels: [Channel] = []
        do {
            let plain = try await bind(
                core: core,
                host: configuration.host,
                port: configuration.port,
                implicitTLS: false,
                group: group
            )
            channels.append(plain)
            var tlsPort: Int?
            if let implicitPort = configuration.implicitTLSPort {
                let tls = try await bind(
                    core: core,
                    host: configuration.host,
                    port: implicitPort,
                    implicitTLS: true,
                    group: group
                )
                channels.append(tls)
                tlsPort = tls.localAddress?.port
            }
            return MockServer(
                host: configuration.host,
                port: plain.localAddress?.port ?? configuration.port,
                implicitTLSPort: tlsPort,
                identity: identity,
                store: store,
                channels: channels,
                fileWriter: fileWriter
            )
        } catch {
            for channel in channels { try? await channel.close() }
            try? await fileWriter?.shutdownGracefully()
            throw error
        }
    }

    private static func bind(
        core: MockServerCore,
        host: String,
        port: Int,
        implicitTLS: Bool,
        group: any EventLoopGroup
    )
        async throws(MockServerStartError) -> Channel
    {
        do {
            return try await listen(core: core, host: host, port: port, implicitTLS: implicitTLS, group: group)
        } catch {
            throw .listen(host: host, port: port, error)
        }
    }

    private static func listen(
        core: MockServerCore,
        host: String,
        port: Int,
        implicitTLS: Bool,
        group: any EventLoopGroup
    )
        async throws -> Channel
    {
        // One event loop accepts and serves every session of a listener: a session handed to another loop costs
        // a cross-thread wake-up per connection (smtp-source at one session: +27% sessions/s with one loop).
        let channel = try await ServerBootstrap(group: group.next())
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        AcceptPause(),
                        ListenerErrorLog(action: "cannot accept connections", log: { core.log($0) })
                    )
                }
            }
            // Replies go out at once. Set on the listener, which every accepted socket inherits it from (as
            // NIO's default does): a child channel option costs a chain of futures per connection (12,900
            // instructions), a set-up call on each connection 5,000 more.
            .serverChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The peer's address read and formatted once (each is a lookup and an inet_ntop).
                    let remote = channel.remoteAddress
                    let clientIP = remote?.numericHost
                    let connection = SessionMachine.Connection(
                        clientAddress: clientIP ?? "unknown",
                        serverAddress: channel.localAddress?.numericHost ?? host,
                        tlsAvailable: core.tlsContext != nil && !implicitTLS
                    )
                    let sync = channel.pipeline.syncOperations
                    if implicitTLS, let tls = core.tlsContext {
                        try sync.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    let handler = MockSessionHandler(
                        core: core,
                        connection: connection,
                        clientDescription: clientIP.map { HostPort.text($0, remote?.port ?? 0) }
                    )
                    try sync.addHandler(handler)
                    if implicitTLS { handler.markTLSActive() }
                }
            }
            .bind(host: host, port: port)
            .get()
        // After NIO's accept handler, which reports a connection whose set-up failed (an option the system
        // refused, a failed initializer) only as an error on the listener, after closing the connection.
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(
                ListenerErrorLog(action: "closed a new connection during set-up", log: { core.log($0) })
            )
        }.get()
        return channel
    }

    /// Stops listening and closes every listener, then stops the thread that writes message files (a session
    /// still open after this keeps its messages in memory only). Open sessions end on their own timeouts.
    public func shutdown() async {
        for channel in channels { try? await channel.close() }
        try? await fileWriter?.shutdownGracefully()
    }
}
