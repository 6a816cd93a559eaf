import Crypto
import Foundation
import NIOCore
import NIOSSL
import SMTPWire
import ScenarioLanguage

/// A custom certificate check (a pin), when the scenario uses one instead of chain verification.
struct TLSVerification: Sendable {
    let callback: (@Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void)?
}

/// What the handshake negotiated.
struct TLSSessionInfo: Sendable {
    let version: NIOSSL.TLSVersion?
    let leafDER: [UInt8]?
}

/// A TLS handshake that did not complete.
struct TLSHandshakeError: Error, CustomStringConvertible {
    let underlying: Error
    let timedOut: Bool
    /// The first bytes the server sent after the handshake began.
    var firstBytes: [UInt8] = []

    /// Plaintext the server sent where a TLS record belongs (a TLS record starts with a content type 20-23 and
    /// major version 3), or nil when it sent nothing or something TLS-shaped.
    var plaintext: [UInt8]? {
        guard let first = firstBytes.first else { return nil }
        let looksLikeTLS = (20...23).contains(first) && (firstBytes.count < 2 || firstBytes[1] == 3)
        return looksLikeTLS ? nil : firstBytes
    }

    var description: String {
        if let plaintext {
            return
                "the server sent plaintext instead of TLS after the handshake began: \"\(ByteEscaping.escaped(plaintext))\""
        }
        if timedOut { return "TLS handshake timed out" }
        let raw = String(describing: underlying)
        let reason = raw.range(of: #"OPENSSL_internal:[A-Z0-9_]+"#, options: .regularExpression)
            .map { String(raw[$0].dropFirst("OPENSSL_internal:".count)) }
        switch reason {
        case "CERTIFICATE_VERIFY_FAILED":
            return "TLS handshake failed: certificate verification failed (the certificate is not trusted: unknown "
                + "issuer, expired, or not matching the pin); trust it with tls: {ca: FILE} or {pin-sha256: ...}"
        case "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "WRONG_VERSION_NUMBER":
            return "TLS handshake failed: no TLS version in common with the server (\(reason!))"
        case .some(let reason):
            return "TLS handshake failed: \(reason)"
        case nil:
            if raw.contains("failedToValidateHostname") {
                return "TLS handshake failed: the certificate does not match the server name (set tls.server-name)"
            }
            if underlying is ConnectionClosedError { return "TLS handshake failed: the server closed the connection" }
            return "TLS handshake failed: \(raw)"
        }
    }
}

/// Turns a scenario's `tls:` options into a swift-nio-ssl client context.
enum TLSClientSetup {
    /// Why the options could not be applied (a missing CA file, a bad key...).
    struct ConfigurationError: Error, CustomStringConvertible {
        let description: String
    }

    /// The context, the SNI name and the verification to use for `host`.
    ///
    /// `pin` (from the options or from the embedded mock's own certificate) replaces chain verification.
    static func make(
        options: TLSOptions,
        pin endpointPin: [UInt8]?,
        host: String
    ) throws(ConfigurationError) -> (
        NIOSSLContext, String?, TLSVerification
    ) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = options.minVersion.map(nioVersion) ?? .tlsv1
        if let max = options.maxVersion { configuration.maximumTLSVersion = nioVersion(max) }
        if options.minVersion == nil, let max = options.maxVersion, max < .v1_2 {
            configuration.minimumTLSVersion = .tlsv1
        }
        let pin = options.pinSHA256 ?? endpointPin
        var verification = TLSVerification(callback: nil)
        do {
            if let caFile = options.caFile {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            if let certificate = options.clientCertificate, let key = options.clientKey {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw ConfigurationError(description: "cannot load TLS files: \(error)")
        }
        if !options.verify {
            configuration.certificateVerification = .none
        } else if let pin {
            configuration.certificateVerification = .noHostnameVerification
            verification = TLSVerification { certificates, promise in
                guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
                    promise.succeed(.failed)
                    return
                }
                promise.succeed(Array(SHA256.hash(data: der)) == pin ? .certificateVerified : .failed)
            }
        }
        let serverName = options.serverName ?? (isIPAddress(host) ? nil : host)
        do {
            return (try NIOSSLContext(configuration: configuration), serverName, verification)
        } catch {
            throw ConfigurationError(description: "cannot set up TLS: \(error)")
        }
    }

    static func nioVersion(_ version: ScenarioLanguage.TLSVersion) -> NIOSSL.TLSVersion {
        switch version {
        case .v1_0: return .tlsv1
        case .v1_1: return .tlsv11
        case .v1_2: return .tlsv12
        case .v1_3: return .tlsv13
        }
    }

    static func scenarioVersion(_ version: NIOSSL.TLSVersion) -> ScenarioLanguage.TLSVersion {
        switch version {
        case .tlsv1: return .v1_0
        case .tlsv11: return .v1_1
        case .tlsv12: return .v1_2
        case .tlsv13: return .v1_3
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
