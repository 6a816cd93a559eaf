import Foundation
import LocatedYAML
import MockServer
import SMTPScenarioApp
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

/// Debian's python3 (python3-jsonschema, python3-yaml) when installed, else the first on the PATH.
let pythonWithJSONSchema: String? =
    FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    ? "/usr/bin/python3" : ProcessRunner.which("python3")

@Suite("Shipped scenarios and schemas", .timeLimit(.minutes(2)))
struct ShippedScenarioTests {
    @Test func everyShippedScenarioPassesAgainstTheEmbeddedMock() async throws {
        let directory = try Paths.temporaryDirectory("shipped")
        defer { try? FileManager.default.removeItem(at: directory) }
        let junit = directory.appendingPathComponent("report.xml")
        let result = try await ProcessRunner.smtpScenario([
            "run", "scenarios/", "--junit", junit.path, "--color", "never",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(" 0 failed, 0 skipped"))
        let validation = try await JUnitValidation.validate(junit)
        #expect(validation.ok, "\(validation.output)")
    }

    /// The same main job as an ordinary user. Tests run as root in CI, where any socket option is allowed: the
    /// mock once set SO_DEBUG (`.socketOption(.tcp_nodelay)`, level SOL_SOCKET) instead of TCP_NODELAY on every
    /// accepted connection, which only root may set, so for everyone else it closed every connection at once and
    /// every scenario failed. Run as `nobody` (through setpriv) when the tests run as root.
    @Test func everyShippedScenarioPassesForAnUnprivilegedUser() async throws {
        let directory = try Paths.temporaryDirectory("unprivileged")
        defer { try? FileManager.default.removeItem(at: directory) }
        let manager = FileManager.default
        let binary = directory.appendingPathComponent("smtp-scenario")
        // Copied by cp, not in this process: a file this process has open for writing is inherited by any child
        // another test forks meanwhile, and executing it then fails with ETXTBSY.
        let copy = try await ProcessRunner.run("/bin/cp", [Paths.binary.path, binary.path])
        try #require(copy.status == 0, "\(copy.stderr)")
        for folder in ["scenarios", "mocks"] {
            try manager.copyItem(
                at: Paths.repositoryRoot.appendingPathComponent(folder),
                to: directory.appendingPathComponent(folder)
            )
        }
        let scratch = directory.appendingPathComponent("tmp")
        try manager.createDirectory(at: scratch, withIntermediateDirectories: false)
        // Readable by anyone (copies keep the owner's modes; the directory itself is private), writable in tmp/.
        try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        try manager.setAttributes([.posixPermissions: 0o777], ofItemAtPath: scratch.path)
        let environment = ["PATH": "/usr/bin:/bin", "TMPDIR": scratch.path, "HOME": scratch.path]
        var command = [binary.path, "run", "scenarios/", "--color", "never"]
        if getuid() == 0 {
            guard let setpriv = ProcessRunner.which("setpriv") else {
                if Paths.inCI { throw FixtureError(description: "CI=true but setpriv (util-linux) is not installed") }
                try Test.cancel("setpriv (util-linux) is not installed: cannot run as an unprivileged user")
            }
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] + command
        }
        let result = try await ProcessRunner.run(
            command[0],
            Array(command.dropFirst()),
            environment: environment,
            currentDirectory: directory
        )
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(" 0 failed, 0 skipped"), "\(result.stdout)")
    }

    @Test func theCompilerAcceptsEveryShippedFileAndTheSchemaDoesToo() async throws {
        let files = try ScenarioDiscovery.files(in: [Paths.scenarios.path])
        #expect(files.count >= 14)
        for file in files {
            let compilation = ScenarioCompiler.compile(path: file, options: CompileOptions())
            #expect(!compilation.hasErrors, "\(compilation.diagnostics)")
            #expect(
                compilation.diagnostics.isEmpty,
                "shipped files have no warnings either: \(compilation.diagnostics)"
            )
        }
        let python = try #require(pythonWithJSONSchema)
        let schemas = try await ProcessRunner.run(
            python,
            [Paths.repositoryRoot.appendingPathComponent("scripts/check-schemas").path]
        )
        #expect(schemas.status == 0, "\(schemas.stdout)\(schemas.stderr)")
    }

    @Test func theSchemaRejectsWhatTheCompilerRejects() async throws {
        let directory = try Paths.temporaryDirectory("schema")
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.yaml")
        try "# yaml-language-server: $schema=x\nname: x\nsteps:\n  - send: EHLO a\n    expct: 250\n".write(
            to: broken,
            atomically: true,
            encoding: .utf8
        )
        let python = try #require(pythonWithJSONSchema)
        let result = try await ProcessRunner.run(
            python,
            [Paths.repositoryRoot.appendingPathComponent("scripts/check-schemas").path, broken.path]
        )
        #expect(result.status == 1)
        #expect(result.stdout.contains("broken.yaml: steps/0"))
    }

    @Test func mockPolicyFilesLoad() throws {
        let folder = Paths.repositoryRoot.appendingPathComponent("mocks")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".yaml") {
            let loaded = MockPolicy.load(path: folder.appendingPathComponent(name).path)
            #expect(loaded.policy != nil && loaded.diagnostics.isEmpty, "\(name): \(loaded.diagnostics)")
        }
    }

    @Test func theBuiltInRelayPackIsTheShippedFile() throws {
        let shipped = try String(
            contentsOf: Paths.scenarios.appendingPathComponent("security/open-relay.yaml"),
            encoding: .utf8
        )
        #expect(
            RelayCheck.builtInPack == shipped,
            "regenerate Sources/SMTPScenarioApp/RelayPack.swift from the scenario file"
        )
    }
}
