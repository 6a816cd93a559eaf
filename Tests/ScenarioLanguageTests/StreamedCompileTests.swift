import Foundation
import LocatedYAML
import ScenarioResults
import Testing

@testable import ScenarioLanguage

/// A large suite is compiled while its YAML is still being read (a second thread composes, items are handed over
/// and freed once compiled). Whatever the layout of the file, that must give exactly what compiling the whole tree
/// gives: the same plan and the same diagnostics.
@Suite("Streamed compilation")
struct StreamedCompileTests {
    private static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Compiles `source` whole and streamed; expects the two to agree, and returns the streamed one.
    @discardableResult
    private func bothWays(
        _ source: String,
        path: String = "suite.yaml",
        directory: String? = nil,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> FileCompilation {
        var whole = CompileOptions()
        whole.streamingThreshold = .max
        var streamed = CompileOptions()
        streamed.streamingThreshold = 0
        let expected = ScenarioCompiler.compile(
            source: source,
            displayPath: path,
            directory: directory,
            options: whole
        )
        let actual = ScenarioCompiler.compile(
            source: source,
            displayPath: path,
            directory: directory,
            options: streamed
        )
        #expect(actual.diagnostics == expected.diagnostics, sourceLocation: sourceLocation)
        #expect(actual.file == expected.file, sourceLocation: sourceLocation)
        #expect(actual.kind == expected.kind, sourceLocation: sourceLocation)
        return actual
    }

    /// What ``FileCompiler/compileStreamed(_:)`` makes of `source`, to see which way it went.
    private func streamedOutcome(_ source: String) -> FileCompiler.StreamedRoot {
        let unit = SourceUnit(displayPath: "suite.yaml", directory: "/tmp", identity: "/tmp/suite.yaml")
        let options = CompileOptions()
        var compiler = FileCompiler(unit: unit, options: options, loader: LibraryLoader(options: options))
        let stream = YAMLDocument.stream(Array(source.utf8), file: "suite.yaml", list: "scenarios")
        defer { stream.cancel() }
        return compiler.compileStreamed(stream)
    }

    private func suite(_ count: Int, header: String = "suite: big\n", footer: String = "") -> String {
        var text = header + "scenarios:\n"
        for index in 0..<count {
            text += """
                  - name: scenario \(index)
                    steps:
                      - {send: "EHLO client.example.org", expect: 250}
                      - {send: "RCPT TO:<${who}@example.com>", expect: {code: 250, text: /ok/i}}

                """
        }
        return text + footer
    }

    @Test func everyShippedScenarioFileCompilesTheSameStreamed() throws {
        let folder = Self.root.appendingPathComponent("scenarios")
        let enumerator = try #require(FileManager.default.enumerator(atPath: folder.path))
        var compared = 0
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".yaml") else { continue }
            let url = folder.appendingPathComponent(relative)
            let source = try String(contentsOf: url, encoding: .utf8)
            bothWays(source, path: relative, directory: url.deletingLastPathComponent().path)
            compared += 1
        }
        #expect(compared > 10)
    }

    @Test func aLargeSuiteIsCompiledWhileItIsRead() throws {
        let source = suite(3000, header: "suite: big\nvars: {who: alice}\n")
        guard case .compiled(.scenarios(let file?)) = streamedOutcome(source) else {
            Issue.record("expected the suite to be compiled streamed")
            return
        }
        #expect(file.scenarios.count == 3000)
        #expect(file.scenarios[2999].name == "scenario 2999")
        let compiled = bothWays(source)
        #expect(compiled.file?.scenarios.count == 3000)
        #expect(compiled.diagnostics.isEmpty)
    }

    @Test func aKeyAfterScenariosCompilesTheWholeFileAgainWithIt() throws {
        // `vars:` after the list defines what the scenarios use: compiling them before it was read would be wrong.
        let source = suite(50, footer: "vars: {who: bob}\n")
        guard case .keyAfterScenarios = streamedOutcome(source) else {
            Issue.record("expected the streamed compile to give way")
            return
        }
        let compiled = bothWays(source)
        #expect(compiled.diagnostics.isEmpty)
        #expect(compiled.file?.scenarios.count == 50)
    }

    @Test func aSecondScenariosKeyIsADuplicateEvenPastSixteenKeys() throws {
        // Past 16 keys the composer checks duplicates with an index, which must hold the streamed key too.
        let source =
            (1...16).map { "k\($0): 1\n" }.joined()
            + "scenarios:\n  - {name: a, steps: [{send: NOOP}]}\nscenarios: []\n"
        guard case .failed(let diagnostic) = streamedOutcome(source) else {
            Issue.record("expected the stream to fail on the duplicate key")
            return
        }
        #expect(diagnostic.message == "duplicate key 'scenarios' in mapping (first at 17:1)")
        bothWays(source)
    }

    @Test func errorsInItemsAndDuplicateNamesAreReportedAlike() throws {
        var source = suite(200, header: "suite: broken\nvars: {who: carol}\n")
        source += """
              - name: scenario 7
                steps: [{send: NOOP, expect: 250}]
              - name: bad code
                steps: [{send: NOOP, expect: 2500}]
              - name: unknown key
                stepz: []
              - just a string

            """
        let compiled = bothWays(source)
        #expect(compiled.file == nil)
        #expect(compiled.diagnostics.filter { $0.severity == .error }.count >= 4)
    }

    @Test func aYAMLErrorAmongTheItemsIsTheOnlyDiagnostic() throws {
        let source = suite(100, header: "suite: x\nvars: {who: dan}\n") + "  - name: [unclosed\n" + suite(5, header: "")
        let compiled = bothWays(source)
        #expect(compiled.diagnostics.count == 1)
        #expect(compiled.diagnostics.first?.code == .yamlSyntax)
    }

    @Test(arguments: [
        "suite: x\nscenarios: []\n",
        "suite: x\nscenarios:\n",
        "suite: x\nscenarios: not a list\n",
        "suite: x\nscenarios: [{name: a, steps: [{send: NOOP}]}]\nscenarios: []\n",
        "name: single\nsteps: [{send: NOOP, expect: 250}]\n",
        "- a\n- b\n",
        "",
        "suite: x\nscenarios: &all\n  - {name: a, steps: [{send: NOOP}]}\nagain: *all\n",
        "suite: x\nscenarios:\n  - &first {name: a, steps: [{send: NOOP}]}\n  - *first\n",
        "suite: x\nscenarios:\n  - {name: a, steps: &s [{send: NOOP}]}\n  - {name: b, steps: *s}\n",
        "suite: x\nscenarios:\n  - {name: a, steps: [{send: NOOP}]}\nunknown: 1\n",
        """
        suite: x
        groups:
          hello: {steps: [{send: EHLO x.example, expect: 250}]}
          unused: {steps: [{send: NOOP}]}
        scenarios:
          - {name: a, steps: [{call: hello}, {send: QUIT, expect: 221}]}
          - {name: b, steps: [{call: helo}]}

        """,
    ])
    func everyLayoutCompilesAlike(_ source: String) {
        bothWays(source)
    }
}
