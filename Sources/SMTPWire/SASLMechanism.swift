/// The SASL mechanisms spoken over SMTP AUTH (RFC 4954) by both the runner and the mock server.
public enum SASLMechanism: String, Sendable, Hashable, CaseIterable {
    /// RFC 4616: `\0user\0password` in one base64 response.
    case plain = "PLAIN"
    /// The de facto LOGIN mechanism: user name and password as two base64 responses.
    case login = "LOGIN"
    /// RFC 2195: an HMAC-MD5 of the server's challenge, keyed with the password.
    case cramMD5 = "CRAM-MD5"
    /// Google's and Microsoft's OAuth 2.0 bearer-token mechanism.
    case xoauth2 = "XOAUTH2"

    /// Whether the mechanism's secret is a bearer token (`token:`) rather than a password.
    public var usesToken: Bool { self == .xoauth2 }
}
