import ScenarioLanguage

/// A concrete place to connect, as resolved from a ``ServerTarget``.
public struct Endpoint: Sendable, Hashable {
    /// Host name or IP address.
    public let host: String
    /// TCP port.
    public let port: Int
    /// Start TLS before the greeting (`smtps://`).
    public let implicitTLS: Bool
    /// How reports name this server.
    public let displayName: String
    /// A certificate fingerprint trusted without a chain (the embedded mock's own certificate).
    public let trustedCertificateSHA256: [UInt8]?
    /// For an `mx:` target: the hosts and addresses to try in order (the first that connects is used).
    public let candidates: [Candidate]

    /// One mail exchanger address of an `mx:` target.
    public struct Candidate: Sendable, Hashable {
        /// The MX host (or the domain, for the implicit MX).
        public let host: String
        /// One of its addresses.
        public let address: String
        /// Its MX preference; nil for the implicit MX.
        public let preference: Int?

        /// Creates a candidate.
        public init(host: String, address: String, preference: Int?) {
            self.host = host
            self.address = address
            self.preference = preference
        }
    }

    /// Creates an endpoint.
    public init(
        host: String,
        port: Int,
        implicitTLS: Bool = false,
        displayName: String? = nil,
        trustedCertificateSHA256: [UInt8]? = nil,
        candidates: [Candidate] = []
    ) {
        self.candidates = candidates
        self.host = host
        self.port = port
        self.implicitTLS = implicitTLS
        self.displayName =
            displayName ?? ServerTarget.remote(host: host, port: port, implicitTLS: implicitTLS).description
        self.trustedCertificateSHA256 = trustedCertificateSHA256
    }
}

/// Turns a scenario's server target into an endpoint; the command line plugs in the embedded mock server here,
/// so the runner does not depend on it.
public protocol ServerResolver: Sendable {
    /// The endpoint for `target`; throws when it cannot be provided (a mock policy file with errors, say).
    func endpoint(for target: ServerTarget) async throws -> Endpoint

    /// Where `delivered` steps find the messages this resolver's servers accepted; nil (the default) when it keeps
    /// none. A requirement rather than a cast: `as? any StoredMessageLookup` scans every protocol conformance
    /// record of the static binary (8,300 of them, 600,000 instructions) on each run's start.
    var messageLookup: (any StoredMessageLookup)? { get }
}

extension ServerResolver {
    public var messageLookup: (any StoredMessageLookup)? { nil }
}

/// Resolves network servers (and `mx:` targets) only; `mock` targets are refused with a clear message.
public struct NetworkServerResolver: ServerResolver {
    /// Where `mx:` lookups go; nil is the system's resolver.
    let dnsServer: DNSServer?

    /// Creates the resolver.
    public init(dnsServer: DNSServer? = nil) { self.dnsServer = dnsServer }

    public func endpoint(for target: ServerTarget) async throws -> Endpoint {
        switch target {
        case .remote(let host, let port, let implicitTLS):
            return Endpoint(host: host, port: port, implicitTLS: implicitTLS)
        case .mx(let domain, let port):
            return try await Endpoint.mx(domain, port: port, dnsServer: dnsServer)
        case .mock:
            throw UnsupportedTarget(description: "the embedded mock server is not available here")
        }
    }

    struct UnsupportedTarget: Error, CustomStringConvertible {
        let description: String
    }
}

extension Endpoint {
    /// The endpoint of `mx:domain:port`: its candidates resolved now.
    public static func mx(_ domain: String, port: Int, dnsServer: DNSServer?) async throws -> Endpoint {
        let candidates = try await MXResolver.candidates(for: domain, dnsServer: dnsServer)
        return Endpoint(
            host: candidates[0].host,
            port: port,
            displayName: ServerTarget.mx(domain: domain, port: port).description,
            candidates: candidates
        )
    }
}
