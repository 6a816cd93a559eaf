import Foundation
import LocatedYAML
import MockServer
import SMTPScenarioApp
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner

/// Helpers to run scenarios in-process: compile YAML text, start a mock, collect results.
public enum Harness {
    /// A compile failure, with its diagnostics as text.
    public struct CompileFailure: Error, CustomStringConvertible {
        public let diagnostics: [Diagnostic]
        public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
    }

    /// Compiles `yaml` (shown as `file`) or throws its diagnostics.
    public static func compile(
        _ yaml: String,
        file: String = "test.yaml",
        options: CompileOptions = CompileOptions()
    ) throws -> ScenarioFile {
        let compilation = ScenarioCompiler.compile(source: yaml, displayPath: file, options: options)
        guard let compiled = compilation.file else { throw CompileFailure(diagnostics: compilation.diagnostics) }
        return compiled
    }

    /// Compiles and runs `yaml` against `server` (default: a fresh embedded mock with the default policy).
    public static func run(
        _ yaml: String,
        server: ServerTarget? = nil,
        options: CompileOptions = CompileOptions(),
        configure: (inout RunOptions) -> Void = { _ in }
    ) async throws -> RunResult {
        let file = try compile(yaml, options: options)
        let resolver = EmbeddedMockResolver()
        var runOptions = RunOptions()
        runOptions.serverOverride = server
        runOptions.messageLookup = resolver
        configure(&runOptions)
        let result = await PlanRunner.collect(Plan(files: [file]), options: runOptions, resolver: resolver)
        await resolver.shutdown()
        return result
    }

    /// Starts a mock with `policy` on a free port; stop it with `shutdown()`.
    public static func startMock(
        _ policy: MockPolicy = MockPolicy(),
        implicitTLS: Bool = false,
        store: URL? = nil
    ) async throws -> MockServer {
        var configuration = MockServer.Configuration()
        configuration.policy = policy
        configuration.implicitTLSPort = implicitTLS ? 0 : nil
        configuration.storeDirectory = store
        return try await MockServer.start(configuration)
    }

    /// Runs `body` with a mock started from `policy`, always shutting it down.
    public static func withMock<T>(
        _ policy: MockPolicy = MockPolicy(),
        implicitTLS: Bool = false,
        store: URL? = nil,
        _ body: (MockServer) async throws -> T
    ) async throws -> T {
        let server = try await startMock(policy, implicitTLS: implicitTLS, store: store)
        do {
            let value = try await body(server)
            await server.shutdown()
            return value
        } catch {
            await server.shutdown()
            throw error
        }
    }
}

/// Resolves every target to one fixed endpoint (a scripted server, a mock with a pinned certificate).
public struct FixedResolver: ServerResolver {
    let endpoint: Endpoint

    /// Creates a resolver that always answers `endpoint`.
    public init(_ endpoint: Endpoint) { self.endpoint = endpoint }

    public func endpoint(for target: ServerTarget) async throws -> Endpoint { endpoint }
}

extension Harness {
    /// Runs `yaml` against a fixed endpoint (scripted server or a mock started by the test).
    public static func run(
        _ yaml: String,
        endpoint: Endpoint,
        options: CompileOptions = CompileOptions(),
        configure: (inout RunOptions) -> Void = { _ in }
    ) async throws -> RunResult {
        let file = try compile(yaml, options: options)
        var runOptions = RunOptions()
        configure(&runOptions)
        return await PlanRunner.collect(Plan(files: [file]), options: runOptions, resolver: FixedResolver(endpoint))
    }

    /// The endpoint of a started mock, trusting its certificate.
    public static func endpoint(of server: MockServer, implicitTLS: Bool = false) -> Endpoint {
        Endpoint(
            host: server.host,
            port: implicitTLS ? server.implicitTLSPort! : server.port,
            implicitTLS: implicitTLS,
            displayName: "test mock",
            trustedCertificateSHA256: server.identity.fingerprintSHA256
        )
    }
}

/// A reporter that hands each result to a closure (for tests that watch results arrive).
public struct ClosureReporter: Reporter {
    let onResult: @Sendable (ScenarioResult) async -> Void

    /// Creates a reporter calling `onResult` for every result.
    public init(_ onResult: @escaping @Sendable (ScenarioResult) async -> Void) { self.onResult = onResult }

    public func scenarioFinished(_ result: ScenarioResult) async { await onResult(result) }
    public func runFinished(_ summary: RunSummary) async {}
    /// Tests see results whole.
    public var usesStepRecords: Bool { true }
}

extension Harness {
    /// Runs `plan`, calling `onResult` for each result as it is reported, and returns the collected run.
    public static func run(
        _ plan: Plan,
        options: RunOptions,
        resolver: any ServerResolver,
        onResult: @escaping @Sendable (ScenarioResult) async -> Void
    ) async -> RunResult {
        let collector = CollectingReporter()
        await PlanRunner.run(
            plan,
            options: options,
            resolver: resolver,
            reporter: ReporterGroup([ClosureReporter(onResult), collector])
        )
        return await collector.run
    }
}
