import NIOCore
import Testing

@testable import SMTPWire

@Suite("Line framer")
struct LineFramerTests {
    @Test func framesCRLFAndBareLF() {
        var framer = LineFramer(maxLineLength: 100)
        var buffer = ByteBuffer(string: "one\r\ntwo\nthree")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "one"), .crlf))
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "two"), .lf))
        #expect(framer.next(from: &buffer) == nil)
        #expect(String(buffer: buffer) == "three", "an incomplete line waits for more bytes")
    }

    @Test func anOverlongLineIsReportedOnceAndTheNextLineStillFrames() {
        var framer = LineFramer(maxLineLength: 8)
        var buffer = ByteBuffer(string: String(repeating: "x", count: 20))
        #expect(framer.next(from: &buffer) == nil)
        #expect(framer.isDiscarding)
        #expect(buffer.readableBytes == 0)
        buffer.writeString("yyy\r\nok\r\n")
        #expect(framer.next(from: &buffer) == .overlong(discarded: 25, ending: .crlf))
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "ok"), .crlf))
    }

    @Test func aLineOfExactlyTheLimitIsAccepted() {
        var framer = LineFramer(maxLineLength: 4)
        var buffer = ByteBuffer(string: "abcd\r\nabcde\r\n")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "abcd"), .crlf))
        #expect(framer.next(from: &buffer) == .overlong(discarded: 7, ending: .crlf))
    }

    @Test func anOverlongLineKeepsItsEndingEvenWhenTheCRAndLFArriveApart() {
        var framer = LineFramer(maxLineLength: 8)
        var buffer = ByteBuffer(string: String(repeating: "z", count: 20) + "\r")
        #expect(framer.next(from: &buffer) == nil)
        buffer.writeString("\n.\r\n")
        #expect(framer.next(from: &buffer) == .overlong(discarded: 22, ending: .crlf))
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "."), .crlf))
        var bare = ByteBuffer(string: String(repeating: "z", count: 20) + "\n")
        var other = LineFramer(maxLineLength: 8)
        #expect(other.next(from: &bare) == .overlong(discarded: 21, ending: .lf))
    }

    @Test func whileDiscardingEachReadWithoutLFRemembersWhetherItEndedInCR() {
        var framer = LineFramer(maxLineLength: 4)
        var buffer = ByteBuffer(string: "0123456789")
        #expect(framer.next(from: &buffer) == nil)
        buffer.writeString("ab\r")
        #expect(framer.next(from: &buffer) == nil)
        buffer.writeString("cd")
        #expect(framer.next(from: &buffer) == nil, "a CR that is not last no longer counts")
        buffer.writeString("\nok\r\n")
        #expect(framer.next(from: &buffer) == .overlong(discarded: 16, ending: .lf))
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "ok"), .crlf))
        var split = LineFramer(maxLineLength: 4)
        var parts = ByteBuffer(string: "0123456789\r")
        #expect(split.next(from: &parts) == nil)
        #expect(split.next(from: &parts) == nil, "an empty read keeps the CR seen last")
        parts.writeString("\n")
        #expect(split.next(from: &parts) == .overlong(discarded: 12, ending: .crlf))
    }

    @Test func anEmptyLineAndALineFeedFirstInTheBufferFrame() {
        var framer = LineFramer(maxLineLength: 4)
        var buffer = ByteBuffer(string: "\n\r\nx\r\n")
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(), .lf))
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(), .crlf))
        #expect(framer.next(from: &buffer) == .line(ByteBuffer(string: "x"), .crlf))
        #expect(framer.next(from: &buffer) == nil)
    }
}
