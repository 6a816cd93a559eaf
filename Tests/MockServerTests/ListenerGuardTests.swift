import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import MockServer

/// What a listener says when `accept` or a new connection's set-up fails: one line per interval, with the count of
/// the rest, in the system's words.
@Suite("Listener error log")
struct ListenerGuardTests {
    /// Lines the handler wrote; the embedded channel runs everything on the test's thread.
    private final class Lines: @unchecked Sendable {
        var all: [String] = []
    }

    private func listener() throws -> (EmbeddedChannel, Lines) {
        let lines = Lines()
        let channel = EmbeddedChannel()
        channel.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 2525)
        try channel.pipeline.syncOperations.addHandler(
            ListenerErrorLog(action: "cannot accept connections", log: { lines.all.append($0) })
        )
        return (channel, lines)
    }

    private let emfile = IOError(errnoCode: EMFILE, reason: "accept(descriptor:addr:len:)")

    @Test func aStormOfFailedAcceptsIsOneLineThenACount() throws {
        let (channel, lines) = try listener()
        var limit = rlimit()
        #expect(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)

        channel.pipeline.fireErrorCaught(emfile)
        #expect(
            lines.all == [
                "127.0.0.1:2525 cannot accept connections: too many open files (this process's file descriptor "
                    + "limit \(limit.rlim_cur) is reached: raise it with `ulimit -n`, or lower "
                    + "`limits: max-connections`; accepting resumes as connections close)"
            ]
        )

        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        for _ in 0..<3 { channel.pipeline.fireErrorCaught(emfile) }
        #expect(lines.all.count == 1, "held back within the interval")

        // The storm is over before the interval: the count still gets its line when the interval ends.
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(lines.all.count == 2)
        #expect(lines.all.last == "127.0.0.1:2525 cannot accept connections: 3 more in the last 5 s")
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(lines.all.count == 2, "nothing more to count")
    }

    @Test func aClientThatGaveUpBeforeTheAcceptIsNotAnError() throws {
        let (channel, lines) = try listener()
        channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNABORTED, reason: "accept(descriptor:addr:len:)"))
        #expect(lines.all.isEmpty)
    }

    @Test func otherErrorsAreNamedInTheSystemsWords() throws {
        let (channel, lines) = try listener()
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EPERM, reason: "setsockopt(...)"))
        #expect(lines.all == ["127.0.0.1:2525 cannot accept connections: operation not permitted"])
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        channel.pipeline.fireErrorCaught(ChannelError.ioOnClosedChannel)
        #expect(lines.all.count == 2)
        #expect(lines.all.last?.hasPrefix("127.0.0.1:2525 cannot accept connections: ") == true)
        #expect(lines.all.last?.contains("errno") == false)
    }
}
