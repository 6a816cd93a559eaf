import LocatedYAML
import ScenarioResults
import Testing

@testable import ScenarioLanguage

/// Compiles `yaml` and returns its diagnostics.
func diagnostics(_ yaml: String, options: CompileOptions = CompileOptions()) -> [Diagnostic] {
    ScenarioCompiler.compile(source: yaml, displayPath: "t.yaml", options: options).diagnostics
}

/// The only error of `yaml` (fails the test when there is not exactly one).
func onlyError(
    _ yaml: String,
    options: CompileOptions = CompileOptions(),
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> Diagnostic? {
    let errors = diagnostics(yaml, options: options).filter { $0.severity == .error }
    #expect(errors.count == 1, "errors: \(errors.map(\.description))", sourceLocation: sourceLocation)
    return errors.first
}

@Suite("Compiler diagnostics: located, explained")
struct CompilerErrorTests {
    @Test func unknownKeySuggestsTheIntendedOne() throws {
        let error = try #require(
            onlyError(
                """
                name: x
                steps:
                  - send: EHLO a
                    expct: 250
                """
            )
        )
        #expect(error.code == .unknownKey)
        #expect(error.location.description == "t.yaml:4:5")
        #expect(error.hint == "did you mean 'expect'?")
        #expect(error.description.hasPrefix("t.yaml:4:5: error: unknown key 'expct' in step 1"))
    }

    @Test func wrongTypeSaysWhatWasExpected() throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - send: [EHLO, a]\n"))
        #expect(error.code == .wrongType)
        #expect(error.location.description == "t.yaml:3:11")
        #expect(error.message == "send must be a string, found a list")
    }

    @Test func badDurationListsTheAcceptedForms() throws {
        let error = try #require(onlyError("name: x\ntimeout: 5 minutes\nsteps: []\n"))
        #expect(error.code == .badDuration)
        #expect(error.location.description == "t.yaml:2:10")
        #expect(error.hint?.contains("500ms, 5s, 2m") == true)
    }

    @Test(arguments: ["6xx", "25", "2500", "abc", "199"])
    func badReplyCodes(_ code: String) throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - send: NOOP\n    expect: \(code)\n"))
        #expect(error.code == .badReply)
        #expect(error.location.description == "t.yaml:4:13")
    }

    @Test func badEnhancedCode() throws {
        let error = try #require(
            onlyError("name: x\nsteps:\n  - send: NOOP\n    expect: {code: 250, enhanced: 3.1.1}\n")
        )
        #expect(error.code == .badEnhancedStatus)
        #expect(error.location.description == "t.yaml:4:35")
    }

    @Test func undefinedVariablePointsAtTheReference() throws {
        let error = try #require(onlyError("name: x\nvars: {sender: a@b}\nsteps:\n  - send: MAIL FROM:<${sendr}>\n"))
        #expect(error.code == .undefinedVariable)
        #expect(error.location.description == "t.yaml:4:22")
        #expect(error.hint == "did you mean '${sender}'?")
    }

    @Test func referencesAmongMultiByteTextKeepTheirColumnsAndText() throws {
        // The column counts characters: "é" and "✓" are two and three bytes, one column each.
        let error = try #require(onlyError("name: x\nsteps:\n  - send: NOOP é✓ ${sendr}\n"))
        #expect(error.code == .undefinedVariable)
        #expect(error.location.description == "t.yaml:3:19")
        let ok = ScenarioCompiler.compile(
            source: "name: x\nvars: {who: \"Zoë\"}\nsteps:\n  - send: \"NOOP ☃${who}$$${x}$$ $${ ${ who }€\"\n",
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let step = try #require(ok.file?.scenarios.first?.steps.first)
        #expect(step.action == .send(Template(literal: "NOOP ☃Zoë$${x}$$ ${ Zoë€")))
    }

    @Test func aTextOfManyBadReferencesReportsTheFirstTwenty() {
        let text = String(repeating: "é${nope} ", count: 500)
        let errors = diagnostics("name: x\nsteps:\n  - send: \"NOOP \(text)\"\n").filter { $0.severity == .error }
        #expect(errors.count == 20)
        #expect(errors.last?.location.description == "t.yaml:3:\(18 + 19 * 9)", "columns count characters")
    }

    @Test func manyBadStepsAreAllReportedAndCounted() {
        let steps = (0..<2_000).map { "  - send: NOOP ${nope\($0)}\n" }.joined()
        let errors = diagnostics("name: x\nsteps:\n" + steps).filter { $0.severity == .error }
        #expect(errors.count == 2_000)
        var counted = Diagnostics()
        let first = ScenarioResults.SourceLocation(file: "t.yaml", line: 1, column: 1)
        for _ in 0..<3 { counted.error(.badValue, at: first, "same") }
        counted.warning(.badValue, at: ScenarioResults.SourceLocation(file: "t.yaml", line: 2, column: 1), "other")
        #expect(counted.errorCount == 3 && counted.hasErrors)
        counted.removeDuplicates()
        #expect(counted.errorCount == 1 && counted.count == 2)
    }

    @Test func suggestionsCompareABoundedNumberOfPlausibleNames() {
        #expect(Suggestion.closest(to: "sendr", among: ["recipient", "sender", "x"]) == "sender")
        #expect(Suggestion.closest(to: "abce", among: ["a-much-longer-name", "abcd"]) == "abcd")
        let crowd = Array(repeating: "zzzz", count: Suggestion.maxCandidates) + ["abcd"]
        #expect(Suggestion.closest(to: "abce", among: crowd) == nil, "only the first plausible names are compared")
    }

    @Test func useBeforeCaptureIsAnError() throws {
        let error = try #require(
            onlyError(
                """
                name: x
                steps:
                  - send: NOOP ${id}
                  - send: DATA
                    capture: {id: '/as (\\w+)/'}
                """
            )
        )
        #expect(error.message.contains("used before it is captured (it is captured by step 2)"))
        #expect(error.location.description == "t.yaml:3:16")
    }

    @Test func unsetEnvironmentVariableIsAnErrorUnlessItHasADefault() throws {
        var options = CompileOptions()
        options.environment = ["SET": "yes"]
        let error = try #require(onlyError("name: x\nsteps:\n  - send: HELO ${env.UNSET_X}\n", options: options))
        #expect(error.message.contains("UNSET_X is not set"))
        #expect(error.hint?.contains("${env.UNSET_X:-default}") == true)
        let ok = ScenarioCompiler.compile(
            source: "name: x\nsteps:\n  - send: HELO ${env.UNSET_X:-fallback} ${env.SET} $${literal}\n",
            displayPath: "t.yaml",
            options: options
        )
        let step = try #require(ok.file?.scenarios.first?.steps.first)
        #expect(step.action == .send(Template(literal: "HELO fallback yes ${literal}")))
    }

    @Test func invalidYAMLIsLocated() throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - send: EHLO a\n   expect: 250\n"))
        #expect(error.code == .yamlSyntax)
        #expect(error.location.line == 4)
    }

    /// Windows editors begin a file with a UTF-8 byte order mark. It opens the stream, not the document: it was
    /// read as content ("did not find expected <document start>" at 2:1 for a valid file).
    @Test func aByteOrderMarkBeforeTheDocumentIsSkipped() throws {
        let compiled = ScenarioCompiler.compile(
            source: "\u{FEFF}name: x\nsteps:\n  - send: EHLO a\n",
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        #expect(compiled.file?.scenarios.first?.identity.name == "x")
        // Positions are the editor's: the mark takes no column.
        let error = try #require(onlyError("\u{FEFF}name: x\nsteps:\n  - sendd: EHLO a\n"))
        #expect(error.location.description == "t.yaml:3:5")
    }

    /// A tab where YAML wants spaces got the generic hint about quoting; the hint now says it is a tab.
    @Test func aTabOrAReservedCharacterIsNamedInTheHint() throws {
        let leading = try #require(onlyError("name: x\nsteps:\n\t- send: EHLO a\n"))
        #expect(leading.location.description == "t.yaml:3:1")
        #expect(leading.hint == "that is a tab: YAML indents with spaces only, so replace it with spaces")
        // libyaml counts columns in characters: the é before the @ is one column, two bytes.
        let afterNonASCII = try #require(onlyError("name: x\ntags: [é, @x]\nsteps: []\n"))
        #expect(afterNonASCII.location.description == "t.yaml:2:11")
        #expect(afterNonASCII.hint == "a value starting with '@' or '`' needs quotes")
        let inside = try #require(onlyError("name: x\nsteps:\n  - send: EHLO a\n  \t  expect: 250\n"))
        #expect(inside.hint == "YAML indents with spaces only: replace the tab with spaces")
        let reserved = try #require(onlyError("name: x\nsteps:\n  - send: @EHLO a\n"))
        #expect(reserved.location.description == "t.yaml:3:11")
        #expect(reserved.hint == "a value starting with '@' or '`' needs quotes")
    }

    /// A line break from a static variable made one `send` two commands on the wire; only one written in the file
    /// itself was refused.
    @Test func aSendLineBreakFromAVariableIsRefused() throws {
        var options = CompileOptions()
        options.variables = ["x": "a@b>\r\nRSET"]
        let error = try #require(onlyError("name: x\nsteps:\n  - send: \"MAIL FROM:<${x}>\"\n", options: options))
        #expect(error.location.description == "t.yaml:3:11")
        #expect(
            error.message
                == "send takes one command line; once its variables are filled in, this one contains a line break"
        )
        let fromVars = try #require(onlyError("name: x\nvars: {x: \"a\\nb\"}\nsteps:\n  - send: \"EHLO ${x}\"\n"))
        #expect(fromVars.location.description == "t.yaml:4:11")
        #expect(
            onlyError("name: x\nsteps:\n  - send: \"EHLO a\\r\\nRSET\"\n")?.message
                == "send takes one command line; this one contains a line break"
        )
    }

    /// `timeout: 0s` was accepted and failed every step at once with "no complete reply within 0s".
    @Test func aZeroTimeoutIsRefused() throws {
        for (yaml, at) in [
            ("name: x\ntimeout: 0s\nsteps:\n  - send: EHLO a\n", "t.yaml:2:10"),
            ("name: x\nconnect-timeout: 0\nsteps:\n  - send: EHLO a\n", "t.yaml:2:18"),
            ("name: x\nsteps:\n  - send: EHLO a\n    timeout: 0ms\n", "t.yaml:4:14"),
        ] {
            let error = try #require(onlyError(yaml))
            #expect(error.location.description == at)
            #expect(
                error.message.hasSuffix(
                    "must be longer than 0: a zero \(error.message.prefix { $0 != " " }) ends every wait at once"
                )
            )
        }
        #expect(diagnostics("name: x\ntimeout: 1ms\nsteps:\n  - wait: 0s\n").isEmpty, "a zero wait is still fine")
    }

    @Test func twoActionsInOneStep() throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - send: DATA\n    data: hello\n"))
        #expect(error.code == .conflictingKeys)
        #expect(error.location.description == "t.yaml:4:5")
    }

    @Test func badRegexAndCaptureWithoutGroup() {
        let errors = diagnostics(
            """
            name: x
            steps:
              - send: NOOP
                expect: {code: 250, text: "/(unclosed/"}
              - send: NOOP
                capture: {id: '/no group/'}
            """
        ).filter { $0.severity == .error }
        #expect(errors.map(\.code) == [.badRegex, .badRegex])
        #expect(errors.map(\.location.line) == [4, 6])
        #expect(errors[1].hint?.contains("parentheses") == true)
    }

    @Test func everyErrorInAFileIsReported() {
        let errors = diagnostics(
            """
            name: x
            timeout: soon
            steps:
              - sned: EHLO
              - send: NOOP
                expect: 999
            """
        ).filter { $0.severity == .error }
        #expect(errors.map(\.location.line) == [2, 4, 6])
    }

    @Test func duplicateScenarioNamesInASuite() throws {
        let error = try #require(
            onlyError(
                """
                suite: s
                scenarios:
                  - name: same
                    steps: []
                  - name: same
                    steps: []
                """
            )
        )
        #expect(error.code == .duplicateName)
        #expect(error.location.description == "t.yaml:5:11")
    }

    @Test func pipelinedStartTLSAndAuthAreRefused() {
        let errors = diagnostics(
            """
            name: x
            steps:
              - pipeline:
                  - send: MAIL FROM:<a@b>
                  - send: STARTTLS
                  - send: AUTH PLAIN abc
            """
        ).filter { $0.severity == .error }
        #expect(errors.map(\.location.line) == [5, 6])
        #expect(errors.allSatisfy { $0.message.contains("cannot be pipelined") })
    }

    @Test func mailAfterStartTLSWithoutEHLOIsAWarning() throws {
        let all = diagnostics(
            """
            name: x
            steps:
              - send: EHLO a
              - starttls: {}
              - send: MAIL FROM:<a@b>
            """
        )
        let warning = try #require(all.first)
        #expect(all.count == 1)
        #expect(warning.severity == .warning)
        #expect(warning.location.description == "t.yaml:5:11")
        #expect(warning.description.contains("warning: MAIL after STARTTLS without a new EHLO"))
    }

    @Test func neitherScenarioNorSuite() throws {
        let error = try #require(onlyError("description: nothing here\n"))
        #expect(error.code == .missingKey)
        #expect(error.hint?.contains("scenarios:") == true)
    }

    @Test func emptyFile() throws {
        let error = try #require(onlyError(""))
        #expect(error.code == .emptyDocument)
    }

    @Test func serverAddressesAreChecked() throws {
        let error = try #require(onlyError("name: x\nserver: \"host:99999\"\nsteps: []\n"))
        #expect(error.code == .badServer)
        #expect(error.hint?.contains("[::1]:2525") == true)
    }

    @Test func matrixErrorsAreReportedOnceAtTheirSource() {
        let errors = diagnostics(
            """
            name: x
            matrix:
              user: [a, b, c]
            steps:
              - send: RCPT TO:<${user}@${domian}>
            """
        ).filter { $0.severity == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.location.description == "t.yaml:5:28")
    }
}
