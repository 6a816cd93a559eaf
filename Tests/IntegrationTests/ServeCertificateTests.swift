import Foundation
import SMTPScenarioTesting
import Testing

/// `serve --tls-cert FILE --tls-key FILE`: the certificate given is the one served and fingerprinted, and a file
/// that cannot be used is named with what is wrong with it (before: NIOSSL's `failedToLoadCertificate` for all).
@Suite("serve with a certificate of its own", .timeLimit(.minutes(1)))
struct ServeCertificateTests {
    /// `openssl`, which makes the test certificates (installed with Postfix's test dependencies).
    private func openssl() throws -> String {
        if let path = ProcessRunner.which("openssl") { return path }
        if Paths.inCI { throw FixtureError(description: "CI=true but openssl is not installed") }
        try Test.cancel("openssl is not installed (scripts/install-test-deps installs it)")
    }

    /// A self-signed P-256 certificate for `name` in DIRECTORY/NAME.pem, its key in DIRECTORY/NAME.key.
    private func makeCertificate(_ name: String, in directory: URL) async throws {
        let result = try await ProcessRunner.run(
            try openssl(),
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=\(name)", "-keyout", "\(name).key", "-out", "\(name).pem",
            ],
            currentDirectory: directory
        )
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func theGivenCertificateIsServedAndItsFingerprintPrinted() async throws {
        let directory = try Paths.temporaryDirectory("serve-cert")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await makeCertificate("given", in: directory)
        let fingerprint = try await ProcessRunner.run(
            try openssl(),
            ["x509", "-in", "given.pem", "-noout", "-fingerprint", "-sha256"],
            currentDirectory: directory
        )
        let expected = try #require(fingerprint.stdout.split(separator: "=").last).trimmingCharacters(
            in: .whitespacesAndNewlines
        )

        let port = try Ports.free()
        let tlsPort = try Ports.free()
        let server = try BackgroundProcess(
            Paths.binary.path,
            [
                "serve", "--listen", "127.0.0.1:\(port)", "--tls-listen", "127.0.0.1:\(tlsPort)",
                "--tls-cert", "given.pem", "--tls-key", "given.key",
            ],
            currentDirectory: directory
        )
        do {
            let banner = try await server.waitForOutput(containing: "fingerprint")
            #expect(banner.contains("TLS certificate SHA-256 fingerprint: \(expected)\n"), "\(banner)")
            let handshake = try await ProcessRunner.run(
                try openssl(),
                ["s_client", "-connect", "127.0.0.1:\(tlsPort)", "-servername", "localhost"],
                timeout: .seconds(20)
            )
            #expect(handshake.stdout.contains("subject=CN = given"), "\(handshake.stdout)")
        } catch {
            await server.stop()
            throw error
        }
        #expect(await server.stop(signal: SIGINT) == 0)
        #expect(server.output.contains("interrupted: stopping the server"), "\(server.output)")
    }

    @Test func aCertificateOrKeyThatCannotBeUsedIsNamedWithWhatIsWrong() async throws {
        let directory = try Paths.temporaryDirectory("serve-cert-errors")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await makeCertificate("a", in: directory)
        try await makeCertificate("b", in: directory)
        try "not a certificate\n".write(
            to: directory.appendingPathComponent("junk.pem"),
            atomically: true,
            encoding: .utf8
        )
        let cases: [(certificate: String, key: String, message: String)] = [
            ("a.pem", "b.key", "the key in b.key does not belong to the certificate in a.pem"),
            ("junk.pem", "a.key", "junk.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            ("a.pem", "junk.pem", "junk.pem holds no PEM private key, or one protected by a passphrase"),
            ("none.pem", "a.key", "cannot read the certificate file none.pem: no such file or directory"),
            ("/dev/zero", "a.key", "the certificate file /dev/zero is larger than 1 MiB, too large for PEM"),
        ]
        for (certificate, key, message) in cases {
            let result = try await ProcessRunner.smtpScenario(
                ["serve", "--listen", "127.0.0.1:\(try Ports.free())", "--tls-cert", certificate, "--tls-key", key],
                currentDirectory: directory,
                timeout: .seconds(20)
            )
            #expect(result.status == 2)
            #expect(result.stderr == "error: cannot load the TLS certificate and key: \(message)\n", "\(result.stderr)")
        }
    }
}
