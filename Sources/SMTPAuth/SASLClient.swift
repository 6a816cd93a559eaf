import SMTPWire

/// The client side of an SASL exchange in SMTP (RFC 4954): the AUTH command and the answers to 334 challenges.
///
/// Each message carries its own transcript form and the exact credential-bearing strings it sends, so the
/// caller can mask those wherever they appear later (a server that echoes a credential back, say).
public struct SASLClient: Sendable {
    /// A line to send, how the transcript shows it, and the strings in it that must be masked.
    public struct Message: Sendable, Equatable {
        /// The line as sent (without CRLF).
        public let line: String
        /// The line as transcripts show it.
        public let display: String
        /// Credential-bearing strings of the line (base64 responses), to mask in every output.
        public let secrets: [String]
    }

    /// The mechanism.
    public let mechanism: SASLMechanism
    private let username: String
    private let secret: String
    private var challengesAnswered = 0

    /// Starts an exchange for `username` with a password (or a token for XOAUTH2).
    public init(mechanism: SASLMechanism, username: String, secret: String) {
        self.mechanism = mechanism
        self.username = username
        self.secret = secret
    }

    /// The AUTH command; PLAIN and XOAUTH2 send their initial response with it (RFC 4954 section 4).
    public func initialCommand() -> Message {
        switch mechanism {
        case .plain:
            let response = SASLEncoding.plain(username: username, password: secret)
            return Message(line: "AUTH PLAIN \(response)", display: "AUTH PLAIN ***", secrets: [response])
        case .xoauth2:
            let response = SASLEncoding.xoauth2(username: username, token: secret)
            return Message(line: "AUTH XOAUTH2 \(response)", display: "AUTH XOAUTH2 ***", secrets: [response])
        case .login, .cramMD5:
            let command = "AUTH \(mechanism.rawValue)"
            return Message(line: command, display: command, secrets: [])
        }
    }

    /// The answer to a 334 challenge (base64 text), or nil when the mechanism has nothing more to say.
    public mutating func respond(toChallenge challenge: String) -> Message? {
        defer { challengesAnswered += 1 }
        switch (mechanism, challengesAnswered) {
        case (.plain, 0):
            let response = SASLEncoding.plain(username: username, password: secret)
            return Message(line: response, display: "***", secrets: [response])
        case (.login, 0):
            let encoded = SASLEncoding.base64(username)
            return Message(line: encoded, display: "*** (user name)", secrets: [encoded])
        case (.login, 1):
            let encoded = SASLEncoding.base64(secret)
            return Message(line: encoded, display: "***", secrets: [encoded])
        case (.cramMD5, 0):
            guard let text = SASLEncoding.decodeBase64(challenge) else {
                return Message(line: "*", display: "* (challenge was not base64: cancel)", secrets: [])
            }
            let response = SASLEncoding.cramMD5Response(username: username, password: secret, challenge: text)
            return Message(line: response, display: "*** (CRAM-MD5 response)", secrets: [response])
        case (.xoauth2, 0):
            // The server reports an error as a base64 JSON challenge; the client answers with an empty line.
            return Message(line: "", display: "(empty line acknowledging the XOAUTH2 error)", secrets: [])
        default:
            return nil
        }
    }
}
