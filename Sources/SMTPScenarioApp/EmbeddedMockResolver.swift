import Foundation
import LocatedYAML
import MockServer
import SMTPWire
import ScenarioLanguage
import ScenarioRunner

/// Resolves servers for a run, starting the embedded mock server on demand: one per policy file, on a free
/// 127.0.0.1 port, shared by every scenario of the run (so greylisting state carries over reconnects). Each mock
/// keeps the messages it accepts in a temporary folder (never in memory), removed at shutdown; `delivered` steps
/// find them there by queue id.
public actor EmbeddedMockResolver: ServerResolver, StoredMessageLookup {
    /// A policy file that could not be loaded; its diagnostics are located like scenario errors.
    public struct PolicyError: Error, CustomStringConvertible {
        public let diagnostics: [Diagnostic]
        public var description: String {
            "invalid mock policy:\n" + diagnostics.map(\.description).joined(separator: "\n")
        }
    }

    private var servers: [String: Task<MockServer, Error>] = [:]
    private var storeFolders: [URL] = []
    private let log: (@Sendable (String) -> Void)?
    private let network: NetworkServerResolver

    /// Creates a resolver; `log` receives the mock's session lines (discarded by default); `mx:` lookups ask
    /// `dnsServer` (nil: the system's resolver).
    public init(dnsServer: DNSServer? = nil, log: (@Sendable (String) -> Void)? = nil) {
        self.log = log
        self.network = NetworkServerResolver(dnsServer: dnsServer)
    }

    /// The resolver itself: its mocks' stores.
    public nonisolated var messageLookup: (any StoredMessageLookup)? { self }

    public func endpoint(for target: ServerTarget) async throws -> Endpoint {
        switch target {
        case .remote, .mx:
            return try await network.endpoint(for: target)
        case .mock(let policyFile):
            let server = try await server(policyFile: policyFile)
            let name = policyFile.map { "mock:\(URL(fileURLWithPath: $0).lastPathComponent)" } ?? "mock"
            return Endpoint(
                host: server.host,
                port: server.port,
                displayName: "\(name) (\(HostPort.text(server.host, server.port)))",
                trustedCertificateSHA256: server.identity.fingerprintSHA256
            )
        }
    }

    /// The mock for `policyFile` (nil: the default policy), started on first use.
    public func server(policyFile: String?) async throws -> MockServer {
        let key = policyFile ?? ""
        if let existing = servers[key] { return try await existing.value }
        let log = self.log
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "smtp-scenario-mock-\(UUID().uuidString)"
        )
        storeFolders.append(folder)
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
            configuration.storeDirectory = folder
            configuration.messagesKeptInMemory = 0
            do {
                return try await MockServer.start(configuration)
            } catch var error as MockServerStartError where error.kind == .storeFolder {
                error.hint =
                    "the embedded mock keeps accepted messages under TMPDIR (\(folder.deletingLastPathComponent().path)); set TMPDIR to a writable folder"
                throw error
            }
        }
        servers[key] = task
        return try await task.value
    }

    /// The message a mock of this run accepted with queue id `id`, once it is stored.
    public func message(withID id: String) async -> [UInt8]? {
        for task in servers.values {
            if let server = try? await task.value, let data = server.store.data(forID: id) { return data }
        }
        return nil
    }

    /// Stops every mock started and removes the messages they stored.
    public func shutdown() async {
        for task in servers.values {
            if let server = try? await task.value { await server.shutdown() }
        }
        servers = [:]
        for folder in storeFolders { try? FileManager.default.removeItem(at: folder) }
        storeFolders = []
    }
}
