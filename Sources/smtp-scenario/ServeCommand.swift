import ArgumentParser
import Foundation
import MockServer
import ScenarioLanguage

/// `smtp-scenario serve`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the mock SMTP server standalone, for testing mail clients and applications.",
        discussion: """
            Prints one log line per session; stops cleanly on SIGINT or SIGTERM. \
            Without --tls-cert/--tls-key a self-signed certificate is generated at start; its SHA-256 fingerprint \
            is printed so scenarios can pin it (tls: {pin-sha256: ...}).

            Example:
              smtp-scenario serve --listen 127.0.0.1:2525 --store ./mail
            """
    )

    @Option(help: ArgumentHelp("Address for plain SMTP with STARTTLS.", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:2525"

    @Option(help: ArgumentHelp("Also listen with implicit TLS (RFC 8314) here.", valueName: "HOST:PORT"))
    var tlsListen: String?

    @Option(help: ArgumentHelp("Policy file (see schemas/mock.schema.json).", valueName: "FILE"))
    var config: String?

    @Option(help: ArgumentHelp("Write each accepted message here as a .eml file.", valueName: "DIR"))
    var store: String?

    @Option(help: ArgumentHelp("PEM certificate chain for TLS.", valueName: "FILE"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key for TLS.", valueName: "FILE"))
    var tlsKey: String?

    /// `2026-11-29T05:07:13Z`, without the cost of a formatter per line.
    static func timestamp() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() async throws {
        guard case .remote(let host, let port, _)? = ServerTarget.parse(listen, relativeTo: ".") else {
            throw ValidationError("--listen \(listen) is not HOST:PORT")
        }
        var configuration = MockServer.Configuration()
        configuration.host = host
        configuration.port = port
        if let tlsListen {
            guard case .remote(let tlsHost, let tlsPort, _)? = ServerTarget.parse(tlsListen, relativeTo: "."),
                tlsHost == host
            else { throw ValidationError("--tls-listen \(tlsListen) must be HOST:PORT on the same host as --listen") }
            configuration.implicitTLSPort = tlsPort
        }
        if let config {
            let loaded = MockPolicy.load(path: config)
            for diagnostic in loaded.diagnostics {
                FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
            }
            guard let policy = loaded.policy else { throw ExitCode(2) }
            configuration.policy = policy
        }
        if let tlsCert, let tlsKey {
            configuration.identity = try TLSIdentity.load(certificateFile: tlsCert, keyFile: tlsKey)
        }
        configuration.storeDirectory = store.map { URL(fileURLWithPath: $0) }
        configuration.messagesKeptInMemory = 0
        configuration.log = { line in
            FileHandle.standardOutput.write(Data("\(Self.timestamp()) \(line)\n".utf8))
        }
        let server = try await MockServer.start(configuration)
        var banner = "smtp-scenario mock server listening on \(host):\(server.port)"
        if let tlsPort = server.implicitTLSPort { banner += ", implicit TLS on \(host):\(tlsPort)" }
        banner += "\nTLS certificate SHA-256 fingerprint: \(server.identity.fingerprintHex)\n"
        if let store { banner += "storing accepted messages in \(store)\n" }
        // Unbuffered, so a supervisor (or a test) sees readiness at once even when output is a file.
        FileHandle.standardOutput.write(Data(banner.utf8))
        let signal = await Interruption.run {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }.signal
        await server.shutdown()
        FileHandle.standardOutput.write(Data("stopped\n".utf8))
        if signal != nil { throw ExitCode.success }
    }
}
