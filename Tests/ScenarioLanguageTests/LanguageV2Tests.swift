import Foundation
import LocatedYAML
import ScenarioResults
import Testing

@testable import ScenarioLanguage

/// Writes files into a fresh folder and compiles them by path, as `run` does.
private struct Files {
    let folder: URL

    init(_ files: [String: String]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("v2-\(UUID().uuidString)")
        for (path, text) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    /// Compiles `paths` (relative to the folder, which is the working directory) together.
    func compile(_ paths: String...) -> [FileCompilation] {
        var options = CompileOptions()
        options.workingDirectory = folder.path
        return ScenarioCompiler.compile(paths: paths.map { folder.appendingPathComponent($0).path }, options: options)
    }

    func errors(_ path: String) -> [Diagnostic] {
        compile(path)[0].diagnostics.filter { $0.severity == .error }
    }
}

private let session = """
    groups:
      envelope:
        params: {from: sender@example.net, to: null}
        export: [rcpt_reply]
        steps:
          - send: MAIL FROM:<${from}>
          - send: RCPT TO:<${to}>
            capture: {rcpt_reply: '/(.*)/'}
    """

@Suite("Language v2: groups, imports, repeat, retry, xfail, connections")
struct LanguageV2Tests {
    // MARK: - Groups and imports

    @Test func aCallCompilesTheGroupBodyWithItsArgumentsAndExportsCaptures() throws {
        let files = try Files([
            "lib/session.yaml": session,
            "x.yaml": """
            import: {s: lib/session.yaml}
            groups: {hello: {steps: [{send: EHLO client.example, expect: 250}]}}
            name: known user accepted
            steps:
              - call: hello
              - call: s.envelope
                with: {to: alice@example.com}
              - send: NOOP ${rcpt_reply}
            """,
        ])
        let compiled = files.compile("x.yaml")[0]
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        let steps = try #require(compiled.file?.scenarios.first?.steps)
        guard case .call(let call) = steps[1].action else {
            Issue.record("not a call: \(steps[1].action)")
            return
        }
        #expect(call.group == "s.envelope")
        #expect(call.steps.count == 2)
        #expect(call.steps[0].action == .send(Template(literal: "MAIL FROM:<sender@example.net>")))
        #expect(call.steps[1].action == .send(Template(literal: "RCPT TO:<alice@example.com>")))
        #expect(call.steps[1].captures.first?.key == "rcpt_reply", "an exported capture is stored as the caller's")
        #expect(steps[2].action == .send(Template(parts: [.literal("NOOP "), .variable("rcpt_reply")])))
    }

    @Test func aGroupsOwnCapturesStayInside() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                groups:
                  g:
                    steps:
                      - send: NOOP
                        capture: {inner: '/(.*)/'}
                name: x
                steps:
                  - call: g
                  - send: NOOP ${inner}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let error = try #require(compiled.diagnostics.first)
        #expect(error.code == .undefinedVariable)
        #expect(error.location.description == "t.yaml:9:16")
    }

