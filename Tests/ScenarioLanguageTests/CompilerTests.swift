import LocatedYAML
import Testing

@testable import ScenarioLanguage

private func compile(_ yaml: String, options: CompileOptions = CompileOptions()) throws -> ScenarioFile {
    let compilation = ScenarioCompiler.compile(source: yaml, displayPath: "t.yaml", options: options)
    guard let file = compilation.file else {
        throw CompileFailed(text: compilation.diagnostics.map(\.description).joined(separator: "\n"))
    }
    return file
}

private struct CompileFailed: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}

@Suite("Compiler: what plans contain")
struct CompilerTests {
    @Test func theTelnetSession() throws {
        let file = try compile(
            """
            name: Telnet
            vars: {sender: s@example.org}
            steps:
              - send: EHLO a
                expect: 250
              - send: MAIL FROM:<${sender}>
              - data: |
                  Subject: x

                  body
            """
        )
        let scenario = try #require(file.scenarios.first)
        #expect(scenario.greeting == .reply(ReplyExpectation(codes: [.exact(220)])))
        #expect(scenario.steps.map(\.position) == [.step(1), .step(2), .step(3)])
        #expect(scenario.steps[1].action == .send(Template(literal: "MAIL FROM:<s@example.org>")))
        #expect(scenario.steps[1].expectation == .reply(.positive), "send without expect: any positive reply")
        #expect(scenario.steps[2].expectation == .reply(ReplyExpectation(codes: [.exact(250)])), "data defaults to 250")
        #expect(scenario.steps[2].location.line == 7)
        #expect(file.reportName == "t")
    }

    @Test func expectForms() throws {
        let file = try compile(
            """
            name: x
            steps:
              - send: A
                expect: "5xx"
              - send: B
                expect: [250, "4xx"]
              - send: C
                expect: closed
              - expect: nothing
              - send: D
                expect: {code: 550, enhanced: 5.1.1, text: /user unknown/i, advertises: [AUTH PLAIN], lacks: STARTTLS}
            """
        )
        let steps = try #require(file.scenarios.first).steps
        #expect(steps[0].expectation == .reply(ReplyExpectation(codes: [.anyOfClass(5)])))
        #expect(steps[1].expectation == .reply(ReplyExpectation(codes: [.exact(250), .anyOfClass(4)])))
        #expect(steps[2].expectation == .closed)
        #expect(steps[3].action == .read)
        #expect(steps[3].expectation == .nothing)
        guard case .reply(let full) = steps[4].expectation else {
            Issue.record("expected a reply expectation")
            return
        }
        #expect(full.enhanced?.description == "5.1.1")
        #expect(full.advertises == [Template(literal: "AUTH PLAIN")])
        #expect(full.lacks == [Template(literal: "STARTTLS")])
        guard case .regex(let regex)? = full.text else {
            Issue.record("expected a regex")
            return
        }
        #expect(regex.caseInsensitive)
        #expect(regex.matches("5.1.1 <x>: Recipient address rejected: User unknown"))
    }

    @Test(arguments: [
        ("250", CodePattern.exact(250)), ("200", .exact(200)), ("599", .exact(599)), ("5xx", .anyOfClass(5)),
        ("2XX", .anyOfClass(2)), ("4Xx", .anyOfClass(4)),
    ])
    func codePatternsParse(_ text: String, _ pattern: CodePattern) {
        #expect(CodePattern(text) == pattern)
        #expect(CodePattern.list(pattern) == [pattern])
    }

    @Test(arguments: [
        "199", "600", "25", "2500", "", "1xx", "6xx", "x50", "2x5", "+25", "-25", " 25", "２５０", "2xx\u{301}",
    ])
    func nonCodesAreRefused(_ text: String) {
        #expect(CodePattern(text) == nil)
    }

    @Test func regexSlashesSplitByteWise() throws {
        #expect(PatternRegex.split("/ok/i")! == ("ok", "i"))
        #expect(PatternRegex.split("/a/b/")! == ("a/b", ""))
        #expect(PatternRegex.split("/é/ii")! == ("é", "ii"))
        #expect(PatternRegex.split("//")! == ("", ""))
        #expect(PatternRegex.split("/") == nil)
        #expect(PatternRegex.split("ok/") == nil)
        #expect(PatternRegex.split("/ok/x") == nil)
        #expect(PatternRegex.split("/ok/\u{301}") == nil)
    }

