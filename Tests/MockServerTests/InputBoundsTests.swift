import Foundation
import NIOCore
import NIOEmbedded
import SMTPScenarioTesting
import SMTPWire
import ScenarioResults
import Testing

@testable import MockServer

/// Issue 9's mock defects: every input the mock reads is bounded, and the end of DATA is never lost.
@Suite("Mock server input bounds", .timeLimit(.minutes(1)))
struct InputBoundsTests {
    @Test func aLineWithoutEndIsDiscardedAsItArrivesAndClosedWith421AfterTheHardCap() throws {
        let (channel, _, _) = try mockSession()
        let megabyte = ByteBuffer(repeating: UInt8(ascii: "x"), count: 256 * 1024)
        for _ in 0..<3 { try channel.writeInbound(megabyte) }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "no reply while the line goes on")
        try channel.writeInbound(megabyte)
        try channel.writeInbound(megabyte)
        let reply = String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(reply == "421 4.7.0 mx.example.test Error: line too long, closing connection\r\n")
        #expect(!channel.isActive)
    }

    @Test func consumedInputIsReleasedNotKept() throws {
        let (channel, handler, _) = try mockSession()
        for _ in 0..<64 { try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: 8 * 1024)) }
        // 512 KiB arrived without a line end; all of it was discarded, so nothing may be held for it.
        #expect(handler.bufferedInputCapacity <= 64 * 1024, "buffered \(handler.bufferedInputCapacity) bytes")
        try channel.writeInbound(ByteBuffer(string: "\r\nNOOP\r\n"))
        let replies = String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(replies == "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n")
    }

    @Test func theEndOfDataIsFoundAfterALineLongerThanTheDataLimit() throws {
        let (channel, _, _) = try mockSession()
        try channel.writeInbound(
            ByteBuffer(string: "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        )
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "z"), count: 65_537))
        try channel.writeInbound(ByteBuffer(string: "\r\n.\r\n"))
        let reply = String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(reply == "500 5.5.2 Error: line too long in message content\r\n")
        try channel.writeInbound(ByteBuffer(string: "NOOP\r\n"))
        #expect(String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self))) == "250 2.0.0 Ok\r\n")
    }

    @Test func anOversizeMessageKeepsNoContent() throws {
        var policy = MockPolicy()
        policy.maxMessageSize = 100_000
        let (channel, handler, _) = try mockSession(policy)
        try channel.writeInbound(
            ByteBuffer(string: "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        )
        _ = try channel.readOutbound(as: ByteBuffer.self)
        let line = ByteBuffer(string: String(repeating: "b", count: 998) + "\r\n")
        for _ in 0..<1000 { try channel.writeInbound(line) }
        #expect(handler.heldMessageCapacity == 0, "the message passed its limit: nothing of it is kept")
        try channel.writeInbound(ByteBuffer(string: ".\r\n"))
        let reply = String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self)))
        #expect(reply == "552 5.3.4 Error: message file too big\r\n")
    }

    @Test func aClientThatDoesNotReadItsRepliesIsNotReadFromEither() throws {
        let (channel, _, _) = try mockSession()
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(reads, position: .first)
        channel.isWritable = false
        try channel.writeInbound(ByteBuffer(string: String(repeating: "NOOP\r\n", count: 50_000)))
        channel.read()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "no replies pile up while unwritable")
        #expect(reads.count == 0, "no further reads from the socket")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)
        #expect(reads.count == 1, "reading resumes once the client reads again")
    }
}

/// Counts the `read()` calls that reach the socket end of the pipeline.
private final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
