import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a line received from the peer ended.
///
/// SMTP requires CRLF; a bare LF is tolerated when reading replies and policed by the server inside DATA,
/// where it is the root of SMTP smuggling.
public enum LineEnding: Sendable, Hashable {
    /// The standard `\r\n`.
    case crlf
    /// A bare `\n` with no `\r` before it.
    case lf
}

/// One unit produced by ``LineFramer``.
public enum FramedLine: Sendable, Hashable {
    /// A complete line, without its terminator.
    case line(ByteBuffer, LineEnding)
    /// A line longer than the framer's limit; its bytes were discarded up to and including its terminator,
    /// which is reported so that a CRLF-sensitive reader (the end of DATA) still knows how the line ended.
    case overlong(discarded: Int, ending: LineEnding)
}

/// Splits a byte stream into lines with a hard cap on line length.
///
/// NIO's `LineBasedFrameDecoder` has no maximum; SMTP needs one so that a peer sending an endless line
/// cannot make us buffer without bound. After an overlong line the framer discards bytes until the next LF,
/// then reports ``FramedLine/overlong(discarded:)`` once.
public struct LineFramer: Sendable {
    /// The longest line accepted, in bytes, not counting the terminator.
    public let maxLineLength: Int
    private var discarding = false
    /// Bytes of the current overlong line discarded so far (0 when not discarding).
    public private(set) var discardedSoFar = 0
    /// Whether the last byte discarded was a CR (so an LF at the start of the next read ends a CRLF).
    private var lastDiscardedWasCR = false

    /// Creates a framer that refuses lines longer than `maxLineLength` bytes (terminator excluded).
    public init(maxLineLength: Int) {
        precondition(maxLineLength > 0, "maxLineLength must be positive")
        self.maxLineLength = maxLineLength
    }

    /// Whether the framer is skipping the rest of an overlong line.
    public var isDiscarding: Bool { discarding }

    /// Takes the next complete line from the front of `buffer`, or returns nil when more bytes are needed.
    ///
    /// Bytes of an incomplete line stay in `buffer` unless the line already exceeds the limit, in which case
    /// they are dropped and the framer discards until the next LF.
    public mutating func next(from buffer: inout ByteBuffer) -> FramedLine? {
        let scan = Self.scan(buffer)
        guard let lineLength = scan.lineFeed else {
            let pending = buffer.readableBytes
            if discarding {
                if pending > 0 { lastDiscardedWasCR = scan.lastIsCR }
                discardedSoFar += pending
                buffer.moveReaderIndex(forwardBy: pending)
            } else if pending > maxLineLength + 1 {
                // The line cannot fit any more (one spare byte for a CR that may precede the LF).
                discarding = true
                lastDiscardedWasCR = scan.lastIsCR
                discardedSoFar = pending
                buffer.moveReaderIndex(forwardBy: pending)
            }
            return nil
        }
        if discarding {
            let discarded = discardedSoFar + lineLength + 1
            let endsWithCR = lineLength > 0 ? scan.crBeforeLineFeed : lastDiscardedWasCR
            buffer.moveReaderIndex(forwardBy: lineLength + 1)
            discarding = false
            discardedSoFar = 0
            lastDiscardedWasCR = false
            return .overlong(discarded: discarded, ending: endsWithCR ? .crlf : .lf)
        }
        var content = lineLength
        var ending = LineEnding.lf
        if scan.crBeforeLineFeed {
            content -= 1
            ending = .crlf
        }
        if content > maxLineLength {
            buffer.moveReaderIndex(forwardBy: lineLength + 1)
            return .overlong(discarded: lineLength + 1, ending: ending)
        }
        let line = buffer.readSlice(length: content)!
        buffer.moveReaderIndex(forwardBy: lineLength + 1 - content)
        return .line(line, ending)
    }

    /// Where the first LF of `buffer`'s readable bytes is (its offset), whether a CR comes just before it, and
    /// whether the last byte is a CR; one look at the storage, the LF found by `memchr`.
    private static func scan(_ buffer: ByteBuffer) -> (lineFeed: Int?, crBeforeLineFeed: Bool, lastIsCR: Bool) {
        buffer.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return (nil, false, false) }
            guard let hit = memchr(base, Int32(UInt8(ascii: "\n")), bytes.count) else {
                return (nil, false, bytes[bytes.count - 1] == UInt8(ascii: "\r"))
            }
            let offset = base.distance(to: UnsafeRawPointer(hit))
            return (offset, offset > 0 && bytes[offset - 1] == UInt8(ascii: "\r"), false)
        }
    }
}