    @Test func timeoutsResolveStepThenScenarioThenSuiteThenCommandLineThen30s() throws {
        var options = CompileOptions()
        options.defaultTimeout = .seconds(7)
        let file = try compile(
            """
            suite: s
            timeout: 20s
            scenarios:
              - name: scenario timeout
                timeout: 3s
                steps:
                  - send: A
                    timeout: 500ms
                  - send: B
              - name: suite timeout
                steps:
                  - send: C
            """,
            options: options
        )
        #expect(file.scenarios[0].steps.map(\.timeout) == [.milliseconds(500), .seconds(3)])
        #expect(file.scenarios[1].steps.map(\.timeout) == [.seconds(20)])
        let noSuite = try compile("name: x\nsteps:\n  - send: A\n", options: options)
        #expect(noSuite.scenarios[0].steps[0].timeout == .seconds(7))
        #expect(try compile("name: x\nsteps:\n  - send: A\n").scenarios[0].steps[0].timeout == .seconds(30))
    }

    @Test func variablePrecedence() throws {
        var options = CompileOptions()
        options.variables = ["c": "cli"]
        let file = try compile(
            """
            suite: s
            vars: {a: suite, b: suite, c: suite, d: "${a}-${c}"}
            scenarios:
              - name: x
                vars: {b: scenario, c: scenario}
                steps:
                  - send: "${a} ${b} ${c} ${d}"
                  - send: NOOP
                    capture: {b: '/(.*)/'}
                  - send: "${b}"
            """,
            options: options
        )
        let steps = file.scenarios[0].steps
        #expect(steps[0].action == .send(Template(literal: "suite scenario cli suite-cli")))
        #expect(steps[2].action == .send(Template(parts: [.variable("b")])), "a capture wins from its step on")
    }

