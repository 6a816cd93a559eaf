import Foundation
import MockServer
import NIOCore
import NIOEmbedded
import SMTPScenarioTesting
import ScenarioResults
import Testing

@testable import MockServer

@Suite("Mock server against hostile and pipelining clients", .timeLimit(.minutes(1)))
struct HostileClientTests {
    @Test func pipelinedCommandsAreAnsweredInOrderInOneWrite() async throws {
        try await Harness.withMock { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            client.send(
                "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<x@elsewhere.example>\r\nNOOP\r\n"
            )
            let replies = client.readReplies(7)
            #expect(replies.map { String($0.prefix(3)) } == ["220", "250", "250", "250", "550", "554", "250"])
        }
    }

    /// Replies go out at once (TCP_NODELAY): with Nagle's algorithm a reply written while the last one is still
    /// unacknowledged waits for the client's delayed ACK, up to 40 ms a command. Accepted sockets inherit the option
    /// from the listener; the server's end of a connection is found among this process's descriptors by its ports.
    @Test func acceptedConnectionsHaveNagleOff() async throws {
        try await Harness.withMock { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            let serverEnds = (0..<Int32(4096)).filter { fd in
                guard let local = Self.port(fd, getsockname), let peer = Self.port(fd, getpeername) else {
                    return false
                }
                return local == mock.port && peer == client.localPort
            }
            #expect(serverEnds.count == 1)
            for fd in serverEnds {
                var value: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                #expect(getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0)
                #expect(value == 1)
            }
        }
    }

