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
        var headers = "Return-Path: <\(sender)>\r\n"
        for recipient in recipients { headers += "X-Envelope-To: <\(recipient)>\r\n" }
        headers += "Received: from \(helo) ([\(clientAddress)])\r\n"
        headers += "\tby \(hostname) (smtp-scenario mock) with \(protocolName) id \(id)\r\n"
        headers += "\tfor <\(recipients.first ?? "")>; \(Self.rfc5322Date(receivedAt))\r\n"
        let headerBytes = Array(headers.utf8)
        headerLength = headerBytes.count
        data = headerBytes + Array(content.readableBytesView)
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
