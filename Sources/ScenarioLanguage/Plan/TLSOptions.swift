/// How the runner sets up TLS for a scenario (`tls:` on a suite or scenario).
public struct TLSOptions: Sendable, Hashable {
    /// Check the chain and host name (against the system trust store unless `caFile` or a pin is given).
    public var verify = true
    /// A PEM file of trusted certificates, as an absolute path.
    public var caFile: String?
    /// The certificate's SHA-256 fingerprint (32 bytes), trusted instead of a chain.
    public var pinSHA256: [UInt8]?
    /// The name sent as SNI and verified; default the server's host name.
    public var serverName: String?
    /// Lowest TLS version offered.
    public var minVersion: TLSVersion?
    /// Highest TLS version offered.
    public var maxVersion: TLSVersion?
    /// A client certificate (PEM, absolute path).
    public var clientCertificate: String?
    /// Its private key (PEM, absolute path).
    public var clientKey: String?

    /// The defaults: verify against the system trust store.
    public init() {}
}
