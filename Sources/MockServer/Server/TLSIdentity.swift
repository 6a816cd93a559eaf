import Crypto
import Foundation
import NIOSSL
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

    /// Loads a PEM certificate chain and key (`--tls-cert`, `--tls-key`).
    public static func load(certificateFile: String, keyFile: String) throws -> TLSIdentity {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        guard let leaf = chain.first else {
            throw TLSIdentityError(description: "no certificate in \(certificateFile)")
        }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        let der = try leaf.toDERBytes()
        let pem = try String(contentsOfFile: certificateFile, encoding: .utf8)
        return TLSIdentity(
            chain: chain,
            privateKey: key,
            fingerprintSHA256: Array(SHA256.hash(data: der)),
            leafPEM: pem
        )
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
