import SMTPWire

/// A reply the mock sends: code, optional enhanced status code (put on every line), text lines.
public struct ServerReply: Sendable, Hashable {
    public let code: Int
    public let enhanced: EnhancedStatusCode?
    public let lines: [String]

    init(_ code: Int, _ enhanced: String?, _ lines: [String]) {
        self.code = code
        self.enhanced = enhanced.flatMap { EnhancedStatusCode($0) }
        self.lines = lines
    }

    init(_ code: Int, _ enhanced: String?, _ text: String) {
        self.init(code, enhanced, [text])
    }
}

/// What the connection handler must do, in order, after the session state machine saw an input.
enum SessionAction: Sendable, Hashable {
    /// Send a reply.
    case reply(ServerReply)
    /// Wait before doing the remaining actions (a delay fault); later input waits too.
    case pause(Duration)
    /// Flush and close.
    case close
    /// Close at once without a reply (a drop fault).
    case drop
    /// Flush, then start the TLS handshake (after a 220 to STARTTLS).
    case startTLS
    /// What follows is message content until the end of data.
    case enterData
    /// What follows is a BDAT chunk of `size` bytes (RFC 3030), read by size; `first` when it begins a message;
    /// `refusal` answers it (after it was read and discarded) when the command was refused.
    case readChunk(size: Int, last: Bool, first: Bool, refusal: ServerReply?)
    /// Store an accepted message.
    case deliver(StoredMessage)
}
