import Foundation
import NIOCore
import NIOEmbedded
import SMTPScenarioTesting
import SMTPWire
import Testing

@testable import MockServer

/// The mock's BDAT (RFC 3030 CHUNKING and BINARYMIME): chunks are read by their size, never by lines.
@Suite("Mock server CHUNKING and BINARYMIME", .timeLimit(.minutes(1)))
struct ChunkingTests {
    private static let envelope = "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\n"

    /// Everything written since the last call, as text.
    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    private func send(_ channel: EmbeddedChannel, _ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    private func send(_ channel: EmbeddedChannel, _ text: String) throws { try send(channel, Array(text.utf8)) }

    @Test func ehloAdvertisesChunkingAndBinaryMIME() throws {
        let (channel, _, _) = try mockSession()
        try send(channel, "EHLO a\r\n")
        let reply = try written(channel)
        #expect(reply.contains("250-CHUNKING\r\n"))
        #expect(reply.contains("BINARYMIME\r\n"))
    }

    @Test func chunksAreStoredByteForByteWhateverTheyContain() throws {
        let (channel, _, store) = try mockSession()
        try send(channel, Self.envelope)
        _ = try written(channel)
        // A lone dot line, a bare LF, a NUL and a command: in a chunk they are just bytes.
        let first: [UInt8] = Array("Subject: x\r\n\r\n.\r\nbare\nLF\r\n".utf8)
        let second: [UInt8] = [0x00, 0xFF] + Array("\r\nQUIT\r\n".utf8)
        try send(channel, Array("BDAT \(first.count)\r\n".utf8) + first)
        #expect(try written(channel) == "250 2.0.0 \(first.count) octets received\r\n")
        try send(channel, Array("BDAT \(second.count) LAST\r\n".utf8) + second)
        let reply = try written(channel)
        #expect(reply.hasPrefix("250 2.0.0 Ok: queued as "), "\(reply)")
        let stored = try #require(store.all.first)
        #expect(stored.content == first + second)
        #expect(stored.recipients == ["bob@example.com"])
        #expect(channel.isActive, "the QUIT inside the chunk was not a command")
    }

    @Test func aChunkSplitAcrossReadsIsReadByItsSize() throws {
        let (channel, _, store) = try mockSession()
        try send(channel, Self.envelope)
        _ = try written(channel)
        try send(channel, "BDAT 10 LAST\r\n01234")
        #expect(try written(channel).isEmpty, "no reply before the chunk is complete")
        try send(channel, "56789NOOP\r\n")
        let replies = try written(channel)
        #expect(replies.hasPrefix("250 2.0.0 Ok: queued as "))
        #expect(replies.hasSuffix("250 2.0.0 Ok\r\n"), "\(replies)")
        #expect(store.all.first?.content == Array("0123456789".utf8))
    }

    @Test func aRefusedChunkIsStillReadAndSkipped() throws {
        let (channel, _, store) = try mockSession()
        try send(channel, "EHLO a\r\nBDAT 12 LAST\r\nQUIT\r\nRSET\r\nNOOP\r\n")
        let replies = try written(channel)
        #expect(replies.hasSuffix("503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n"), "\(replies)")
        #expect(store.all.isEmpty)
        #expect(channel.isActive)
    }

    @Test func dataAfterBDATAndDataWithBinaryMIMEAreRefused() throws {
        let (channel, _, _) = try mockSession()
        try send(channel, Self.envelope + "BDAT 3\r\nabcDATA\r\n")
        let replies = try written(channel)
        #expect(replies.hasSuffix("250 2.0.0 3 octets received\r\n503 5.5.1 Error: DATA after BDAT\r\n"), "\(replies)")

        let (binary, _, _) = try mockSession()
        try send(binary, "EHLO a\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        #expect(try written(binary).hasSuffix("503 5.5.1 Error: BODY=BINARYMIME needs BDAT, not DATA\r\n"))
    }

    @Test func rsetBetweenChunksDiscardsTheEarlierChunks() throws {
        let (channel, _, store) = try mockSession()
        try send(channel, Self.envelope + "BDAT 5\r\nfirst")
        _ = try written(channel)
        try send(channel, "RSET\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<bob@example.com>\r\nBDAT 6 LAST\r\nsecond")
        #expect(try written(channel).contains("queued as"))
        #expect(store.all.map(\.content) == [Array("second".utf8)])
    }

    @Test func anEmptyLastChunkEndsTheMessage() throws {
        let (channel, _, store) = try mockSession()
        try send(channel, Self.envelope + "BDAT 4\r\nbody")
        _ = try written(channel)
        try send(channel, "BDAT 0 LAST\r\n")
        #expect(try written(channel).hasPrefix("250 2.0.0 Ok: queued as "))
        #expect(store.all.first?.content == Array("body".utf8))
    }

    @Test func anOversizeMessageIsRefusedAndKeepsNoContent() throws {
        var policy = MockPolicy()
        policy.maxMessageSize = 1000
        let (channel, handler, store) = try mockSession(policy)
        try send(channel, Self.envelope)
        _ = try written(channel)
        try send(channel, "BDAT 600\r\n" + String(repeating: "a", count: 600))
        #expect(try written(channel) == "250 2.0.0 600 octets received\r\n")
        try send(channel, "BDAT 5000\r\n" + String(repeating: "b", count: 5000))
        #expect(try written(channel) == "552 5.3.4 Error: message file too big\r\n")
        #expect(handler.heldMessageCapacity == 0)
        try send(channel, "BDAT 10 LAST\r\n0123456789NOOP\r\n")
        #expect(try written(channel) == "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n")
        #expect(store.all.isEmpty)

        let (single, singleHandler, _) = try mockSession(policy)
        try send(single, Self.envelope)
        _ = try written(single)
        try send(single, "BDAT 4000 LAST\r\n" + String(repeating: "c", count: 4000))
        #expect(try written(single) == "552 5.3.4 Error: message file too big\r\n")
        #expect(singleHandler.heldMessageCapacity == 0)
    }

    @Test func aSizeThatCannotBeReadEndsTheSession() throws {
        for command in ["BDAT\r\n", "BDAT ten LAST\r\n", "BDAT 5 FIRST\r\n", "BDAT 99999999999\r\n"] {
            let (channel, _, _) = try mockSession()
            try send(channel, "EHLO a\r\n")
            _ = try written(channel)
            try send(channel, command)
            let replies = try written(channel)
            #expect(replies.hasPrefix("501 5.5.4 Syntax: BDAT size [LAST]\r\n421 "), "\(command): \(replies)")
            #expect(!channel.isActive, "\(command)")
        }
    }

    @Test func hiddenChunkingIsNotImplemented() throws {
        var policy = MockPolicy()
        policy.hide = ["CHUNKING"]
        let (channel, _, _) = try mockSession(policy)
        try send(channel, "EHLO a\r\n")
        #expect(!(try written(channel)).contains("CHUNKING"))
        try send(channel, "BDAT 3 LAST\r\n")
        #expect(try written(channel).hasPrefix("502 5.5.1 Error: command not implemented\r\n"))
    }
}
