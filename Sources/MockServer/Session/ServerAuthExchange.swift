import Crypto
import Foundation

/// The server side of one SASL exchange (RFC 4954): PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 against the policy's users.
struct ServerAuthExchange {
    /// What to answer after each client line.
    enum Step: Equatable {
        /// `334` with this base64 challenge.
        case challenge(String)
        /// `235`: authenticated as this user.
        case success(String)
        /// Authentication failed or was aborted.
        case failure(ServerReply)
    }

    enum Mechanism: String, CaseIterable {
        case plain = "PLAIN"
        case login = "LOGIN"
        case cramMD5 = "CRAM-MD5"
        case xoauth2 = "XOAUTH2"
    }

    static let failed = ServerReply(535, "5.7.8", "Error: authentication failed")
    static let aborted = ServerReply(501, "5.7.0", "Authentication aborted")
    static let badBase64 = ServerReply(501, "5.5.2", "Error: invalid base64 data")

    private let mechanism: Mechanism
    private let users: [String: MockPolicy.User]
    private var state: State

    private enum State {
        case awaitingPlain
        case awaitingLoginUser
        case awaitingLoginPassword(user: String)
        case awaitingCRAM(challenge: String)
        case awaitingXOAUTH2
        case awaitingXOAUTH2ErrorAck
    }

    /// Starts an exchange; returns the exchange and its first step.
    static func start(
        mechanism: Mechanism,
        initialResponse: String?,
        users: [String: MockPolicy.User],
        hostname: String
    ) -> (ServerAuthExchange, Step) {
        switch mechanism {
        case .plain:
            var exchange = ServerAuthExchange(mechanism: mechanism, users: users, state: .awaitingPlain)
            guard let initialResponse else { return (exchange, .challenge("")) }
            let step = exchange.receive(initialResponse)
            return (exchange, step)
        case .login:
            var exchange = ServerAuthExchange(mechanism: mechanism, users: users, state: .awaitingLoginUser)
            guard let initialResponse else { return (exchange, .challenge(base64("Username:"))) }
            let step = exchange.receive(initialResponse)
            return (exchange, step)
        case .cramMD5:
            let nonce = "<\(UInt64.random(in: 1...UInt64.max)).\(Int(Date().timeIntervalSince1970))@\(hostname)>"
            let exchange = ServerAuthExchange(
                mechanism: mechanism,
                users: users,
                state: .awaitingCRAM(challenge: nonce)
            )
            return (exchange, .challenge(base64(nonce)))
        case .xoauth2:
            var exchange = ServerAuthExchange(mechanism: mechanism, users: users, state: .awaitingXOAUTH2)
            guard let initialResponse else { return (exchange, .challenge("")) }
            let step = exchange.receive(initialResponse)
            return (exchange, step)
        }
    }

    /// Handles one client line of the exchange.
    mutating func receive(_ line: String) -> Step {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return .failure(Self.aborted) }
        if case .awaitingXOAUTH2ErrorAck = state { return .failure(Self.failed) }
        guard let decoded = trimmed == "=" ? Data() : Data(base64Encoded: trimmed) else {
            return .failure(Self.badBase64)
        }
        let text = String(decoding: decoded, as: UTF8.self)
        switch state {
        case .awaitingPlain:
            let parts = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0].isEmpty || parts[0] == parts[1],
                users[parts[1]]?.password == parts[2]
            else { return .failure(Self.failed) }
            return .success(parts[1])
        case .awaitingLoginUser:
            state = .awaitingLoginPassword(user: text)
            return .challenge(Self.base64("Password:"))
        case .awaitingLoginPassword(let user):
            return users[user]?.password == text ? .success(user) : .failure(Self.failed)
        case .awaitingCRAM(let challenge):
            guard let space = text.lastIndex(of: " ") else { return .failure(Self.failed) }
            let user = String(text[..<space])
            let digest = text[text.index(after: space)...].lowercased()
            guard let password = users[user]?.password else { return .failure(Self.failed) }
            let mac = HMAC<Insecure.MD5>.authenticationCode(
                for: Data(challenge.utf8),
                using: SymmetricKey(data: Data(password.utf8))
            )
            let expected = mac.map { String(format: "%02x", $0) }.joined()
            return expected == digest ? .success(user) : .failure(Self.failed)
        case .awaitingXOAUTH2:
            var user: String?
            var token: String?
            for field in text.split(separator: "\u{1}") {
                if field.hasPrefix("user=") { user = String(field.dropFirst(5)) }
                if field.hasPrefix("auth=Bearer ") { token = String(field.dropFirst(12)) }
            }
            if let user, let token, let expected = users[user]?.token, expected == token { return .success(user) }
            state = .awaitingXOAUTH2ErrorAck
            return .challenge(Self.base64(#"{"status":"401","schemes":"bearer","scope":"https://mail.example.test/"}"#))
        case .awaitingXOAUTH2ErrorAck:
            return .failure(Self.failed)
        }
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
}
