import NIOCore
import NIOEmbedded

@testable import MockServer

/// A mock session handler on an embedded channel, connected from 192.0.2.1 with TLS available, and its store.
/// With `readingGreeting` (the default) the greeting has already been taken off the channel.
func mockSession(
    _ policy: MockPolicy = MockPolicy(),
    readingGreeting: Bool = true
) throws -> (channel: EmbeddedChannel, handler: MockSessionHandler, store: MessageStore) {
    let store = try MessageStore()
    let identity = try TLSIdentity.selfSigned(hostname: "mx.example.test")
    let core = MockServerCore(policy: policy, store: store, tlsContext: try identity.serverContext()) { _ in }
    let handler = MockSessionHandler(
        core: core,
        connection: .init(clientAddress: "192.0.2.1", serverAddress: "192.0.2.2", tlsAvailable: true)
    )
    let channel = EmbeddedChannel(handler: handler)
    try channel.connect(to: SocketAddress(ipAddress: "192.0.2.2", port: 25)).wait()
    if readingGreeting { _ = try channel.readOutbound(as: ByteBuffer.self) }
    return (channel, handler, store)
}
