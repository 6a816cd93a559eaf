import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Encodes message content for the DATA phase (RFC 5321 section 4.5.2) and for BDAT chunks (RFC 3030).
public enum MessageData {
    /// Encodes `text` as DATA content: line endings normalised to CRLF (LF, CR and CRLF alike), every line that
    /// begins with `.` dot-stuffed, a final CRLF added when missing, then the terminating `.` CRLF.
    public static func encode(_ text: String) -> ByteBuffer {
        var out = ByteBuffer()
        var text = text
        text.withUTF8 { write($0, dotStuffing: true, into: &out, trailer: ".\r\n") }
        return out
    }

    /// `text` with its line endings normalised to CRLF and a final CRLF added when missing, not dot-stuffed: the
    /// content of a BDAT chunk.
    public static func chunkContent(_ text: String) -> [UInt8] {
        var out = ByteBuffer()
        var text = text
        text.withUTF8 { write($0, dotStuffing: false, into: &out, trailer: "") }
        return Array(out.readableBytesView)
    }

    /// `BDAT n [LAST]` CRLF followed by the chunk's bytes: one write (RFC 3030 section 2).
    public static func bdat(_ bytes: [UInt8], last: Bool) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + 24)
        SMTPCommandLine.encode("BDAT \(bytes.count)" + (last ? " LAST" : ""), into: &out)
        out.writeBytes(bytes)
        return out
    }

    /// Writes `bytes` with every line ending (CRLF, bare CR, bare LF) as CRLF, a final CRLF when the last line has
    /// none, a line starting with `.` given a second one when `dotStuffing`, then `trailer`.
    ///
    /// The rule is walked twice: once to measure the result, once to write it into the buffer's memory in one call,
    /// copying the runs between line ends at once (a write per byte checked the buffer's capacity and exclusivity on
    /// every byte).
    private static func write(
        _ bytes: UnsafeBufferPointer<UInt8>,
        dotStuffing: Bool,
        into out: inout ByteBuffer,
        trailer: StaticString
    ) {
        var size = trailer.utf8CodeUnitCount
        walk(bytes, dotStuffing: dotStuffing, copy: { size += $0.count }, put: { _ in size += 1 })
        guard size > 0 else { return }
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { memory in
            var at = 0
            func put(_ byte: UInt8) {
                memory[at] = byte
                at += 1
            }
            walk(
                bytes,
                dotStuffing: dotStuffing,
                copy: { run in
                    guard let source = bytes.baseAddress else { return }
                    (memory.baseAddress! + at).copyMemory(from: source + run.lowerBound, byteCount: run.count)
                    at += run.count
                },
                put: put
            )
            trailer.withUTF8Buffer { tail in
                for byte in tail { put(byte) }
            }
            precondition(at == size, "MessageData measured \(size) bytes and wrote \(at)")
            return at
        }
    }

    /// The rule of ``write(_:dotStuffing:into:trailer:)`` as pieces, in order: `copy` for each non-empty run of
    /// `bytes` kept as it is, `put` for each byte the rule adds (CR and LF for a line ending, a stuffed dot).
    private static func walk(
        _ bytes: UnsafeBufferPointer<UInt8>,
        dotStuffing: Bool,
        copy: (Range<Int>) -> Void,
        put: (UInt8) -> Void
    ) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        let dot = UInt8(ascii: ".")
        var runStart = 0
        var atLineStart = true
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == cr || byte == lf {
                if runStart < index { copy(runStart..<index) }
                put(cr)
                put(lf)
                if byte == cr, index + 1 < bytes.count, bytes[index + 1] == lf { index += 1 }
                atLineStart = true
                runStart = index + 1
            } else {
                if dotStuffing, atLineStart, byte == dot {
                    if runStart < index { copy(runStart..<index) }
                    put(dot)
                    runStart = index
                }
                atLineStart = false
            }
            index += 1
        }
        if runStart < bytes.count { copy(runStart..<bytes.count) }
        if !atLineStart {
            put(cr)
            put(lf)
        }
    }
}

