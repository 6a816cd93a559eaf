import NIOCore
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
}