    /// The IPv4 port `query` (getsockname or getpeername) gives for `fd`, nil for anything else.
    private static func port(
        _ fd: Int32,
        _ query: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { query(fd, $0, &length) }
        }
        guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func pipeliningInOneWriteOnTheWire() throws {
        let channel = try mockSession(readingGreeting: false).channel
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "EHLO a\r\nNOOP\r\nNOOP\r\n"))
        let first = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: first).hasSuffix("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"), "three replies, one write")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test func plaintextAfterStartTLSIsDiscarded() throws {
        let channel = try mockSession(readingGreeting: false).channel
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "EHLO a\r\nSTARTTLS\r\nRSET\r\n"))
        let replies = String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(replies.hasSuffix("220 2.0.0 Ready to start TLS\r\n"))
        #expect(!replies.contains("250 2.0.0 Ok"), "the injected RSET got no reply")
        _ = try? channel.finish()
    }

    @Test func binaryGarbageGets500AndTheServerStaysUp() async throws {
        try await Harness.withMock { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            client.send([0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0xFF, 0x0D, 0x0A])
            #expect(client.readReplies(2).last == "500 5.5.2 Error: bad syntax (binary data)")
            let next = try RawClient(port: mock.port)
            #expect(next.readReplies(1).first?.hasPrefix("220") == true)
        }
    }

    @Test func connectionsBeyondTheCapGet421() async throws {
        var policy = MockPolicy()
        policy.limits.maxConnections = 2
        try await Harness.withMock(policy) { mock in
            let first = try RawClient(port: mock.port)
            let second = try RawClient(port: mock.port)
            first.readReplies(1)
            second.readReplies(1)
            let third = try RawClient(port: mock.port)
            #expect(
                third.readReplies(1).first == "421 4.7.0 mx.example.test Error: too many connections, try again later"
            )
            #expect(third.waitForClose())
        }
    }

    @Test func anOversizeMessageGets552AndIsNotStored() async throws {
        var policy = MockPolicy()
        policy.maxMessageSize = 10_000
        try await Harness.withMock(policy) { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            client.send("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
            client.readReplies(5)
            let line = String(repeating: "x", count: 998) + "\r\n"
            for _ in 0..<500 { client.send(line) }
            client.send(".\r\n")
            #expect(client.readReplies(6).last == "552 5.3.4 Error: message file too big")
            #expect(mock.store.all.isEmpty)
        }
    }

    @Test func aClientVanishingMidDataLeavesNothingInTheStore() async throws {
        let directory = try Paths.temporaryDirectory("store")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Harness.withMock(store: directory) { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            client.send(
                "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: half\r\n\r\nhalf a message\r\n"
            )
            client.readReplies(5)
            client.abort()
            // A second, complete message proves the server handled the first connection's end.
            let other = try RawClient(port: mock.port)
            other.readReplies(1)
            other.send(
                "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: whole\r\n\r\n..dotted\r\n.\r\nQUIT\r\n"
            )
            #expect(other.readReplies(7).dropLast().last?.hasPrefix("250 2.0.0 Ok: queued as") == true)
            #expect(mock.store.all.count == 1)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(files.count == 1)
            #expect(files.first?.hasSuffix(".eml") == true)
            let stored = try String(contentsOf: directory.appendingPathComponent(files[0]), encoding: .utf8)
            #expect(stored.contains("Subject: whole\r\n\r\n.dotted\r\n"), "dot-unstuffed")
            #expect(!stored.contains("half a message"))
        }
    }

    @Test func eachMessageFileExistsWhenItsQueuedReplyArrives() async throws {
        // The file is written on a thread pool, off the event loop; the "queued as" reply must still come after it.
        let directory = try Paths.temporaryDirectory("store-order")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Harness.withMock(store: directory) { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            client.send("EHLO a\r\n")
            client.readReplies(2)
            for index in 1...5 {
                client.send("MAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
                client.send("Subject: \(index)\r\n\r\nbody \(index)\r\n.\r\n")
                let queued = try #require(client.readReplies(2 + 4 * index).last)
                let id = try #require(queued.split(separator: " ").last.map(String.init), "\(queued)")
                #expect(queued.hasPrefix("250 2.0.0 Ok: queued as "))
                let file = directory.appendingPathComponent("\(id).eml").path
                #expect(FileManager.default.fileExists(atPath: file), "\(id).eml exists when its reply is read")
            }
            #expect(mock.store.all.count == 5)
        }
    }

    @Test func anIdleClientIsDisconnected() async throws {
        var policy = MockPolicy()
        policy.limits.idleTimeout = .milliseconds(300)
        try await Harness.withMock(policy) { mock in
            let client = try RawClient(port: mock.port)
            #expect(client.readReplies(2, timeout: .seconds(5)).last == "421 4.4.2 mx.example.test Error: idle timeout")
            #expect(client.waitForClose())
        }
    }

    /// The idle limit counts from the client's last input, not from the start: on the embedded loop's clock.
    @Test func theIdleLimitCountsFromTheLastInput() throws {
        var policy = MockPolicy()
        policy.limits.idleTimeout = .milliseconds(300)
        let channel = try mockSession(policy).channel
        let loop = channel.embeddedEventLoop
        loop.advanceTime(by: .milliseconds(200))
        try channel.writeInbound(ByteBuffer(string: "NOOP\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "250 2.0.0 Ok\r\n")
        loop.advanceTime(by: .milliseconds(299))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "299 ms after the NOOP: still open")
        #expect(channel.isActive)
        loop.advanceTime(by: .milliseconds(1))
        let reply = try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        #expect(reply == "421 4.4.2 mx.example.test Error: idle timeout\r\n")
        #expect(!channel.isActive)
    }

    /// A client that keeps talking is still cut off at the session's time limit.
    @Test func theSessionLimitEndsASessionThatIsNeverIdle() throws {
        var policy = MockPolicy()
        policy.limits.idleTimeout = .milliseconds(300)
        policy.limits.sessionTimeout = .seconds(1)
        let channel = try mockSession(policy).channel
        let loop = channel.embeddedEventLoop
        for _ in 0..<4 {
            loop.advanceTime(by: .milliseconds(240))
            try channel.writeInbound(ByteBuffer(string: "NOOP\r\n"))
            #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "250 2.0.0 Ok\r\n")
        }
        loop.advanceTime(by: .milliseconds(39))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "999 ms: still open")
        loop.advanceTime(by: .milliseconds(1))
        let reply = try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        #expect(reply == "421 4.4.2 mx.example.test Error: session time limit exceeded\r\n")
        #expect(!channel.isActive)
    }

    @Test func anOverlongCommandLineGets500AndTheSessionGoesOn() async throws {
        try await Harness.withMock { mock in
            let client = try RawClient(port: mock.port)
            client.readReplies(1)
            client.send(String(repeating: "A", count: 20_000) + "\r\nNOOP\r\n")
            #expect(
                client.readReplies(3) == [
                    "220 mx.example.test ESMTP ready", "500 5.5.2 Error: line too long", "250 2.0.0 Ok",
                ]
            )
        }
    }

    @Test func splitRepliesAreWrittenLineByLine() throws {
        var policy = MockPolicy()
        policy.splitMultilineReplies = true
        let channel = try mockSession(policy, readingGreeting: false).channel
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "EHLO a\r\n"))
        var writes: [String] = []
        while writes.count < 20 {
            if let write = try channel.readOutbound(as: ByteBuffer.self) {
                writes.append(String(buffer: write))
            } else {
                channel.embeddedEventLoop.advanceTime(by: .milliseconds(40))
                if try channel.readOutbound(as: ByteBuffer.self).map({ writes.append(String(buffer: $0)) }) == nil {
                    break
                }
            }
        }
        #expect(writes.first == "250-mx.example.test\r\n")
        #expect(writes.last == "250 BINARYMIME\r\n")
        #expect(writes.count == 9, "one write per line: \(writes)")
    }
}
