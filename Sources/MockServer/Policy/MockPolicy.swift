import Foundation
import SMTPAuth
import SMTPWire

/// How the mock server behaves: its identity, what it accepts, and the faults it injects on purpose.
///
/// The defaults describe a well-configured, closed MTA, as a hardened Postfix would be.
public struct MockPolicy: Sendable, Hashable {
    /// Who may relay to foreign domains.
    public enum Relay: Sendable, Hashable {
        /// Nobody (authenticated users excepted).
        case closed
        /// Everybody: an open relay, for exercising relay checks.
        case open
        /// Clients in these networks.
        case networks([IPNetwork])
    }

    /// How VRFY answers.
    public enum VerifyMode: String, Sendable, Hashable, CaseIterable {
        /// `252 2.0.0` without confirming anything (the default).
        case noConfirm = "252"
        /// `502 5.5.1 VRFY command is disabled`.
        case disabled
        /// `250` for known mailboxes, `550` otherwise: leaks which users exist (a weakness for tests).
        case confirm
    }

    /// What the server does when a client sends commands in one group although PIPELINING is not advertised.
    public enum ImproperPipelining: String, Sendable, Hashable, CaseIterable {
        /// Answer each command in turn (as most servers do).
        case accept
        /// `500 5.5.1 Invalid command: Pipelining not supported` and close, as OpenSMTPD does.
        case reject
    }

    /// Greylisting (450 4.7.1 on the first attempt of a client/sender/recipient triple).
    public struct Greylisting: Sendable, Hashable {
        /// How long a triple must wait before a retry is accepted.
        public var delay: Duration

        /// Creates greylisting with `delay`.
        public init(delay: Duration) { self.delay = delay }
    }

    /// A user for AUTH: a password (PLAIN, LOGIN, CRAM-MD5) and optionally an XOAUTH2 bearer token.
    public typealias User = SASLServer.Credentials

    /// Safety limits against hostile or broken clients.
    public struct Limits: Sendable, Hashable {
        /// Concurrent connections; more get `421 4.7.0` and are closed.
        public var maxConnections = 256
        /// Silence allowed from a client before `421 4.4.2` and close.
        public var idleTimeout: Duration = .seconds(120)
        /// Longest session before `421 4.4.2` and close.
        public var sessionTimeout: Duration = .seconds(600)
        /// Longest command line (RFC 5321: 512 octets with CRLF); AUTH lines may be longer (RFC 4954: 12288).
        public var maxCommandLength = 510
        /// Errors in one session before `421 4.7.0` and close.
        public var maxErrors = 50

        /// The defaults.
        public init() {}
    }

    /// The name the server gives in its greeting and EHLO reply.
    public var hostname = "mx.example.test"
    /// Text after the host name in the greeting; no software version, on purpose.
    public var greetingText = "ESMTP ready"
    /// Domains delivered locally.
    public var localDomains = ["example.com", "example.test", "localhost"]
    /// Local parts that exist, compared without case; nil accepts any local part.
    public var mailboxes: [String]? = ["postmaster", "abuse", "alice", "bob", "recipient"]
    /// Relay permission.
    public var relay = Relay.closed
    /// Largest message accepted, in bytes (advertised as SIZE).
    public var maxMessageSize = 10 * 1024 * 1024
    /// Recipients per transaction.
    public var maxRecipients = 100
    /// MAIL requires STARTTLS first (530 5.7.0).
    public var requireTLS = false
    /// MAIL requires AUTH first (530 5.7.0).
    public var requireAuth = false
    /// AUTH is neither advertised nor accepted before TLS (538 5.7.11).
    public var authRequiresTLS = true
    /// Users for AUTH.
    public var users: [String: User] = ["demo": User(password: "demo-password", token: "demo-token")]
    /// Greylisting, off by default.
    public var greylisting: Greylisting?
    /// What a bare CR or LF inside DATA does.
    public var bareLineEndings = BareLineEndingPolicy.reject
    /// VRFY behaviour.
    public var verify = VerifyMode.noConfirm
    /// Extra EHLO keywords to advertise (they do nothing).
    public var advertise: [String] = []
    /// EHLO keywords to hide (`PIPELINING`, `STARTTLS`, `AUTH`, ...); hidden STARTTLS and AUTH are also refused.
    public var hide: [String] = []
    /// Deliberate faults.
    public var faults: [FaultRule] = []
    /// Safety limits.
    public var limits = Limits()
    /// Write multi-line replies one line per write with a short pause, as some servers do (nmap misreads them).
    public var splitMultilineReplies = false
    /// The defence against improper pipelining, effective when PIPELINING is hidden.
    public var improperPipelining = ImproperPipelining.accept
    /// Deliberately vulnerable: keep plaintext received after STARTTLS and execute it inside TLS (CVE-2011-0411).
    public var executePlaintextAfterSTARTTLS = false

    /// The default policy.
    public init() {}

    /// Whether a command arriving with more input already behind it is refused: `improper-pipelining: reject`
    /// while PIPELINING is hidden.
    public var refusesImproperPipelining: Bool {
        improperPipelining == .reject
            && hide.contains { $0.equalsIgnoringCase("PIPELINING") }
    }

    /// The same policy as an open relay.
    public static var openRelay: MockPolicy {
        var policy = MockPolicy()
        policy.relay = .open
        return policy
    }
}

/// An IPv4 or IPv6 network in CIDR form (`127.0.0.0/8`, `::1/128`).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    let address: [UInt8]
    let prefixLength: Int

    /// Parses `a.b.c.d/n`, `x::y/n` or a single address.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let bytes = IPNetwork.parseAddress(String(parts[0])) else { return nil }
        let maxLength = bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maxLength).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = maxLength
        }
        address = bytes
    }

    /// Whether `ip` (text form) is inside the network.
    public func contains(_ ip: String) -> Bool {
        guard var bytes = IPNetwork.parseAddress(ip) else { return false }
        // IPv4-mapped IPv6 addresses match IPv4 networks.
        if bytes.count == 16, address.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF,
            bytes[11] == 0xFF
        {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[index] & mask != address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        return stride(from: 0, to: 16, by: 2).map {
            String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16)
        }
        .joined(separator: ":") + "/\(prefixLength)"
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        if !text.contains(":") {
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4 else { return nil }
            var bytes: [UInt8] = []
            for octet in octets {
                guard let value = UInt8(octet) else { return nil }
                bytes.append(value)
            }
            return bytes
        }
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard let value = UInt16(group, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
