import Foundation
import MockServer
import Reports
import SMTPWire
import ScenarioLanguage
import Synchronization

/// `smtp-scenario serve`: the mock server standalone, for testing mail clients and applications. Loads the policy
/// (its errors located like scenario errors), starts the listeners, prints a readiness banner and one timestamped
/// line per session, and stops when told to.
public enum ServePipeline {
    /// What `serve` was asked to do.
    public struct Configuration: Sendable {
        /// Plain SMTP (with STARTTLS): `HOST:PORT`.
        public var listen = "127.0.0.1:2525"
        /// Implicit TLS (RFC 8314), on the same host: `HOST:PORT`.
        public var tlsListen: String?
        /// A policy file (schemas/mock.schema.json).
        public var policyFile: String?
        /// Where accepted messages go as `.eml` files.
        public var storeDirectory: String?
        /// A PEM certificate chain and key; without them a self-signed certificate is made at start.
        public var certificateFile: String?
        public var keyFile: String?

        /// The defaults.
        public init() {}
    }

    /// Serves until `waitForStop` returns, then shuts down and prints `stopped`. Returns the exit code: 0, or 2
    /// for a bad address, policy or certificate (with the reason on standard error).
    public static func run(
        _ configuration: Configuration,
        output: ConsoleOutput,
        waitForStop: @Sendable () async -> Void
    ) async -> Int32 {
        // Session lines go through a queue with a thread of its own: written straight from the event loop, a
        // reader that stops reading (a paused pager, a stalled pipe) froze every session once its pipe was full.
        let log = QueuedLineWriter(output: output.out)
        defer { log.finish() }
        let server: MockServer
        do {
            server = try await MockServer.start(try mockConfiguration(configuration, output: output, log: log))
        } catch let error as UsageError {
            output.err("error: \(error.description)\n")
            return ExitCode.usage
        } catch {
            output.err("error: cannot start the mock server: \(error)\n")
            return ExitCode.usage
        }
        let host = server.host
        var banner = "smtp-scenario mock server listening on \(HostPort.text(host, server.port))"
        if let tlsPort = server.implicitTLSPort { banner += ", implicit TLS on \(HostPort.text(host, tlsPort))" }
        banner += "\nTLS certificate SHA-256 fingerprint: \(server.identity.fingerprintHex)\n"
        if let store = configuration.storeDirectory { banner += "storing accepted messages in \(store)\n" }
        log.write(banner)
        await waitForStop()
        await server.shutdown()
        log.finish()
        output.out("stopped\n")
        return ExitCode.success
    }

    /// A configuration the command line got wrong.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func mockConfiguration(
        _ configuration: Configuration,
        output: ConsoleOutput,
        log: QueuedLineWriter
    ) throws -> MockServer.Configuration {
        guard case .remote(let host, let port, _)? = ServerTarget.parse(configuration.listen, relativeTo: ".") else {
            throw UsageError(description: "--listen \(configuration.listen) is not HOST:PORT")
        }
        var mock = MockServer.Configuration()
        mock.host = host
        mock.port = port
        if let tlsListen = configuration.tlsListen {
            guard case .remote(let tlsHost, let tlsPort, _)? = ServerTarget.parse(tlsListen, relativeTo: "."),
                tlsHost == host
            else {
                throw UsageError(
                    description: "--tls-listen \(tlsListen) must be HOST:PORT on the same host as --listen"
                )
            }
            mock.implicitTLSPort = tlsPort
        }
        if let file = configuration.policyFile {
            let loaded = MockPolicy.load(path: file)
            for diagnostic in loaded.diagnostics { output.err(diagnostic.description + "\n") }
            guard let policy = loaded.policy else {
                throw UsageError(description: "the policy file \(file) has errors; nothing was started")
            }
            mock.policy = policy
        }
        switch (configuration.certificateFile, configuration.keyFile) {
        case (let certificate?, let key?):
            do {
                mock.identity = try TLSIdentity.load(certificateFile: certificate, keyFile: key)
            } catch {
                throw UsageError(description: "cannot load the TLS certificate and key: \(error)")
            }
        case (nil, nil):
            break
        default:
            throw UsageError(description: "--tls-cert and --tls-key go together")
        }
        mock.storeDirectory = configuration.storeDirectory.map { URL(fileURLWithPath: $0) }
        mock.messagesKeptInMemory = 0
        let clock = LogClock()
        mock.log = { line in
            let stamp = clock.now()
            var text = ""
            text.reserveCapacity(stamp.utf8.count + line.utf8.count + 2)
            text += stamp
            text += " "
            text += line
            text += "\n"
            log.write(text)
        }
        return mock
    }

    /// The log lines' time, `2026-11-29T05:07:13Z`, formatted once a second rather than once a line: at a few
    /// thousand sessions a second, strftime and its buffers were 2,000 instructions of every session.
    final class LogClock: Sendable {
        private let last = Mutex<(second: time_t, text: String)>((-1, ""))

        func now() -> String {
            let seconds = time(nil)
            return last.withLock { last in
                if last.second != seconds { last = (seconds, ServePipeline.timestamp(seconds)) }
                return last.text
            }
        }
    }

    /// `2026-11-29T05:07:13Z` for `seconds` since the epoch, without the cost of a formatter.
    static func timestamp(_ seconds: time_t) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
