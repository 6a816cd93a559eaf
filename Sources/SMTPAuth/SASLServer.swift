import Foundation
import SMTPWire

/// The server side of one SASL exchange (RFC 4954) against a table of users.
public struct SASLServer: Sendable {
    /// A user's credentials: a password (PLAIN, LOGIN, CRAM-MD5) and optionally an XOAUTH2 bearer token.
    public struct Credentials: Sendable, Hashable {
        public var password: String
        public var token: String?

        /// Creates credentials.
        public init(password: String, token: String? = nil) {
            self.password = password
            self.token = token
        }
    }

    /// What to answer after each client line.
    public enum Step: Sendable, Equatable {
        /// `334` with this base64 challenge.
        case challenge(String)
        /// `235`: authenticated as this user.
        case success(String)
        /// Authentication failed.
        case failed
        /// The client cancelled with `*` (501).
        case aborted
        /// The line was not base64 (501).
        case badBase64
    }

    private enum State: Sendable {
        case awaitingPlain
        case awaitingLoginUser
        case awaitingLoginPassword(user: String)
        case awaitingCRAM(challenge: String)
        case awaitingXOAUTH2
        case awaitingXOAUTH2ErrorAck
    }

    private let users: [String: Credentials]
    private var state: State

    private init(users: [String: Credentials], state: State) {
        self.users = users
        self.state = state
    }

    /// Starts an exchange; returns it and its first step (the initial response, if any, is already handled).
    public static func start(
        mechanism: SASLMechanism,
        initialResponse: String?,
        users: [String: Credentials],
        hostname: String
    ) -> (SASLServer, Step) {
        let state: State
        let firstChallenge: String
        switch mechanism {
        case .plain:
            state = .awaitingPlain
            firstChallenge = ""
        case .login:
            state = .awaitingLoginUser
            firstChallenge = SASLEncoding.base64("Username:")
        case .xoauth2:
            state = .awaitingXOAUTH2
            firstChallenge = ""
        case .cramMD5:
            let nonce = "<\(UInt64.random(in: 1...UInt64.max)).\(Int(Date().timeIntervalSince1970))@\(hostname)>"
            return (
                SASLServer(users: users, state: .awaitingCRAM(challenge: nonce)), .challenge(SASLEncoding.base64(nonce))
            )
        }
        var exchange = SASLServer(users: users, state: state)
        guard let initialResponse else { return (exchange, .challenge(firstChallenge)) }
        let step = exchange.receive(initialResponse)
        return (exchange, step)
    }

    /// Handles one client line of the exchange.
    public mutating func receive(_ line: String) -> Step {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return .aborted }
        if case .awaitingXOAUTH2ErrorAck = state { return .failed }
        guard let text = SASLEncoding.decodeBase64(trimmed) else { return .badBase64 }
        switch state {
        case .awaitingPlain:
            guard let (user, password) = SASLEncoding.parsePlain(text), users[user]?.password == password else {
                return .failed
            }
            return .success(user)
        case .awaitingLoginUser:
            state = .awaitingLoginPassword(user: text)
            return .challenge(SASLEncoding.base64("Password:"))
        case .awaitingLoginPassword(let user):
            return users[user]?.password == text ? .success(user) : .failed
        case .awaitingCRAM(let challenge):
            guard let (user, digest) = SASLEncoding.parseCRAMMD5(text), let password = users[user]?.password,
                SASLEncoding.cramMD5Digest(challenge: challenge, password: password) == digest
            else { return .failed }
            return .success(user)
        case .awaitingXOAUTH2:
            if let (user, token) = SASLEncoding.parseXOAUTH2(text), let expected = users[user]?.token,
                expected == token
            {
                return .success(user)
            }
            state = .awaitingXOAUTH2ErrorAck
            return .challenge(
                SASLEncoding.base64(#"{"status":"401","schemes":"bearer","scope":"https://mail.example.test/"}"#)
            )
        case .awaitingXOAUTH2ErrorAck:
            return .failed
        }
    }
}
