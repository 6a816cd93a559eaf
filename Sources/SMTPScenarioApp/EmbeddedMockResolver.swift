import Foundation
import LocatedYAML
import MockServer
import ScenarioLanguage
import ScenarioRunner

/// Resolves servers for a run, starting the embedded mock server on demand: one per policy file, on a free
/// 127.0.0.1 port, shared by every scenario of the run (so greylisting state carries over reconnects).
public actor EmbeddedMockResolver: ServerResolver {
    /// A policy file that could not be loaded; its diagnostics are located like scenario errors.
    public struct PolicyError: Error, CustomStringConvertible {
        public let diagnostics: [Diagnostic]
        public var description: String {
            "invalid mock policy:\n" + diagnostics.map(\.description).joined(separator: "\n")
        }
    }

    private var servers: [String: Task<MockServer, Error>] = [:]
    private let log: @Sendable (String) -> Void

    /// Creates a resolver; `log` receives the mock's session lines (discarded by default).
    public init(log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.log = log
    }

    public func endpoint(for target: ServerTarget) async throws -> Endpoint {
        switch target {
        case .remote(let host, let port, let implicitTLS):
            return Endpoint(host: host, port: port, implicitTLS: implicitTLS)
        case .mock(let policyFile):
            let server = try await server(policyFile: policyFile)
            let name = policyFile.map { "mock:\(URL(fileURLWithPath: $0).lastPathComponent)" } ?? "mock"
            return Endpoint(
                host: server.host,
                port: server.port,
                displayName: "\(name) (\(server.host):\(server.port))",
                trustedCertificateSHA256: server.identity.fingerprintSHA256
            )
        }
    }

    /// The mock for `policyFile` (nil: the default policy), started on first use.
    public func server(policyFile: String?) async throws -> MockServer {
        let key = policyFile ?? ""
        if let existing = servers[key] { return try await existing.value }
        let log = self.log
        let task = Task<MockServer, Error> {
            var configuration = MockServer.Configuration()
            if let policyFile {
                let display = ScenarioCompiler.displayPath(
                    for: policyFile,
                    workingDirectory: FileManager.default.currentDirectoryPath
                )
                let loaded = MockPolicy.load(path: policyFile, displayPath: display)
                guard let policy = loaded.policy else { throw PolicyError(diagnostics: loaded.diagnostics) }
                configuration.policy = policy
            }
            configuration.log = log
            return try await MockServer.start(configuration)
        }
        servers[key] = task
        return try await task.value
    }

    /// Stops every mock started.
    public func shutdown() async {
        for task in servers.values {
            if let server = try? await task.value { await server.shutdown() }
        }
        servers = [:]
    }
}
