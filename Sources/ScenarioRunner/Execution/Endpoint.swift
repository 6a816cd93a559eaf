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

    /// Creates an endpoint.
    public init(
        host: String,
        port: Int,
        implicitTLS: Bool = false,
        displayName: String? = nil,
        trustedCertificateSHA256: [UInt8]? = nil
    ) {
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
}

/// Resolves network servers only; `mock` targets are refused with a clear message.
public struct NetworkServerResolver: ServerResolver {
    /// Creates the resolver.
    public init() {}

    public func endpoint(for target: ServerTarget) async throws -> Endpoint {
        switch target {
        case .remote(let host, let port, let implicitTLS):
            return Endpoint(host: host, port: port, implicitTLS: implicitTLS)
        case .mock:
            throw UnsupportedTarget(description: "the embedded mock server is not available here")
        }
    }

    struct UnsupportedTarget: Error, CustomStringConvertible {
        let description: String
    }
}