    @Test func builtInsAndCapturesStayRunTimeReferences() throws {
        let file = try compile(
            """
            name: x
            greeting:
              capture: {name: '/^([^ ]+)/'}
            steps:
              - send: "EHLO ${name} [${server.ip}]:${server.port}"
            """
        )
        #expect(
            file.scenarios[0].steps[0].action
                == .send(
                    Template(parts: [
                        .literal("EHLO "), .variable("name"), .literal(" ["), .variable("server.ip"), .literal("]:"),
                        .variable("server.port"),
                    ])
                )
        )
    }

    @Test func aVariableHoldingARunTimeReferenceIsSplicedAndAStaticOneIsText() throws {
        let file = try compile(
            """
            name: x
            vars: {host: "${server.ip}", suffix: s1, literal: "[${host}]", id: "${literal}-${suffix}"}
            steps:
              - send: "HELO ${literal} ${suffix}${suffix}"
              - send: "NOOP ${id}"
            """
        )
        let steps = file.scenarios[0].steps
        #expect(
            steps[0].action
                == .send(Template(parts: [.literal("HELO ["), .variable("server.ip"), .literal("] s1s1")])),
            "a value with a run-time reference is spliced in; static values join the literal around them"
        )
        #expect(
            steps[1].action == .send(Template(parts: [.literal("NOOP ["), .variable("server.ip"), .literal("]-s1")]))
        )
    }

    @Test func capturesInsideAPipelineAreUsableOnlyAfterIt() {
        let inside = ScenarioCompiler.compile(
            source: """
                name: x
                steps:
                  - pipeline:
                      - send: MAIL FROM:<a@b>
                        capture: {v: '/(.*)/'}
                      - send: RCPT TO:<${v}>
                  - send: NOOP ${v}
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let errors = inside.diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.location.line) == [6])
    }

    @Test func matrixExpandsInOrderWithMappingFields() throws {
        let file = try compile(
            """
            name: Try
            matrix:
              user: [alice, bob]
              port: [{name: submission, number: 587}, {name: smtps, number: 465}]
            steps:
              - send: "RCPT TO:<${user}@x> ${port.number} ${port}"
            """
        )
        #expect(
            file.scenarios.map(\.name) == [
                "Try [user=alice, port=submission]", "Try [user=alice, port=smtps]", "Try [user=bob, port=submission]",
                "Try [user=bob, port=smtps]",
            ]
        )
        #expect(file.scenarios[3].steps[0].action == .send(Template(literal: "RCPT TO:<bob@x> 465 smtps")))
        #expect(file.scenarios.allSatisfy { $0.location.line == 1 })
    }

    /// Steps without a variable are compiled once for all of a matrix's combinations: each combination's steps
    /// are still exactly what compiling that combination alone gives, warnings included.
    @Test func matrixCombinationsCompileAsTheyWouldAlone() throws {
        let steps = """
            steps:
              - send: EHLO client.example.org
                expect: {code: 250, text: /ok/i}
              - {send: "MAIL FROM:<s@x>", name: plain name, timeout: 3s}
              - send: "RCPT TO:<postmaster@${host}>"
              - starttls: true
              - send: "MAIL FROM:<again@x>"
              - starttls: true
              - send: EHLO client.example.org
              - send: "MAIL FROM:<third@x>"
              - data: "Subject: fixed\\n\\nbody\\n"
              - raw: {hex: "0d 0a"}
              - send: QUIT
                expect: 221
            """
        let hosts = ["a.example", "b.example", "c.example"]
        let sweep = ScenarioCompiler.compile(
            source: "name: Sweep\nmatrix:\n  host: [\(hosts.joined(separator: ", "))]\n" + steps,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        let scenarios = try #require(sweep.file?.scenarios)
        #expect(scenarios.count == 3)
        // Once (each combination's is the same), and not for the MAIL after the second EHLO.
        #expect(sweep.diagnostics.map(\.message) == ["MAIL after STARTTLS without a new EHLO"])
        #expect(sweep.diagnostics.map(\.location.line) == [10])
        for (scenario, host) in zip(scenarios, hosts) {
            let alone = try compile("name: Sweep\nvars:\n  host: \(host)\n" + steps)  // the same lines
            #expect(scenario.steps == alone.scenarios[0].steps)
        }
        #expect(scenarios[2].steps[2].action == .send(Template(literal: "RCPT TO:<postmaster@c.example>")))
    }

    /// Paths are made absolute and standardized as text: `..` climbs (never above the root), `.` and repeated or
    /// trailing slashes go, and display paths are relative to the working folder when below it.
    @Test(arguments: [
        ("a.yaml", "/work/x/a.yaml"), ("./a.yaml", "/work/x/a.yaml"), ("../up.yaml", "/work/up.yaml"),
        ("../../../../z.yaml", "/z.yaml"), ("a/./b/../c.yaml", "/work/x/a/c.yaml"), ("a//b/", "/work/x/a/b"),
        ("/abs/./p/..", "/abs"), ("/", "/"), (".", "/work/x"), ("..", "/work"), ("a/..", "/work/x"),
        ("a/.../..b/c", "/work/x/a/.../..b/c"), ("ü/ñ %20.yaml", "/work/x/ü/ñ %20.yaml"),
    ])
    func pathsAreStandardizedAsText(_ path: String, _ absolute: String) {
        #expect(ScenarioCompiler.absolutePath(path, workingDirectory: "/work/x/") == absolute)
    }

    @Test func displayPathsAndFolders() {
        #expect(ScenarioCompiler.displayPath(for: "../x/s.yaml", workingDirectory: "/w/here") == "../x/s.yaml")
        #expect(ScenarioCompiler.displayPath(for: "../here/s.yaml", workingDirectory: "/w/here") == "s.yaml")
        #expect(ScenarioCompiler.displayPath(for: "/w/here/a/s.yaml", workingDirectory: "/w/here/") == "a/s.yaml")
        #expect(ScenarioCompiler.displayPath(for: "/etc/s.yaml", workingDirectory: "/") == "etc/s.yaml")
        #expect(PathText.directory(of: "/a/b.yaml") == "/a")
        #expect(PathText.directory(of: "/b.yaml") == "/")
        #expect(PathText.directory(of: "/") == "/")
    }

    @Test func everyShortPathIsStandardizedAsByTheComponentRule() {
        // Every path of up to six bytes from "/", "." and "a": the fast check for an already standard path must give
        // what the component rule gives.
        var paths = [""]
        var previous = [""]
        for _ in 1...6 {
            previous = previous.flatMap { prefix in ["/", ".", "a"].map { prefix + $0 } }
            paths += previous
        }
        for path in paths {
            var components: [Substring] = []
            for component in path.split(separator: "/") where component != "." {
                if component == ".." { _ = components.popLast() } else { components.append(component) }
            }
            let expected = components.isEmpty ? "/" : components.map { "/" + $0 }.joined()
            #expect(PathText.standardized(path) == expected, "\(path)")
            #expect(PathText.isStandard(path) == (path == expected), "\(path)")
        }
    }

    @Test func aNamedFileKeepsItsAbsolutePathAsWrittenAndAnchorsARelativeOne() throws {
        #expect(PathText.anchored("/srv/link/../policy.yaml", in: "/w") == "/srv/link/../policy.yaml")
        #expect(PathText.anchored("../p/./policy.yaml", in: "/w/here") == "/w/p/policy.yaml")
        let file = try compile(
            """
            name: x
            server: mock:../policies/./p.yaml
            steps: []
            """
        )
        let folder = CompileOptions().workingDirectory
        #expect(
            file.scenarios[0].serverTargets == [.mock(policyFile: PathText.absolute("../policies/p.yaml", in: folder))]
        )
    }

    @Test func secretsAreCollected() throws {
        var options = CompileOptions()
        options.secrets = ["token": "cli-secret"]
        let file = try compile(
            """
            name: x
            vars: {pass: hunter2, other: visible}
            secrets: [pass]
            steps:
              - auth: {mechanism: LOGIN, username: u, password: "p@ss-in-step"}
            """,
            options: options
        )
        #expect(file.scenarios[0].secretValues == ["cli-secret", "hunter2", "p@ss-in-step"])
    }

    @Test func rawHexAndText() throws {
        let file = try compile(
            "name: x\nsteps:\n  - raw: {hex: \"0d 0a 2e 0d 0a\"}\n  - raw: \"STARTTLS\\r\\n\"\n    expect: 220\n"
        )
        let steps = file.scenarios[0].steps
        #expect(steps[0].action == .raw(.bytes([0x0D, 0x0A, 0x2E, 0x0D, 0x0A])))
        #expect(steps[0].expectation == .noReply, "raw reads a reply only when expect is given")
        #expect(steps[1].action == .raw(.text(Template(literal: "STARTTLS\r\n"))))
    }

    @Test func tlsOptionsMergeAndResolvePaths() throws {
        let file = try compile(
            """
            suite: s
            tls: {ca: certs/ca.pem, min-version: "1.2"}
            scenarios:
              - name: x
                tls: {server-name: mail.example.test, pin-sha256: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"}
                steps: []
            """
        )
        let tls = file.scenarios[0].tls
        #expect(tls.caFile?.hasSuffix("/certs/ca.pem") == true)
        #expect(tls.minVersion == .v1_2)
        #expect(tls.serverName == "mail.example.test")
        #expect(tls.pinSHA256?.count == 32)
    }

    @Test func skipAndTags() throws {
        let file = try compile(
            "suite: s\nscenarios:\n  - name: a\n    tags: [x]\n    skip: not today\n    steps: []\n  - name: b\n    tags: [y]\n    steps: []\n"
        )
        #expect(file.scenarios[0].skipReason == "not today")
        let plan = Plan(files: [file])
        #expect(plan.filtered(includingTags: ["y"], excludingTags: []).files[0].scenarios.map(\.name) == ["b"])
        #expect(plan.filtered(includingTags: [], excludingTags: ["x"]).scenarioCount == 1)
        #expect(plan.filtered(includingTags: ["z"], excludingTags: []).files.isEmpty)
        // No tags keep every scenario, and still drop a file without any.
        #expect(plan.filtered(includingTags: [], excludingTags: []) == plan)
        let empty = ScenarioFile(displayPath: "empty.yaml", suiteName: nil, scenarios: [])
        let withEmpty = Plan(files: [file, empty]).filtered(includingTags: [], excludingTags: [])
        #expect(withEmpty.files.map(\.displayPath) == [file.displayPath])
        #expect(Plan(files: [file, file]).scenarios.map(\.name) == ["a", "b", "a", "b"])
    }

    /// Steps and scenarios share their fields between copies; equality and hashing stay those of the values.
    @Test func compiledValuesCompareByValue() throws {
        let source = "name: a\nsteps:\n  - send: EHLO a\n  - send: NOOP\n    expect: 250\n"
        let first = try compile(source)
        let second = try compile(source)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(first.scenarios[0].steps[1] == second.scenarios[0].steps[1])
        #expect(first.scenarios[0].steps[0] != first.scenarios[0].steps[1])
        let changed = try compile(source.replacingOccurrences(of: "expect: 250", with: "expect: 251"))
        #expect(changed.scenarios[0].steps[1] != first.scenarios[0].steps[1])
        #expect(changed.scenarios[0] != first.scenarios[0])
        #expect(Set([first.scenarios[0], second.scenarios[0], changed.scenarios[0]]).count == 2)
    }

    @Test func reportNamesFromPaths() {
        #expect(
            ScenarioFile.reportName(forPath: "scenarios/security/open-relay.yaml") == "scenarios.security.open-relay"
        )
        #expect(ScenarioFile.reportName(forPath: "./a.yml") == "a")
        // Non-ASCII names pass whole; only a last extension goes, not a dot in a folder's name.
        #expect(ScenarioFile.reportName(forPath: "././sécurité/relais ouvert.yaml") == "sécurité.relais ouvert")
        #expect(ScenarioFile.reportName(forPath: "packs/v1.2/名前") == "packs.v1.2.名前")
    }
}

@Suite("Durations and server addresses")
struct SyntaxTests {
    @Test(arguments: [("500ms", 500), ("5s", 5000), ("2m", 120_000), ("1.5", 1500), ("14d", 1_209_600_000), ("0", 0)])
    func durations(_ text: String, _ milliseconds: Int64) {
        #expect(DurationSyntax.parse(text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "5 s", "-1s", "1e3", "ms", "5x"])
    func badDurations(_ text: String) {
        #expect(DurationSyntax.parse(text) == nil)
    }

    @Test func serverForms() {
        #expect(
            ServerTarget.parse("mx.example.com", relativeTo: "/")
                == .remote(host: "mx.example.com", port: 25, implicitTLS: false)
        )
        #expect(
            ServerTarget.parse("127.0.0.1:2525", relativeTo: "/")
                == .remote(host: "127.0.0.1", port: 2525, implicitTLS: false)
        )
        #expect(
            ServerTarget.parse("[::1]:2525", relativeTo: "/") == .remote(host: "::1", port: 2525, implicitTLS: false)
        )
        #expect(
            ServerTarget.parse("smtps://mx.example.com", relativeTo: "/")
                == .remote(host: "mx.example.com", port: 465, implicitTLS: true)
        )
        #expect(
            ServerTarget.parse("smtp://mx:587", relativeTo: "/") == .remote(host: "mx", port: 587, implicitTLS: false)
        )
        #expect(ServerTarget.parse("mock", relativeTo: "/") == .mock(policyFile: nil))
        // Spaces, tabs and Unicode space separators around an address are ignored, as Foundation's whitespace set.
        #expect(ServerTarget.parse(" \tmock\u{3000}", relativeTo: "/") == .mock(policyFile: nil))
        #expect(
            ServerTarget.parse("\u{A0}127.0.0.1:2525 ", relativeTo: "/")
                == .remote(host: "127.0.0.1", port: 2525, implicitTLS: false)
        )
        #expect(ServerTarget.parse("mock:p.yaml", relativeTo: "/work/x") == .mock(policyFile: "/work/x/p.yaml"))
        #expect(ServerTarget.parse("::1", relativeTo: "/") == nil, "a bare IPv6 address needs brackets")
        #expect(ServerTarget.parse("host:0", relativeTo: "/") == nil)
        // The scheme is matched in any ASCII case and removed as bytes: a combining mark after it stays in the host.
        #expect(
            ServerTarget.parse("SMTPS://mx.example.com", relativeTo: "/")
                == .remote(host: "mx.example.com", port: 465, implicitTLS: true)
        )
        #expect(ServerTarget.parse("MX:Example.COM", relativeTo: "/") == .mx(domain: "example.com", port: 25))
        #expect(ServerTarget.parse("mx:\u{301}example.com", relativeTo: "/") == nil)
    }

    /// `::1:2525` is refused (it is itself an IPv6 address, so the port cannot be told apart); the message says to
    /// use brackets instead of listing every form.
    @Test func anUnbracketedIPv6AddressIsToldToUseBrackets() throws {
        let brackets = "an IPv6 address goes in brackets: [::1]:2525, or [2001:db8::1] for port 25"
        for text in ["::1", "::1:2525", "2001:db8::1"] {
            #expect(ServerTarget.problem(with: text) == brackets, "\(text)")
        }
        for text in ["a b", "host:0", "mx:", "smtp://[::1", "mock:a:b"] {
            #expect(ServerTarget.problem(with: text).hasPrefix("accepted forms: host:port"), "\(text)")
        }
        #expect(ServerTarget.problem(with: "x", alsoAccepted: "a name").hasSuffix(", mock:FILE, or a name"))
        let error = try #require(onlyError("name: x\nserver: \"::1:2525\"\nsteps: []\n"))
        #expect(error.location.description == "t.yaml:2:9")
        #expect(error.hint == brackets)
    }
}
