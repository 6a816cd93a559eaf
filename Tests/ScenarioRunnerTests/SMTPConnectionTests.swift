import NIOCore
import NIOEmbedded
import NIOPosix
import SMTPScenarioTesting
import Testing

@testable import ScenarioRunner

@Suite("Client connection set-up", .timeLimit(.minutes(1)))
struct SMTPConnectionTests {
    /// The bootstrap's own option list is emptied (its TCP_NODELAY went through a chain of futures); the
    /// connection's initializer sets the option instead. Without it, a pipelined command written right behind
    /// another would wait for the server's ACK (Nagle's algorithm).
    @Test func theClientSocketSendsSmallWritesAtOnceAndReadsItsReplies() async throws {
        let server = try await ScriptedServer.start { connection in
            await connection.send("220 scripted ESMTP\r\n")
            await connection.answerQuit()
        }
        let connection = try await SMTPConnection.open(
            host: "127.0.0.1",
            port: server.port,
            timeout: .seconds(5),
            group: MultiThreadedEventLoopGroup.singleton
        )
        let noDelay = try await connection.sendsWithoutDelay()
        let greeting = await connection.readReply(timeout: .seconds(5))
        await connection.close()
        await server.stop()
        #expect(noDelay)
        guard case .reply(let reply) = greeting else {
            Issue.record("no greeting read: \(greeting)")
            return
        }
        #expect(reply.code == 220)
    }

    /// `${server.ip}` and the "connected to" note come from the address the reader notes when the connection becomes
    /// active (or when it is added to one already active): a server that closes at once leaves none on the channel
    /// by the time the scenario asks.
    @Test func theReaderNotesThePeersAddressWhenTheConnectionBecomesActive() async throws {
        let channel = EmbeddedChannel()
        let reader = ReplyReader()
        try channel.pipeline.syncOperations.addHandler(reader)
        #expect(reader.remoteIP == nil)
        try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.25", port: 25)).get()
        #expect(reader.remoteIP == "192.0.2.25")
        _ = try? await channel.close().get()
        #expect(reader.remoteIP == "192.0.2.25")

        let active = EmbeddedChannel()
        try await active.connect(to: SocketAddress(ipAddress: "2001:db8::25", port: 587)).get()
        let lateReader = ReplyReader()
        try active.pipeline.syncOperations.addHandler(lateReader)
        #expect(lateReader.remoteIP == "2001:db8::25")
        _ = try? await active.close().get()
    }
}
