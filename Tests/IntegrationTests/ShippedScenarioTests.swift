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
