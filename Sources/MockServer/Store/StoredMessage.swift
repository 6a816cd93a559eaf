import Foundation
import NIOCore

/// A message the mock accepted: its envelope and its content as stored (with a Received header added).
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
    /// The message as stored: trace headers, then the content exactly as received (unstuffed, CRLF line endings).
    public let data: [UInt8]

    /// The content as the client sent it, without the trace headers the mock added.
    public var content: [UInt8] { Array(data.dropFirst(headerLength)) }

    /// Bytes of trace headers at the start of ``data``.
    let headerLength: Int

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
        let protocolName = "ESMTP" + (tls ? "S" : "") + (authenticatedUser == nil ? "" : "A")
        // Appended as bytes into one buffer sized for headers and content: string interpolation here cost more
        // than the rest of the message's handling.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + 32 * recipients.count + helo.utf8.count + content.readableBytes)
        func put(_ pieces: String...) { for piece in pieces { bytes.append(contentsOf: piece.utf8) } }
        put("Return-Path: <", sender, ">\r\n")
        for recipient in recipients { put("X-Envelope-To: <", recipient, ">\r\n") }
        put("Received: from ", helo, " ([", clientAddress, "])\r\n")
        put("\tby ", hostname, " (smtp-scenario mock) with ", protocolName, " id ", id, "\r\n")
        put("\tfor <", recipients.first ?? "", ">; ", Self.rfc5322Date(receivedAt), "\r\n")
        headerLength = bytes.count
        bytes.append(contentsOf: content.readableBytesView)
        data = bytes
    }

    /// `Sun, 29 Nov 2026 05:07:13 +0000`, formatted with the C library: DateFormatter costs more than the rest
    /// of a session.
    static func rfc5322Date(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S +0000", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
