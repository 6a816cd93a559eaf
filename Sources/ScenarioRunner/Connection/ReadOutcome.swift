import SMTPWire

/// What waiting for a reply produced.
enum ReadOutcome: Sendable {
    /// A complete reply.
    case reply(Reply)
    /// The connection ended; `partial` holds bytes of an unfinished reply, if any.
    case closed(CloseReason, partial: [UInt8])
    /// Nothing complete arrived in time; `partial` holds any bytes that did arrive.
    case timedOut(partial: [UInt8])
    /// The server broke the reply syntax or a safety limit.
    case protocolError(ReplyParseError)
    /// The run was interrupted while waiting.
    case cancelled
}

/// How a connection ended.
enum CloseReason: Sendable, Hashable, CustomStringConvertible {
    /// The server closed the connection (FIN).
    case orderly
    /// The connection failed: reset by the peer, or another socket error.
    case reset(String)

    var description: String {
        switch self {
        case .orderly: return "connection closed by the server"
        case .reset(let why): return "connection reset (\(why))"
        }
    }
}