/// The server side of BDAT (RFC 3030): a chunk is read by its size, never by lines, so its bytes are kept exactly
/// (up to the message size limit, beyond which they are only counted).
public struct ChunkReceiver: Sendable {
    /// What a chunk, or the whole message at its last chunk, produced.
    public enum Outcome: Sendable, Hashable {
        /// A chunk was read; more may follow.
        case chunkAccepted(size: Int)
        /// The last chunk was read: the whole message.
        case message(ByteBuffer)
        /// The message passed the size limit; nothing of it was kept.
        case tooLarge(size: Int)
    }

    private let maxSize: Int
    private var content = ByteBuffer()
    private var size = 0
    private var remaining = 0
    private var last = false

    /// A receiver for one message of at most `maxSize` bytes.
    public init(maxSize: Int) { self.maxSize = maxSize }

    /// Starts a chunk of `size` bytes (`last` for `BDAT n LAST`).
    public mutating func begin(size: Int, last: Bool) {
        remaining = size
        self.last = last
    }

    /// Whether a chunk is being read.
    public var isReading: Bool { remaining > 0 }

    /// Takes what belongs to the current chunk from `buffer`; returns the outcome once the chunk is complete.
    public mutating func consume(_ buffer: inout ByteBuffer) -> Outcome? {
        let take = min(remaining, buffer.readableBytes)
        if take > 0 {
            var slice = buffer.readSlice(length: take)!
            size += take
            if size <= maxSize {
                content.writeBuffer(&slice)
            } else if content.capacity > 0 {
                content = ByteBuffer()
            }
            remaining -= take
        }
        guard remaining == 0 else { return nil }
        return finishChunk()
    }

    /// The outcome of a chunk that is complete (also of a `BDAT 0 LAST`).
    public mutating func finishChunk() -> Outcome {
        guard last else { return .chunkAccepted(size: size) }
        if size > maxSize { return .tooLarge(size: size) }
        return .message(content)
    }

    /// Bytes of storage held for the message so far.
    public var contentCapacity: Int { content.capacity }
}

/// How a server treats a bare LF or bare CR inside message content (the root of SMTP smuggling).
public enum BareLineEndingPolicy: String, Sendable, Hashable, CaseIterable {
    /// Read to the real CRLF.CRLF, then refuse the message with 5xx (the safe default).
    case reject
    /// Read to the real CRLF.CRLF and store bare line endings as CRLF.
    case normalize
    /// Deliberately vulnerable: a bare LF ends a line, so `\n.\n` and `\n.\r\n` end the data. For tests only.
    case accept
}

/// Server-side reader of DATA content: finds the end of data, removes dot-stuffing, applies the bare line ending
/// policy and the size limit, keeping at most `maxSize` bytes in memory.
public struct DataReceiver: Sendable {
    /// What the data phase produced once it ended.
    public enum Outcome: Sendable, Hashable {
        /// The message, unstuffed, with CRLF line endings.
        case message(ByteBuffer)
        /// Bigger than the limit; the content was not kept.
        case tooLarge(size: Int)
        /// Contained a bare CR or LF and the policy refuses it.
        case bareLineEnding
        /// Contained a line longer than the framer allows.
        case lineTooLong
    }

    private let policy: BareLineEndingPolicy
    private let maxSize: Int
    private var content = ByteBuffer()
    private var size = 0
    private var sawBareLineEnding = false
    private var sawOverlongLine = false
    private var previousEndedWithCRLF = true

    /// Creates a receiver for one message.
    public init(policy: BareLineEndingPolicy, maxSize: Int) {
        self.policy = policy
        self.maxSize = maxSize
    }

    /// Bytes of storage held for the message so far (0 once it is known to be refused).
    public var contentCapacity: Int { content.capacity }