    @Test func aGroupSeesItsFileVarsAndParamsButNothingOfTheCaller() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                suite: s
                vars: {domain: example.com}
                groups:
                  g:
                    params: {user: null}
                    steps:
                      - send: RCPT TO:<${user}@${domain}> ${local}
                scenarios:
                  - name: x
                    vars: {local: mine}
                    steps:
                      - call: g
                        with: {user: "${local}"}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let errors = compiled.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.message == "undefined variable 'local'")
        #expect(errors.first?.location.description == "t.yaml:7:43")
        #expect(errors.first?.notes == ["called from t.yaml:12:9"])
    }

    @Test func anErrorInsideAnImportedGroupIsReportedOnceAtItsDefinitionWithTheCallChain() throws {
        let files = try Files([
            "lib/session.yaml": """
            groups:
              envelope:
                params: {to: null}
                steps:
                  - send: RCPT TO:<${to}>
                    expect: 6xx
            """,
            "x.yaml": """
            import: {s: lib/session.yaml}
            suite: x
            scenarios:
              - name: one
                steps:
                  - call: s.envelope
                    with: {to: a@example.com}
              - name: two
                steps:
                  - call: s.envelope
                    with: {to: b@example.com}
            """,
        ])
        let errors = files.errors("x.yaml")
        #expect(errors.count == 1, "\(errors)")
        let error = try #require(errors.first)
        #expect(error.code == .badReply)
        #expect(error.location.description == "lib/session.yaml:6:17")
        #expect(error.notes == ["called from x.yaml:6:9"])
        #expect(error.description.hasSuffix("note: called from x.yaml:6:9"))
    }

    @Test func nestedCallsListEverySiteInnermostFirst() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                groups:
                  inner:
                    steps: [{send: NOOP, expect: 999}]
                  outer:
                    steps: [{call: inner}]
                name: x
                steps:
                  - call: outer
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let error = try #require(compiled.diagnostics.first)
        #expect(error.notes == ["called from t.yaml:5:14", "called from t.yaml:8:5"])
    }

    @Test func anUnknownGroupIsLocatedAtTheNameWithASuggestion() throws {
        let error = try #require(
            onlyError("groups: {hello: {steps: []}}\nname: x\nsteps:\n  - call: helo\n")
        )
        #expect(error.code == .unknownGroup)
        #expect(error.location.description == "t.yaml:4:11")
        #expect(error.hint == "did you mean 'hello'?")
    }

    @Test func aMissingArgumentIsLocatedAtTheCallAndAnUnknownOneAtItsKey() throws {
        let groups = "groups: {g: {params: {to: null}, steps: [{send: \"RCPT TO:<${to}>\"}]}}\nname: x\nsteps:\n"
        let missing = try #require(onlyError(groups + "  - call: g\n"))
        #expect(missing.code == .badArgument)
        #expect(missing.location.description == "t.yaml:4:5")
        #expect(missing.message == "missing argument 'to' for group 'g'")
        let unknown = try #require(onlyError(groups + "  - call: g\n    with: {to: a@b.c, too: x}\n"))
        #expect(unknown.code == .badArgument)
        #expect(unknown.location.description == "t.yaml:5:23")
        #expect(unknown.message == "group 'g' has no parameter 'too'")
    }

    @Test func aCallCycleIsRefused() throws {
        let error = try #require(
            onlyError(
                """
                groups:
                  a: {steps: [{call: b}]}
                  b: {steps: [{call: a}]}
                name: x
                steps:
                  - call: a
                """
            )
        )
        #expect(error.code == .callCycle)
        #expect(error.message == "call cycle: a -> b -> a")
        #expect(error.location.description == "t.yaml:3:22")
    }

    @Test func anImportCycleIsRefusedAtTheImportEntry() throws {
        let files = try Files([
            "x.yaml": "import: {y: y.yaml}\nname: x\nsteps: []\n",
            "y.yaml": "import: {x: x.yaml}\ngroups: {g: {steps: []}}\n",
        ])
        let errors = files.errors("x.yaml")
        let cycle = try #require(errors.first { $0.code == .importCycle })
        #expect(cycle.message == "import cycle: x.yaml -> y.yaml -> x.yaml")
        #expect(cycle.location.description == "y.yaml:1:10")
    }

    /// A matrix compiles its scenario's own steps once for all combinations, found again by line and column: a
    /// called group's step at the same line and column of another file is still compiled as itself.
    @Test func aMatrixReusesOnlyTheScenariosOwnSteps() throws {
        let files = try Files([
            "lib.yaml": "groups:\n  g:\n    steps:\n      - send: NOOP from the group\n",
            "x.yaml": "import: {l: lib.yaml}\nname: x\nmatrix: {n: [1, 2]}\nsteps: [{send: EHLO top}, {call: l.g}]\n",
        ])
        let compiled = files.compile("x.yaml")[0]
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        let scenarios = try #require(compiled.file?.scenarios)
        #expect(scenarios.count == 2)
        for scenario in scenarios {
            #expect(scenario.steps[0].location.line == 4 && scenario.steps[0].location.column == 9)
            guard case .call(let call) = scenario.steps[1].action else {
                Issue.record("not a call: \(scenario.steps[1].action)")
                continue
            }
            #expect(call.steps[0].location.line == 4 && call.steps[0].location.column == 9)
            #expect(call.steps[0].action == .send(Template(literal: "NOOP from the group")))
        }
    }

    @Test func importingAFileWithScenariosIsRefused() throws {
        let files = try Files([
            "x.yaml": "import: {y: y.yaml}\nname: x\nsteps: []\n",
            "y.yaml": "name: y\nsteps: []\n",
        ])
        let error = try #require(files.errors("x.yaml").first)
        #expect(error.code == .badImport)
        #expect(error.message == "y.yaml is not a library: it has scenarios")
        #expect(error.location.description == "x.yaml:1:10")
    }

    @Test func anImportPathCannotUseVariables() throws {
        let error = try #require(onlyError("import: {s: \"${dir}/lib.yaml\"}\nname: x\nsteps: []\n"))
        #expect(error.code == .badImport)
        #expect(error.location.description == "t.yaml:1:13")
    }

    @Test func twoGroupsOfOneNameAreRefused() throws {
        let error = try #require(onlyError("groups:\n  g: {steps: []}\n  g: {steps: []}\nname: x\nsteps: []\n"))
        #expect(error.message.hasPrefix("duplicate key 'g'"))
        #expect(error.location.description == "t.yaml:3:3")
    }

    @Test func anExportThatNothingCapturesIsRefused() throws {
        let error = try #require(
            onlyError("groups: {g: {export: [id], steps: [{send: NOOP}]}}\nname: x\nsteps: [{call: g}]\n")
        )
        #expect(error.message == "group 'g' exports 'id', which none of its steps captures")
        #expect(error.location.description == "t.yaml:1:23")
    }

    @Test func aLibraryIsCheckedOnItsOwnAndCountsNoScenarios() throws {
        let files = try Files([
            "lib.yaml": "groups:\n  g:\n    params: {to: null}\n    steps:\n      - send: NOOP\n        expect: 7xx\n"
        ])
        let compiled = files.compile("lib.yaml")[0]
        #expect(compiled.kind == .library)
        #expect(compiled.file == nil)
        #expect(compiled.diagnostics.first?.location.description == "lib.yaml:6:17")
        let clean = try Files(["lib.yaml": session]).compile("lib.yaml")[0]
        #expect(clean.kind == .library)
        #expect(clean.diagnostics.isEmpty, "required params are unknown, not errors: \(clean.diagnostics)")
    }

    // MARK: - repeat

    @Test func repeatRunsItsBodyWithAnIndexAndExposesItsCaptures() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                name: x
                vars: {n: "3"}
                steps:
                  - repeat: ${n}
                    index: i
                    steps:
                      - send: RCPT TO:<user${i}@example.com>
                        capture: {last: '/(.*)/'}
                  - send: NOOP ${last}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        let step = try #require(compiled.file?.scenarios.first?.steps.first)
        guard case .repeatSteps(let loop) = step.action else {
            Issue.record("not a repeat")
            return
        }
        #expect(loop.count == 3)
        #expect(loop.indexName == "i")
        #expect(step.expandedCount == 3)
        #expect(
            loop.steps[0].action
                == .send(
                    Template(parts: [.literal("RCPT TO:<user"), .variable(loop.indexKey!), .literal("@example.com>")])
                )
        )
    }

    @Test(arguments: [
        ("0", "repeat must be between 1 and 100000, found 0"), ("-2", "repeat must be between 1 and 100000, found -2"),
    ])
    func aRepeatCountBelowOneIsRefused(_ count: String, _ message: String) throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - repeat: \(count)\n    steps: [{send: NOOP}]\n"))
        #expect(error.message == message)
        #expect(error.location.description == "t.yaml:3:13")
    }

    @Test func aCountFromACaptureIsRefused() throws {
        let error = try #require(
            onlyError(
                "name: x\nsteps:\n  - send: NOOP\n    capture: {n: '/(\\d+)/'}\n  - repeat: ${n}\n    steps: [{send: NOOP}]\n"
            )
        )
        #expect(error.message == "a repeat count cannot use run-time variables (${n})")
    }

    @Test func anIndexThatShadowsIsRefused() throws {
        let variable = try #require(
            onlyError("name: x\nvars: {i: one}\nsteps:\n  - repeat: 2\n    index: i\n    steps: [{send: NOOP}]\n")
        )
        #expect(variable.message == "index 'i' shadows a variable of the same name")
        #expect(variable.location.description == "t.yaml:5:12")
        let outer = try #require(
            onlyError(
                "name: x\nsteps:\n  - repeat: 2\n    index: i\n    steps:\n      - repeat: 2\n        index: i\n        steps: [{send: NOOP}]\n"
            )
        )
        #expect(outer.location.description == "t.yaml:7:16")
    }

    @Test func moreThanTheExpandedStepLimitIsRefused() throws {
        let error = try #require(
            onlyError(
                "name: x\nsteps:\n  - repeat: 1000\n    steps:\n      - repeat: 101\n        steps: [{send: NOOP}]\n"
            )
        )
        #expect(error.code == .limitExceeded)
        #expect(error.message == "scenario \"x\" runs more than 100000 steps once its repeats are expanded")
    }

    // MARK: - retry, fail, xfail

    @Test func retryTakesAttemptsIntervalAndConditions() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                name: x
                steps:
                  - retry: {attempts: 4, interval: 65s, on: ["4xx", closed]}
                    steps:
                      - reconnect: true
                      - send: RCPT TO:<alice@example.com>
                        expect: 250
                  - send: NOOP
                    retry: {attempts: 2}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        let steps = try #require(compiled.file?.scenarios.first?.steps)
        guard case .retry(let block) = steps[0].action, case .retry(let single) = steps[1].action else {
            Issue.record("not retries: \(steps.map(\.action))")
            return
        }
        #expect(block.attempts == 4)
        #expect(block.interval == .seconds(65))
        #expect(block.retryOn == [.codes([.anyOfClass(4)]), .closed])
        #expect(block.steps.count == 2)
        #expect(single.retryOn == [.codes([.anyOfClass(4)])], "4xx by default")
        #expect(single.steps.first?.action == .send(Template(literal: "NOOP")))
    }

    @Test(arguments: ["1", "101"])
    func retryAttemptsOutOfRangeAreRefused(_ attempts: String) throws {
        let error = try #require(
            onlyError("name: x\nsteps:\n  - send: NOOP\n    retry: {attempts: \(attempts)}\n")
        )
        #expect(error.message == "attempts must be between 2 and 100, found \(attempts)")
        #expect(error.location.description == "t.yaml:4:23")
    }

    @Test func stepsAfterFailAreRefused() throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - fail: on purpose\n  - send: NOOP\n"))
        #expect(error.message.hasPrefix("this step never runs: the `fail` step at 3:5 ends the scenario"))
        #expect(error.location.description == "t.yaml:4:5")
    }

    @Test func xfailIsAScenarioKeyCarriedByEveryMatrixExpansion() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                name: x
                matrix: {n: [1, 2]}
                xfail: {reason: known bug 123, match: /smuggl/i, strict: false}
                steps: []
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let scenarios = try #require(compiled.file?.scenarios)
        #expect(scenarios.count == 2)
        for scenario in scenarios {
            #expect(scenario.expectedFailure?.reason == "known bug 123")
            #expect(scenario.expectedFailure?.strict == false)
        }
        let missing = try #require(onlyError("name: x\nxfail: {match: /x/}\nsteps: []\n"))
        #expect(missing.message == "xfail needs a `reason:`")
    }

    // MARK: - Reply shapes, connections, named servers, pipelines

    @Test func positiveAnyAndSingleLine() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                name: x
                steps:
                  - {send: NOOP, expect: positive}
                  - {send: NOOP, expect: any}
                  - {send: NOOP, expect: {code: 250, single-line: true}}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let steps = try #require(compiled.file?.scenarios.first?.steps)
        #expect(steps[0].expectation == .reply(.positive))
        #expect(steps[1].expectation == .reply(.anyReply))
        var single = ReplyExpectation(codes: [.exact(250)])
        single.singleLine = true
        #expect(steps[2].expectation == .reply(single))
    }

    @Test func sendingWhileDisconnectedIsRefusedAtTheStepThatSends() throws {
        let closed = try #require(onlyError("name: x\nconnect: false\nsteps:\n  - send: EHLO a\n"))
        #expect(closed.message == "this step needs a connection, but none is open here")
        #expect(closed.location.description == "t.yaml:4:5")
        let dropped = try #require(onlyError("name: x\nsteps:\n  - disconnect: true\n  - wait: 1s\n  - send: NOOP\n"))
        #expect(dropped.location.description == "t.yaml:5:5")
        let again = try #require(onlyError("name: x\nsteps:\n  - connect: {}\n"))
        #expect(again.message == "`connect` while a connection is open")
        let fine = ScenarioCompiler.compile(
            source: "name: x\nconnect: false\nsteps:\n  - connect: {}\n  - send: EHLO a\n  - disconnect: true\n",
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(fine.diagnostics.isEmpty, "\(fine.diagnostics)")
    }

    @Test func aRepeatedBodyThatDisconnectsIsCheckedOnItsSecondPass() throws {
        let error = try #require(
            onlyError("name: x\nsteps:\n  - repeat: 2\n    steps:\n      - send: NOOP\n      - disconnect: true\n")
        )
        #expect(error.location.description == "t.yaml:5:9")
    }

    @Test func namedServersResolveByNameAndOtherwiseAsAddresses() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                suite: s
                servers: {mx: "127.0.0.1:25", submission: "127.0.0.1:587"}
                scenarios:
                  - name: mx
                    server: mx
                    steps: []
                  - name: both
                    server: submission
                    connect: false
                    steps:
                      - connect: {server: mx}
                      - disconnect: true
                      - connect: {server: "127.0.0.1:2525"}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        let file = try #require(compiled.file)
        #expect(file.serverNames == ["mx", "submission"])
        #expect(
            file.scenarios[0].server
                == ServerRef(name: "mx", target: .remote(host: "127.0.0.1", port: 25, implicitTLS: false))
        )
        #expect(
            file.scenarios[1].steps[0].action
                == .connect(
                    ConnectAction(
                        server: ServerRef(name: "mx", target: .remote(host: "127.0.0.1", port: 25, implicitTLS: false))
                    )
                )
        )
        #expect(
            file.scenarios[1].steps[2].action
                == .connect(
                    ConnectAction(server: ServerRef(target: .remote(host: "127.0.0.1", port: 2525, implicitTLS: false)))
                )
        )
    }

    @Test func serverTargetsNameTheScenarioServerThenEachConnectInOrderInsideLoopsToo() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                suite: s
                servers: {mx: "127.0.0.1:25", submission: "127.0.0.1:587"}
                scenarios:
                  - name: none
                    steps: [{send: NOOP}]
                  - name: nested
                    server: submission
                    connect: false
                    steps:
                      - connect: {server: mx}
                      - disconnect: true
                      - repeat: 2
                        steps:
                          - connect: {server: "127.0.0.1:2525"}
                          - disconnect: true
                      - retry: {attempts: 2, interval: 1s}
                        steps:
                          - connect: {server: "127.0.0.1:2526"}
                          - disconnect: true
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        let file = try #require(compiled.file)
        func remote(_ port: Int) -> ServerTarget { .remote(host: "127.0.0.1", port: port, implicitTLS: false) }
        #expect(file.scenarios[0].serverTargets == [])
        #expect(file.scenarios[1].serverTargets == [remote(587), remote(25), remote(2525), remote(2526)])
    }

    @Test func pipelineItemsTakeEveryExpectFormAndAnUnadvertisedPipelineIsMarked() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                name: x
                steps:
                  - pipeline:
                      unadvertised: true
                      steps:
                        - {send: EHLO a, expect: positive}
                        - {send: NOOP, expect: closed}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        guard case .pipeline(let pipeline) = compiled.file?.scenarios.first?.steps.first?.action else {
            Issue.record("not a pipeline")
            return
        }
        #expect(pipeline.unadvertised)
        #expect(pipeline.steps.map(\.position) == [.pipelined(1), .pipelined(2)])
        #expect(pipeline.steps[1].expectation == .closed)
    }

    @Test func aRetryInsideAPipelineIsRefused() throws {
        let error = try #require(
            onlyError("name: x\nsteps:\n  - pipeline:\n      - send: NOOP\n        retry: {attempts: 2}\n")
        )
        #expect(error.message == "a step inside a pipeline cannot be retried")
    }

    @Test func stepPathsReadAsTheIssueWritesThem() {
        #expect(StepPath([.step(3)]).description == "3")
        #expect(StepPath([.step(3), .pipelined(2)]).description == "3.2")
        #expect(StepPath([.step(2), .call("s.envelope"), .step(2)]).description == "2 call s.envelope > 2")
        #expect(
            StepPath([.step(3), .iteration(variable: "i", index: 737), .step(1)]).description == "3 repeat i=737 > 1"
        )
        #expect(StepPath([.step(4), .retry, .step(2)]).description == "4 retry > 2")
    }
}
