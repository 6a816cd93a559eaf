import Crypto
import Foundation
import NIOSSL
import ScenarioResults
import SwiftASN1
import X509

/// The certificate the mock presents for STARTTLS and implicit TLS.
public struct TLSIdentity: Sendable {
    /// The certificate chain, leaf first.
    public let chain: [NIOSSLCertificate]
    /// The private key of the leaf.
    public let privateKey: NIOSSLPrivateKey
    /// SHA-256 of the leaf's DER encoding, which scenarios can pin.
    public let fingerprintSHA256: [UInt8]
    /// The leaf certificate in PEM, so clients can trust it as a CA file.
    public let leafPEM: String

    /// Loads a PEM certificate chain and key (`--tls-cert`, `--tls-key`), checking that they belong together; the
    /// errors name the file and what is wrong with it instead of NIOSSL's `failedToLoadCertificate`.
    public static func load(certificateFile: String, keyFile: String) throws(TLSIdentityError) -> TLSIdentity {
        let certificateBytes = try read(certificateFile, what: "certificate")
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(certificateBytes), let leaf = chain.first else {
            throw TLSIdentityError(
                description: "\(certificateFile) holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            )
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: try read(keyFile, what: "key"), format: .pem)
        } catch let error as TLSIdentityError {
            throw error
        } catch {
            throw TLSIdentityError(description: "\(keyFile) holds no PEM private key, or one protected by a passphrase")
        }
        let der: [UInt8]
        do {
            der = try leaf.toDERBytes()
        } catch {
            throw TLSIdentityError(description: "the certificate in \(certificateFile) cannot be encoded: \(error)")
        }
        let identity = TLSIdentity(
            chain: chain,
            privateKey: key,
            fingerprintSHA256: Array(SHA256.hash(data: der)),
            leafPEM: String(decoding: certificateBytes, as: UTF8.self)
        )
        // The TLS library checks here that the key is the certificate's; later it would fail every handshake.
        do {
            _ = try identity.serverContext()
        } catch {
            throw TLSIdentityError(
                description: "the key in \(keyFile) does not belong to the certificate in \(certificateFile)"
            )
        }
        return identity
    }

    /// A PEM file of at most 1 MiB (a chain of a few certificates is a few KiB; `/dev/zero` never ends).
    private static func read(_ path: String, what: String) throws(TLSIdentityError) -> [UInt8] {
        switch BoundedFile.read(path, limit: 1 << 20) {
        case .bytes(let bytes):
            return bytes
        case .tooLarge:
            throw TLSIdentityError(description: "the \(what) file \(path) is larger than 1 MiB, too large for PEM")
        case .unreadable(let code):
            throw TLSIdentityError(description: "cannot read the \(what) file \(path): \(SystemError.describe(code))")
        }
    }

    /// Generates a self-signed P-256 certificate for `hostname`, `localhost`, 127.0.0.1 and ::1, valid 30 days.
    ///
    /// Key usage has digitalSignature and keyCertSign so that clients accept it both as a leaf and as its own
    /// trust anchor.
    public static func selfSigned(hostname: String) throws -> TLSIdentity {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName(hostname)
            OrganizationName("smtp-scenario mock server")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(30 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([
                    .dnsName(hostname), .dnsName("localhost"),
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(ASN1OctetString(contentBytes: Array(repeating: 0, count: 15) + [1])),
                ])
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        let pem = try certificate.serializeAsPEM().pemString
        let leaf = try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)
        let privateKey = try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)
        let der = try leaf.toDERBytes()
        return TLSIdentity(
            chain: [leaf],
            privateKey: privateKey,
            fingerprintSHA256: Array(SHA256.hash(data: der)),
            leafPEM: pem
        )
    }

    /// The fingerprint as `AB:CD:...`, as `openssl x509 -fingerprint -sha256` prints it.
    public var fingerprintHex: String {
        fingerprintSHA256.map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    func serverContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        // A modern server: TLS 1.2 and 1.3 only, so "refuses TLS 1.0" checks have something to pass against.
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

/// A certificate or key that cannot be used.
public struct TLSIdentityError: Error, CustomStringConvertible {
    public let description: String
}
