import Foundation
import LocatedYAML
import NIOCore
import NIOSSL
import SMTPWire
import ScenarioLanguage
import ScenarioResults

/// STARTTLS (RFC 3207) and implicit TLS (RFC 8314).
extension ScenarioExecution {
    /// A `starttls` step: STARTTLS and its 220 (unless `command: false`), then the handshake and TLS checks.
    nonisolated(nonsending) func startTLS(_ action: StartTLSAction, step: Step, at site: Site) async throws(Stop) {
        var tlsExpectation: TLSExpectation?
        if case .reply(let reply) = step.expectation { tlsExpectation = reply.tls }
        if action.sendsCommand {
            sent("STARTTLS")
            var buffer = ByteBuffer()
            SMTPCommandLine.encode("STARTTLS", into: &buffer)
            var commandExpectation = step.expectation
            if case .reply(var reply) = commandExpectation {
                reply.tls = nil
                commandExpectation = .reply(reply)
            }
            let replyStep = Step(
                position: step.position,
                name: step.name,
                action: step.action,
                expectation: commandExpectation,
                captures: step.captures,
                timeout: step.timeout,
                location: step.location
            )
            _ = try await exchange(buffer, step: replyStep, at: site)
        }
        _ = try await handshake(tlsExpectation: tlsExpectation, at: site)
    }

    /// Runs the TLS handshake on the current connection and checks `tlsExpectation`.
    ///
    /// Returns true when the handshake failed as the expectation demanded (the connection is then closed).
    nonisolated(nonsending) func handshake(tlsExpectation: TLSExpectation?, at site: Site) async throws(Stop) -> Bool {
        func stop(_ kind: StepFailure.Kind, _ expected: String?, _ actual: String, _ cleanup: Cleanup) -> Stop {
            self.stop(kind, at: site, expected: expected, actual: actual, cleanup: cleanup)
        }
        guard let connection else { throw stop(.connection, nil, "no connection", .drop) }
        let setup: (NIOSSLContext, String?, TLSVerification)
        do {
            setup = try TLSClientSetup.make(
                options: scenario.tls,
                pin: connectedEndpoint.trustedCertificateSHA256,
                host: connectedHost
            )
        } catch {
            throw stop(.setup, nil, error.description, .drop)
        }
        let mustFail = tlsExpectation?.handshakeMustFail ?? false
        note("TLS handshake" + (setup.1.map { " (server name \($0))" } ?? ""))
        let info: TLSSessionInfo
        do {
            info = try await connection.startTLS(
                context: setup.0,
                serverHostname: setup.1,
                verification: setup.2,
                timeout: scenario.replyTimeout
            )
        } catch let early as PlaintextBeforeHandshake {
            // RFC 3207 4.2 and CVE-2011-0411: plaintext sent after the 220 must never be read inside TLS.
            let bytes = early.bytes
            received(ByteEscaping.escaped(bytes) + " (plaintext before the TLS handshake)")
            throw stop(
                .tls,
                "nothing between the 220 and the TLS handshake",
                "the server sent \(bytes.count) bytes in plaintext before the handshake: \"\(ByteEscaping.escaped(bytes.prefix(200)))\"",
                .drop
            )
        } catch {
            note(String(describing: error))
            if mustFail {
                note("the handshake failed, as expected")
                await dropConnection()
                return true
            }
            if Task.isCancelled { throw stop(.interrupted, nil, "interrupted", .drop) }
            throw stop(.tls, "a successful TLS handshake", String(describing: error), .drop)
        }
        ehloReply = nil
        let summary = info.leafDER.flatMap(CertificateSummary.init(der:))
        let version = info.version.map(TLSClientSetup.scenarioVersion)
        note("TLS established: version \(version?.rawValue ?? "unknown")")
        if let summary {
            note("certificate subject \(summary.subject); issuer \(summary.issuer)")
            note(
                "certificate names \(summary.names.joined(separator: ", ")); expires \(Self.format(summary.notValidAfter))"
            )
        }
        if mustFail {
            throw stop(
                .tls,
                "the TLS handshake to fail",
                "it succeeded with TLS \(version?.rawValue ?? "?")",
                .politeQuit
            )
        }
        if let tlsExpectation,
            let mismatch = Self.mismatch(tlsExpectation, version: version, certificate: summary, lookup: lookup)
        {
            throw stop(.tls, mismatch.expected, mismatch.actual, .politeQuit)
        }
        return false
    }

    private static func mismatch(
        _ expectation: TLSExpectation,
        version: ScenarioLanguage.TLSVersion?,
        certificate: CertificateSummary?,
        lookup: (String) -> String?
    ) -> (expected: String, actual: String)? {
        if let required = expectation.version {
            let ok: Bool
            switch required {
            case .exactly(let wanted): ok = version == wanted
            case .atLeast(let wanted): ok = version.map { $0 >= wanted } ?? false
            }
            if !ok { return ("TLS \(required)", "TLS \(version?.rawValue ?? "unknown")") }
        }
        let needsCertificate =
            !expectation.certificateNames.isEmpty || expectation.validForAtLeast != nil || expectation.issuer != nil
        guard needsCertificate else { return nil }
        guard let certificate else { return ("a server certificate", "no certificate could be read") }
        let names = expectation.certificateNames.map { $0.resolve(lookup) }
        let uncovered = names.filter { !certificate.covers($0) }
        if !uncovered.isEmpty {
            return (
                "a certificate valid for \(names.joined(separator: ", "))",
                "a certificate for \(certificate.names.joined(separator: ", ")), which does not cover \(uncovered.joined(separator: ", "))"
            )
        }
        if let minimum = expectation.validForAtLeast {
            let seconds = Double(minimum.components.seconds)
            let remaining = certificate.notValidAfter.timeIntervalSinceNow
            if remaining < seconds {
                let days = (remaining / 86_400 * 10).rounded() / 10
                return (
                    "a certificate valid for at least \(DurationSyntax.format(minimum))",
                    "a certificate that expires \(format(certificate.notValidAfter)) (in \(days) days)"
                )
            }
        }
        if let issuer = expectation.issuer, !ReplyCheck.textMatches(issuer, certificate.issuer, lookup: { _ in nil }) {
            return (
                "an issuer with \(ReplyCheck.describeMatch(issuer, lookup: { _ in nil }))",
                "issuer \(certificate.issuer)"
            )
        }
        return nil
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
