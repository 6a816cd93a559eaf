import Crypto
import Foundation
import ScenarioLanguage

/// The client side of an SASL exchange in SMTP (RFC 4954): the AUTH command and the answers to 334 challenges.
///
/// Each message carries its own transcript form, so credentials never reach a transcript.
struct SASLExchange {
    /// A line to send and how the transcript shows it.
    struct Message: Equatable {
        let line: String
        let display: String
    }

    let mechanism: AuthMechanism
    let username: String
    let secret: String
    private var challengesAnswered = 0

    init(mechanism: AuthMechanism, username: String, secret: String) {
        self.mechanism = mechanism
        self.username = username
        self.secret = secret
    }

    /// The AUTH command; PLAIN and XOAUTH2 send their initial response with it (RFC 4954 section 4).
    func initialCommand() -> Message {
        switch mechanism {
        case .plain:
            return Message(line: "AUTH PLAIN \(plainResponse)", display: "AUTH PLAIN ***")
        case .xoauth2:
            return Message(line: "AUTH XOAUTH2 \(xoauth2Response)", display: "AUTH XOAUTH2 ***")
        case .login, .cramMD5:
            let command = "AUTH \(mechanism.rawValue)"
            return Message(line: command, display: command)
        }
    }

    /// The answer to a 334 challenge (base64 text), or nil when the mechanism has nothing more to say.
    mutating func respond(toChallenge challenge: String) -> Message? {
        defer { challengesAnswered += 1 }
        switch (mechanism, challengesAnswered) {
        case (.plain, 0):
            return Message(line: plainResponse, display: "***")
        case (.login, 0):
            let encoded = Self.base64(username)
            return Message(line: encoded, display: encoded)
        case (.login, 1):
            return Message(line: Self.base64(secret), display: "***")
        case (.cramMD5, 0):
            guard let data = Data(base64Encoded: challenge.trimmingCharacters(in: .whitespaces)) else {
                return Message(line: "*", display: "* (challenge was not base64: cancel)")
            }
            let mac = HMAC<Insecure.MD5>.authenticationCode(for: data, using: SymmetricKey(data: Data(secret.utf8)))
            let hex = mac.map { String(format: "%02x", $0) }.joined()
            return Message(line: Self.base64("\(username) \(hex)"), display: "*** (CRAM-MD5 response)")
        case (.xoauth2, 0):
            // The server reports an error as a base64 JSON challenge; the client answers with an empty line.
            return Message(line: "", display: "(empty line acknowledging the XOAUTH2 error)")
        default:
            return nil
        }
    }

    private var plainResponse: String { Self.base64("\0\(username)\0\(secret)") }

    private var xoauth2Response: String { Self.base64("user=\(username)\u{1}auth=Bearer \(secret)\u{1}\u{1}") }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
}
