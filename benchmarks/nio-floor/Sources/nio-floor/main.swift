// nio-floor: the least SwiftNIO program that plays either side of the benchmarks' SMTP session.
//
//   nio-floor sink HOST PORT                         answers sessions as smtp-sink does, until killed
//   nio-floor send HOST PORT SESSIONS CONCURRENCY    sends SESSIONS sessions, CONCURRENCY at a time, as smtp-source
//
// Each side is one channel handler: bytes in, a switch on the first byte of each line, bytes out. No parsing beyond
// that, no checks, no logging, no async/await, no per-step objects. Whatever this costs per session is what SwiftNIO
// and the Swift runtime cost under any program built on them; smtp-scenario's runner and mock cost that plus their
// own work. benchmarks/floor.py runs all of them side by side; benchmarks/session-profile.py --floor counts their
// instructions. It does not use SMTPWire on purpose: the floor must hold none of the project's code, and it is a
// benchmark's probe, not a second SMTP implementation (it cannot say no, parse an address or hold a message).
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Splits `input` (after any bytes kept from the last read) into lines ending in LF and calls `line` with each; keeps
/// an incomplete last line for the next read.
struct LineSplitter {
    private var kept: ByteBuffer?

    mutating func split(_ input: inout ByteBuffer, _ line: (ByteBuffer) -> Void) {
        if var previous = kept {
            previous.writeBuffer(&input)
            input = previous
            kept = nil
        }
        while let end = input.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            line(input.readSlice(length: end - input.readerIndex + 1)!)
        }
        if input.readableBytes > 0 { kept = input }
    }
}

/// The receiving side: greeting, 250 to each command, 354 to DATA, 250 after the message's ".", 221 to QUIT and
/// close. The replies to one read go out in one write, as pipelining allows.
final class SinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var lines = LineSplitter()
    private var inMessage = false

    func channelActive(context: ChannelHandlerContext) {
        var greeting = context.channel.allocator.buffer(capacity: 32)
        greeting.writeStaticString("220 nio-floor ESMTP\r\n")
        context.writeAndFlush(wrapOutboundOut(greeting), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        var replies = context.channel.allocator.buffer(capacity: 64)
        var quit = false
        lines.split(&input) { line in
            let first = line.getInteger(at: line.readerIndex, as: UInt8.self) ?? 0
            if inMessage {
                if first == UInt8(ascii: "."), line.readableBytes <= 3 {
                    inMessage = false
                    replies.writeStaticString("250 2.0.0 Ok: queued\r\n")
                }
                return
            }
            switch first | 0x20 {
            case UInt8(ascii: "e"): replies.writeStaticString("250-nio-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            case UInt8(ascii: "d"):
                inMessage = true
                replies.writeStaticString("354 End data with <CR><LF>.<CR><LF>\r\n")
            case UInt8(ascii: "q"):
                replies.writeStaticString("221 2.0.0 Bye\r\n")
                quit = true
            default: replies.writeStaticString("250 2.1.0 Ok\r\n")
            }
        }
        guard replies.readableBytes > 0 else { return }
        if quit {
            context.writeAndFlush(wrapOutboundOut(replies)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(replies), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// The sending side of one session: waits for each reply's last line, then sends the next command; closes after 221.
/// `done` succeeds when the connection closes after QUIT's reply and fails on anything else.
final class SendHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let commands: [StaticString] = [
        "EHLO bench.example.org\r\n", "MAIL FROM:<bench@example.org>\r\n", "RCPT TO:<alice@example.com>\r\n",
        "DATA\r\n", "", "QUIT\r\n",
    ]
    private var lines = LineSplitter()
    private var replies = 0
    private var failed = false
    private let number: Int
    private let done: EventLoopPromise<Void>

    init(number: Int, done: EventLoopPromise<Void>) {
        self.number = number
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        lines.split(&input) { line in
            // A reply's last line has a space after the code; its first digit 2 or 3 is success.
            guard line.readableBytes >= 4,
                line.getInteger(at: line.readerIndex + 3, as: UInt8.self) != UInt8(ascii: "-")
            else { return }
            let digit = line.getInteger(at: line.readerIndex, as: UInt8.self) ?? 0
            if digit != UInt8(ascii: "2"), digit != UInt8(ascii: "3") { failed = true }
            replies += 1
            if failed || replies > Self.commands.count {
                context.close(promise: nil)
                return
            }
            var out = context.channel.allocator.buffer(capacity: 64)
            if replies == 5 {
                out.writeString("Subject: bench \(number)\r\n\r\nHello.\r\n.\r\n")
            } else {
                out.writeStaticString(Self.commands[replies - 1])
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !failed, replies == Self.commands.count + 1 {
            done.succeed()
        } else {
            done.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failed = true
        context.close(promise: nil)
    }
}

/// Sends `count` sessions one after another on one event loop, numbering them from `first`.
func lane(_ loop: EventLoop, server: SocketAddress, first: Int, count: Int) -> EventLoopFuture<Void> {
    guard count > 0 else { return loop.makeSucceededVoidFuture() }
    let done = loop.makePromise(of: Void.self)
    return ClientBootstrap(group: loop)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(SendHandler(number: first, done: done))
            }
        }
        .connect(to: server)
        .flatMap { _ in done.futureResult }
        .flatMap { lane(loop, server: server, first: first + 1, count: count - 1) }
}

func usage() -> Never {
    print("usage: nio-floor sink HOST PORT | nio-floor send HOST PORT SESSIONS CONCURRENCY")
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let port = Int(arguments[3]) else { usage() }
let host = arguments[2]
let group = MultiThreadedEventLoopGroup.singleton

switch arguments[1] {
case "sink":
    // One loop accepts and serves every session, as the mock does: no hop between threads within a session.
    let server = try ServerBootstrap(group: group.next())
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(SinkHandler())
            }
        }
        .bind(host: host, port: port)
        .wait()
    try server.closeFuture.wait()
case "send":
    guard arguments.count == 6, let sessions = Int(arguments[4]), let concurrency = Int(arguments[5]),
        sessions > 0, concurrency > 0
    else { usage() }
    // An address, not a host name: the runner connects to an IP literal without a resolver, and so does this.
    let server = try SocketAddress(ipAddress: host, port: port)
    // Every lane on one loop, as the runner keeps its connections on one loop (a second loop competes with the
    // server under test for the cores).
    let loop = group.next()
    var lanes: [EventLoopFuture<Void>] = []
    var next = 0
    for index in 0..<concurrency {
        let count = sessions / concurrency + (index < sessions % concurrency ? 1 : 0)
        lanes.append(lane(loop, server: server, first: next, count: count))
        next += count
    }
    do {
        for finished in lanes { try finished.wait() }
    } catch {
        print("nio-floor: a session failed: \(error)")
        exit(1)
    }
default:
    usage()
}