    /// Feeds one framed line; returns the outcome when this line ended the data, nil otherwise.
    public mutating func receive(_ framed: FramedLine) -> Outcome? {
        guard case .line(var line, let ending) = framed else {
            // The line's bytes are gone, but how it ended still matters: the end of data must never be lost.
            if case .overlong(let discarded, let ending) = framed {
                size += discarded
                previousEndedWithCRLF = ending == .crlf
                if ending == .lf { sawBareLineEnding = true }
            }
            sawOverlongLine = true
            content = ByteBuffer()
            return nil
        }
        let isDot = line.readableBytes == 1 && line.readableBytesView.first == UInt8(ascii: ".")
        let bareCR = line.readableBytesView.contains(UInt8(ascii: "\r"))
        switch policy {
        case .accept:
            if isDot { return finish() }
        case .reject, .normalize:
            if isDot, ending == .crlf, previousEndedWithCRLF { return finish() }
            if ending == .lf || bareCR { sawBareLineEnding = true }
        }
        previousEndedWithCRLF = ending == .crlf
        if line.readableBytesView.first == UInt8(ascii: ".") { line.moveReaderIndex(forwardBy: 1) }
        append(&line, bareCR: bareCR)
        return nil
    }

    /// Feeds every complete line in `buffer`, framed by `framer`, until the data ends; returns the outcome then
    /// (the bytes after the end stay in `buffer`), nil when more bytes are needed. One call for all the lines that
    /// arrived together: a server that keeps the framer, buffer and receiver in a class pays the run-time check
    /// of exclusive access to each once for the batch instead of once a line.
    ///
    /// The same outcome as ``receive(_:)`` for each line. Lines kept exactly as they arrived (ended by CRLF, no
    /// leading dot, no CR inside: most of a message) are copied from the input as one run of bytes: a line and its
    /// CRLF written on their own cost about 1,000 instructions, in capacity and uniqueness checks.
    public mutating func receiveLines(from buffer: inout ByteBuffer, framer: inout LineFramer) -> Outcome? {
        // The input as it was: the run's bytes are behind the reader index once framed. A copy of the value only
        // (reading lines moves indices and never writes the storage).
        let input = buffer
        var run = (start: buffer.readerIndex, length: 0)
        while true {
            let start = buffer.readerIndex
            guard let framed = framer.next(from: &buffer) else { break }
            if case .line(let line, .crlf) = framed, Self.isVerbatim(line) {
                // What `receive` and `append` do with such a line, without the copy.
                previousEndedWithCRLF = true
                if count(line.readableBytes + 2) {
                    if run.length == 0 { run.start = start }
                    run.length += line.readableBytes + 2
                } else {
                    run.length = 0
                }
                continue
            }
            keep(run, of: input)
            run.length = 0
            if let outcome = receive(framed) { return outcome }
        }
        keep(run, of: input)
        return nil
    }

    /// Whether a line ended by CRLF is kept byte for byte: neither a dot first (stuffing, or the end of data) nor a
    /// CR inside (a bare line ending, which the policy judges).
    private static func isVerbatim(_ line: ByteBuffer) -> Bool {
        line.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
            return bytes[0] != UInt8(ascii: ".") && memchr(base, Int32(UInt8(ascii: "\r")), bytes.count) == nil
        }
    }

    /// Appends the run of verbatim lines (with their CRLFs) at `run` in `input`.
    private mutating func keep(_ run: (start: Int, length: Int), of input: ByteBuffer) {
        guard run.length > 0, var bytes = input.getSlice(at: run.start, length: run.length) else { return }
        content.writeBuffer(&bytes)
    }

    /// Counts `length` more bytes of content; false once the message will be refused (over the size limit, or an
    /// overlong line seen), when nothing of it is kept any more.
    private mutating func count(_ length: Int) -> Bool {
        size += length
        guard size <= maxSize, !sawOverlongLine else {
            // Keep nothing: a new buffer, so the old storage is freed.
            if content.capacity > 0 { content = ByteBuffer() }
            return false
        }
        return true
    }

    private mutating func append(_ line: inout ByteBuffer, bareCR: Bool) {
        guard count(line.readableBytes + 2) else { return }
        if bareCR, policy == .normalize {
            for byte in line.readableBytesView {
                if byte == UInt8(ascii: "\r") {
                    content.writeStaticString("\r\n")
                } else {
                    content.writeInteger(byte)
                }
            }
        } else {
            content.writeBuffer(&line)
        }
        content.writeStaticString("\r\n")
    }

    private mutating func finish() -> Outcome {
        if size > maxSize { return .tooLarge(size: size) }
        if sawOverlongLine { return .lineTooLong }
        if sawBareLineEnding, policy == .reject { return .bareLineEnding }
        return .message(content)
    }
}
