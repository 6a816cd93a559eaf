import Foundation
import NIOCore

/// A message the mock accepted: its envelope and its content, stored with trace headers added (``data``).
public struct StoredMessage: Sendable, Hashable {
    /// The queue id given in the `250 2.0.0 Ok: queued as ...` reply.
    public let id: String
    /// The reverse-path, without angle brackets (empty for `<>`).
    public let sender: String
    /// The accepted recipients, without angle brackets.
    public let recipients: [String]
    /// The client's IP address.
    public let clientAddress: String
    /// The HELO/EHLO name the client gave.
    public let helo: String
    /// The authenticated user, if any.
    public let authenticatedUser: String?
    /// Whether the session was encrypted.
    public let tls: Bool
    /// When the final dot was received.
    public let receivedAt: Date
    /// The server name the trace header names.
    let hostname: String
    /// The content as the client sent it (unstuffed, CRLF line endings), without the trace headers the mock adds.
    public let content: [UInt8]

    /// The message as stored: trace headers, then ``content``.
    ///
    /// Built when asked for (a file written, a lookup by queue id), not when the message arrives: with no message
    /// directory nothing asks, and the headers cost about 8,000 instructions of each session on the event loop.
    public var data: [UInt8] { stored(as: [UInt8].self) }

    /// ``data`` in any byte container: an array for a lookup, `Data` for a file, each filled once.
    func stored<Bytes: RangeReplaceableCollection<UInt8>>(as _: Bytes.Type) -> Bytes {
        let headers = traceHeaders()
        var bytes = Bytes()
        bytes.reserveCapacity(headers.count + content.count)
        bytes.append(contentsOf: headers)
        bytes.append(contentsOf: content)
        return bytes
    }

    init(
        id: String,
        sender: String,
        recipients: [String],
        clientAddress: String,
        helo: String,
        authenticatedUser: String?,
        tls: Bool,
        receivedAt: Date,
        hostname: String,
        content: ByteBuffer
    ) {
        self.id = id
        self.sender = sender
        self.recipients = recipients
        self.clientAddress = clientAddress
        self.helo = helo
        self.authenticatedUser = authenticatedUser
        self.tls = tls
        self.receivedAt = receivedAt
        self.hostname = hostname
        self.content = Array(content.readableBytesView)
    }

    /// `Return-Path:`, one `X-Envelope-To:` a recipient and `Received:`, as the start of ``data``.
    private func traceHeaders() -> [UInt8] {
        let protocolName = "ESMTP" + (tls ? "S" : "") + (authenticatedUser == nil ? "" : "A")
        // Appended as bytes into one buffer: string interpolation here cost more than the rest of the message's
        // handling.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + 32 * recipients.count + helo.utf8.count)
        Self.append("Return-Path: <", sender, ">\r\n", to: &bytes)
        for recipient in recipients { Self.append("X-Envelope-To: <", recipient, ">\r\n", to: &bytes) }
        Self.append("Received: from ", helo, " ([", clientAddress, "])\r\n", to: &bytes)
        Self.append("\tby ", hostname, " (smtp-scenario mock) with ", protocolName, " id ", id, "\r\n", to: &bytes)
        Self.append("\tfor <", recipients.first ?? "", ">; ", Self.rfc5322Date(receivedAt), "\r\n", to: &bytes)
        return bytes
    }

    /// Appends the UTF-8 of each piece, copying contiguous bytes (the generic walk of `utf8` costs some 40
    /// instructions a byte). A function with an `inout` buffer rather than a closure that captures it: the captured
    /// buffer was boxed and every append checked for exclusive access at run time.
    private static func append(_ pieces: String..., to bytes: inout [UInt8]) {
        for piece in pieces {
            if piece.utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil {
                bytes.append(contentsOf: piece.utf8)
            }
        }
    }

    /// `Sun, 29 Nov 2026 05:07:13 +0000`, formatted with the C library: DateFormatter costs more than the rest
    /// of a session.
    static func rfc5322Date(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = strftime(buffer.baseAddress!, buffer.count, "%a, %d %b %Y %H:%M:%S +0000", &parts)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
        }
    }
}
