import Foundation
import SMTPScenarioTesting
import ScenarioResults
import Testing

/// The real binary, end to end: exit codes, messages, reports, signals.
@Suite("smtp-scenario command line", .timeLimit(.minutes(2)))
struct CommandLineTests {
    private func write(_ files: [String: String]) throws -> URL {
        let directory = try Paths.temporaryDirectory("cli")
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func aBrokenFileExitsTwoWithItsLocationAndStillWritesJUnit() async throws {
        let directory = try write([
            "ok.yaml": "name: fine\nsteps: []\n",
            "broken.yaml": "name: broken\nsteps:\n  - send: EHLO a\n    expect: 2500\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let junit = directory.appendingPathComponent("out/report.xml")
        let result = try await ProcessRunner.smtpScenario(
            ["run", ".", "--junit", junit.path],
            currentDirectory: directory
        )
        #expect(result.status == 2)
        #expect(result.stderr.contains("broken.yaml:4:13: error: not a reply code: the value `2500`"))
        #expect(result.stderr.contains("1 error in 1 file; nothing was run"))
        #expect(!result.stdout.contains("PASS"), "nothing ran")
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains(#"<testcase name="compile broken.yaml""#))
        let validation = try await JUnitValidation.validate(junit)
        #expect(validation.ok, "\(validation.output)")
        let validate = try await ProcessRunner.smtpScenario(["validate", "broken.yaml"], currentDirectory: directory)
        #expect(validate.status == 2)
        #expect(validate.stderr.contains("broken.yaml:4:13"))
    }

    @Test func namedServersAreOverriddenByNameAndAnUnknownNameIsAUsageError() async throws {
        let directory = try write([
            "s.yaml": """
            suite: s
            servers: {mx: "127.0.0.1:1"}
            scenarios:
              - name: via mx
                server: mx
                steps: [{send: EHLO a}]
            """
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let unknown = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--server", "submission=127.0.0.1:25"],
            currentDirectory: directory
        )
        #expect(unknown.status == 2)
        #expect(
            unknown.stderr.contains(
                "--server submission=127.0.0.1:25: no file defines a server named 'submission' (named servers: mx)"
            )
        )
        let refused = try await ProcessRunner.smtpScenario(["run", "s.yaml"], currentDirectory: directory)
        #expect(refused.status == 1, "127.0.0.1:1 refuses")
        let overridden = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--server", "mx=mock"],
            currentDirectory: directory
        )
        #expect(overridden.status == 0, "\(overridden.stdout)\(overridden.stderr)")
    }

    /// Two reports on one file, or a report on a scenario file given to run, are usage errors before anything runs:
    /// the run wrote both reports to the one file, and overwrote the scenario file with its report.
    @Test func aReportFileThatIsAnotherReportOrAScenarioFileIsAUsageError() async throws {
        let scenario = "name: x\nsteps: [{send: EHLO a}]\n"
        let directory = try write(["s.yaml": scenario])
        defer { try? FileManager.default.removeItem(at: directory) }
        let twice = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--junit", "out/r.xml", "--json", "./out/../out/r.xml"],
            currentDirectory: directory
        )
        #expect(twice.status == 2)
        #expect(
            twice.stderr.contains(
                "--junit out/r.xml and --json ./out/../out/r.xml name the same file: each report needs its own"
            ),
            "\(twice.stderr)"
        )
        let overwriting = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--html", "\(directory.path)/s.yaml"],
            currentDirectory: directory
        )
        #expect(overwriting.status == 2)
        #expect(
            overwriting.stderr.contains(
                "--html \(directory.path)/s.yaml is the scenario file s.yaml: writing the report would overwrite it"
            ),
            "\(overwriting.stderr)"
        )
        #expect(try String(contentsOf: directory.appendingPathComponent("s.yaml"), encoding: .utf8) == scenario)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }

    /// `merge` names an input it cannot read and an output it cannot write with the system's reason; the output
    /// failure exits 74, as `run` does for a report, and leaves no temporary file.
    @Test func mergeNamesWhatItCannotReadOrWrite() async throws {
        let directory = try write(["s.yaml": "name: x\nsteps: [{send: EHLO a}]\n", "blocker": "a file\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--junit", "r.xml"],
            currentDirectory: directory
        )
        #expect(run.status == 0)
        let validation = try await JUnitValidation.validate(directory.appendingPathComponent("r.xml"))
        #expect(validation.ok, "\(validation.output)")
        let intoAFile = try await ProcessRunner.smtpScenario(
            ["merge", "blocker/out.xml", "r.xml"],
            currentDirectory: directory
        )
        #expect(intoAFile.status == 74)
        #expect(intoAFile.stderr.hasPrefix("error: cannot write blocker/out.xml: "), "\(intoAFile.stderr)")
        #expect(intoAFile.stderr.hasSuffix("/blocker is a file, not a folder\n"), "\(intoAFile.stderr)")
        let missing = try await ProcessRunner.smtpScenario(["merge", "out.xml", "no.xml"], currentDirectory: directory)
        #expect(missing.status == 2)
        #expect(missing.stderr == "error: cannot read no.xml: no such file or directory\n")
        // `-` is standard output for merge (the report alone there), and a usage error for run's reports; neither
        // writes a file named `-`, as both did.
        let toStandardOutput = try await ProcessRunner.smtpScenario(
            ["merge", "-", "r.xml"],
            currentDirectory: directory
        )
        #expect(toStandardOutput.status == 0, "\(toStandardOutput.stderr)")
        #expect(toStandardOutput.stdout.hasPrefix("<?xml"), "\(toStandardOutput.stdout.prefix(200))")
        #expect(toStandardOutput.stderr == "merged 1 JUnit report(s) to standard output\n")
        let merged = try Paths.temporaryDirectory("merged-stdout").appendingPathComponent("merged.xml")
        defer { try? FileManager.default.removeItem(at: merged.deletingLastPathComponent()) }
        try toStandardOutput.stdout.write(to: merged, atomically: true, encoding: .utf8)
        #expect(try await JUnitValidation.validate(merged).ok, "the report on standard output is valid JUnit")
        for option in ["--junit", "--tap"] {
            let dash = try await ProcessRunner.smtpScenario(
                ["run", "s.yaml", option, "-"],
                currentDirectory: directory
            )
            #expect(dash.status == 2)
            #expect(dash.stderr.contains("\(option) - would write a file named '-'"), "\(dash.stderr)")
            #expect(dash.stderr.contains("use \(option) /dev/stdout"))
        }
        let record = try await ProcessRunner.smtpScenario(
            ["record", "--server", "mock", "--out", "-"],
            currentDirectory: directory
        )
        #expect(record.status == 2)
        #expect(record.stderr.contains("--out - would write a file named '-'"), "\(record.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(left == ["blocker", "r.xml", "s.yaml"])
    }

    /// `explain` of text without a code quotes it escaped and cut at 80 bytes: it is often pasted from a log, and
    /// was echoed whole (100,000 bytes back for 100,000 in) with its control bytes raw to the terminal.
    @Test func explainQuotesTextWithoutACodeEscapedAndCut() async throws {
        let long = try await ProcessRunner.smtpScenario(["explain", String(repeating: "x", count: 100_000)])
        #expect(long.status == 2)
        #expect(
            long.stderr
                == "error: \"\(String(repeating: "x", count: 80))... (100000 bytes)\" starts with neither a reply "
                + "code (200-599) nor an enhanced status code (such as 5.7.1)\n"
        )
        let control = try await ProcessRunner.smtpScenario(["explain", "ok\u{1B}[2J"])
        #expect(control.status == 2)
        #expect(control.stderr.hasPrefix("error: \"ok\\x1b[2J\" starts with neither"), "\(control.stderr)")
        let good = try await ProcessRunner.smtpScenario(["explain", "550 5.7.1 Relay access denied"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("5.7.1  Delivery not authorized, message refused (RFC 3463)"))
    }

    /// A report path that is a link keeps the link and replaces what it points to, and one that leads to a stream
    /// (here through links to /proc/self/fd/1 and 2, as /dev/stdout is) is written in place, after what the console
    /// wrote there. Before, a temporary file was renamed onto the path: the link became a plain file, and
    /// `--junit /dev/stdout` replaced /dev/stdout itself (as root) or failed (as anyone else). The test uses links of
    /// its own so that no version of the code can replace the machine's /dev/stdout.
    @Test func aReportOnALinkOrAStreamIsWrittenThroughIt() async throws {
        let directory = try write(["s.yaml": "name: x\nsteps: [{send: EHLO a}]\n", "target.xml": "old\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = FileManager.default
        try files.createSymbolicLink(
            atPath: directory.appendingPathComponent("link.xml").path,
            withDestinationPath: "target.xml"
        )
        try files.createSymbolicLink(
            atPath: directory.appendingPathComponent("out").path,
            withDestinationPath: "/proc/self/fd/1"
        )
        try files.createSymbolicLink(
            atPath: directory.appendingPathComponent("err").path,
            withDestinationPath: "/proc/self/fd/2"
        )
        let linked = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--junit", "link.xml"],
            currentDirectory: directory
        )
        #expect(linked.status == 0, "\(linked.stderr)")
        #expect(
            try files.destinationOfSymbolicLink(atPath: directory.appendingPathComponent("link.xml").path)
                == "target.xml"
        )
        let target = try String(contentsOf: directory.appendingPathComponent("target.xml"), encoding: .utf8)
        #expect(target.contains("<testsuites"))
        let validation = try await JUnitValidation.validate(directory.appendingPathComponent("target.xml"))
        #expect(validation.ok, "\(validation.output)")

        let streamed = try await ProcessRunner.smtpScenario(
            ["run", "s.yaml", "--junit", "out", "--json", "err", "--color", "never"],
            currentDirectory: directory
        )
        #expect(streamed.status == 0, "\(streamed.stderr)")
        #expect(
            try files.destinationOfSymbolicLink(atPath: directory.appendingPathComponent("out").path)
                == "/proc/self/fd/1"
        )
        let summary = try #require(streamed.stdout.range(of: "1 passed, 0 failed"))
        let report = try #require(streamed.stdout.range(of: "<testsuites"), "\(streamed.stdout)")
        #expect(summary.upperBound < report.lowerBound, "the report follows the console's output")
        #expect(streamed.stderr.contains("\"scenarios\""), "\(streamed.stderr)")
    }

    @Test func librariesAreCheckedAndCountedApart() async throws {
        let directory = try write([
            "lib/g.yaml": "groups:\n  hello: {steps: [{send: EHLO a, expect: 250}]}\n",
            "x.yaml": "import: {l: lib/g.yaml}\nname: x\nsteps: [{call: l.hello}]\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ProcessRunner.smtpScenario(["validate", "."], currentDirectory: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "1 file, 1 scenario, 1 library: OK\n")
        let run = try await ProcessRunner.smtpScenario(["run", "."], currentDirectory: directory)
        #expect(run.stdout.contains("1 passed, 0 failed"), "\(run.stdout)")
    }

    /// A file named through `..` is placed where it is: its imports are found beside it, its messages name it as
    /// given, and naming it twice differently still compiles it once. (Foundation's URL dropped the `..` and looked
    /// for the import in the working folder.)
    @Test func aFileNamedThroughTheParentFolderFindsItsImports() async throws {
        let directory = try write([
            "other/lib.yaml": "groups:\n  hello: {steps: [{send: EHLO a, expect: 250}]}\n",
            "other/x.yaml": "import: {l: lib.yaml}\nname: x\nsteps: [{call: l.hello}]\n",
            "here/y.yaml": "name: y\nsteps: [{send: EHLO a, expect: 250}, {call: nowhere}]\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let here = directory.appendingPathComponent("here")
        let result = try await ProcessRunner.smtpScenario(
            ["validate", "../other/x.yaml", "../here/../other/./x.yaml"],
            currentDirectory: here
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "1 file, 1 scenario: OK\n")
        let broken = try await ProcessRunner.smtpScenario(["validate", "../here/y.yaml"], currentDirectory: here)
        #expect(broken.status == 2)
        #expect(broken.stderr.hasPrefix("y.yaml:2:"), "\(broken.stderr)")
    }

    @Test func aWrongExpectationFailsWithExpectedGotAndTranscript() async throws {
        let directory = try write([
            "wrong.yaml":
                "name: expects the wrong code\nsteps:\n  - send: EHLO a\n  - send: MAIL FROM:<a@example.org>\n  - send: RCPT TO:<nobody@example.com>\n    expect: 250\n"
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let junit = directory.appendingPathComponent("report.xml")
        let result = try await ProcessRunner.smtpScenario(
            ["run", "wrong.yaml", "--junit", junit.path, "--color", "never"],
            currentDirectory: directory
        )
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL  expects the wrong code"))
        #expect(result.stdout.contains("wrong.yaml:5: step 3 \"RCPT TO:<nobody@example.com>\""))
        #expect(result.stdout.contains("expected 250 (requested action completed)"))
        #expect(
            result.stdout.contains(
                "got      550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table (550 = mailbox unavailable; 5.1.1 = bad destination mailbox address)"
            )
        )
        #expect(result.stdout.contains("C: RCPT TO:<nobody@example.com>"))
        #expect(result.stdout.contains("0 passed, 1 failed, 0 skipped"))
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(
            xml.contains(
                #"<failure type="UnexpectedReply" message="step 3 &quot;RCPT TO:&lt;nobody@example.com&gt;&quot;: expected 250"#
            )
        )
        #expect(try await JUnitValidation.validate(junit).ok)
    }

    @Test func tagsSelectAndAnEmptySelectionIsAUsageError() async throws {
        let directory = try write([
            "tags.yaml":
                "suite: t\nscenarios:\n  - name: a\n    tags: [x]\n    steps: []\n  - name: b\n    tags: [y]\n    steps: []\n"
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let only = try await ProcessRunner.smtpScenario(
            ["run", "tags.yaml", "--tag", "x", "--color", "never"],
            currentDirectory: directory
        )
        #expect(only.status == 0)
        #expect(only.stdout.contains("PASS  a"))
        #expect(!only.stdout.contains("PASS  b"))
        let none = try await ProcessRunner.smtpScenario(
            ["run", "tags.yaml", "--tag", "x", "--exclude-tag", "x"],
            currentDirectory: directory
        )
        #expect(none.status == 2)
        #expect(none.stderr.contains("no scenarios left to run with --tag x and --exclude-tag x"))
    }

    @Test func usageErrors() async throws {
        let missing = try await ProcessRunner.smtpScenario(["run", "/no/such/dir"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no such file or folder: /no/such/dir"))
        let badServer = try await ProcessRunner.smtpScenario([
            "run", "scenarios/telnet-session.yaml", "--server", "a:b:c",
        ])
        #expect(badServer.status == 2)
        let badTimeout = try await ProcessRunner.smtpScenario(["run", "--timeout", "soon"])
        #expect(badTimeout.status == 2, "every usage error exits 2, ArgumentParser's too")
        #expect(badTimeout.stderr.contains("--timeout soon is not a duration"))
        #expect(badTimeout.stderr.contains("Usage: smtp-scenario run"))
        let zeroTimeout = try await ProcessRunner.smtpScenario(["run", "--timeout", "0ms"])
        #expect(zeroTimeout.status == 2)
        #expect(zeroTimeout.stderr.contains("--timeout 0ms must be longer than 0"), "not 'is not a duration'")
        let version = try await ProcessRunner.smtpScenario(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.2.0")
        let help = try await ProcessRunner.smtpScenario(["run", "--help"])
        #expect(help.stdout.contains("Example:"))
    }

    @Test func shellCompletionScriptsLoadInTheirShells() async throws {
        let directory = try Paths.temporaryDirectory("completion")
        let bash = try await ProcessRunner.smtpScenario(["--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        for subcommand in ["run", "validate", "serve", "relay-check", "merge", "explain", "record"] {
            #expect(bash.stdout.contains(subcommand), "\(subcommand) is completed")
        }
        let script = directory.appendingPathComponent("smtp-scenario.bash")
        try bash.stdout.write(to: script, atomically: true, encoding: .utf8)
        let loaded = try await ProcessRunner.run(
            "/bin/bash",
            ["-c", "source \"$0\" && complete -p smtp-scenario", script.path]
        )
        #expect(loaded.status == 0, "\(loaded.stderr)")
        #expect(loaded.stdout.contains("smtp-scenario"))
        for shell in ["zsh", "fish"] {
            let generated = try await ProcessRunner.smtpScenario(["--generate-completion-script", shell])
            #expect(generated.status == 0 && generated.stdout.contains("record"), "\(shell)")
        }
    }

    @Test func deliveredStepsSentToAnotherServerAreAUsageError() async throws {
        let refused = try await ProcessRunner.smtpScenario([
            "run", "scenarios/delivery", "--server", "127.0.0.1:1", "--color", "never",
        ])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("has a delivered step, which looks into the embedded mock's store"))
        #expect(refused.stderr.contains("--exclude-tag mock-store"))
        #expect(!refused.stdout.contains("FAIL"), "nothing ran")
        let mock = try await ProcessRunner.smtpScenario(["run", "scenarios/delivery", "--server", "mock"])
        #expect(mock.status == 0, "\(mock.stdout)\(mock.stderr)")
    }

    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func anInterruptedRunStillWritesItsReports(_ signal: Int32, _ status: Int32) async throws {
        let directory = try write([
            "slow.yaml":
                "suite: s\nscenarios:\n  - name: quick\n    steps: []\n  - name: slow\n    steps:\n      - wait: 60s\n"
                + "  - name: later one\n    steps: []\n  - name: later two\n    steps: []\n"
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let junit = directory.appendingPathComponent("report.xml")
        let json = directory.appendingPathComponent("report.json")
        let tap = directory.appendingPathComponent("report.tap")
        let html = directory.appendingPathComponent("report.html")
        let run = try BackgroundProcess(
            Paths.binary.path,
            [
                "run", "slow.yaml", "--junit", junit.path, "--json", json.path, "--tap", tap.path, "--html", html.path,
                "--color", "never", "--jobs", "1", "--annotations", "github",
            ],
            currentDirectory: directory
        )
        try await run.waitForOutput(containing: "PASS  quick")
        #expect(await run.stop(signal: signal) == status)
        let xml = try String(contentsOf: junit, encoding: .utf8)
        // The reports list every scenario, the two that never started included; the console shows the one that was
        // running when the signal came, and counts the two in a line instead of a block each (a large suite
        // interrupted early printed three lines for every scenario it never ran, and an annotation for each).
        #expect(xml.contains(#"tests="4" failures="0" errors="3""#))
        #expect(xml.contains(#"<error type="Interrupted""#))
        #expect(xml.contains(#"name="later two""#))
        #expect(try await JUnitValidation.validate(junit).ok)
        #expect(run.output.contains("ERROR slow"))
        #expect(run.output.contains("2 scenarios were not started: the run was interrupted\n"))
        #expect(run.output.contains("1 passed, 3 failed, 0 skipped (3 could not run)"))
        #expect(!run.output.contains("later"), "\(run.output)")
        #expect(run.output.components(separatedBy: "::error ").count == 2, "one annotation, for slow: \(run.output)")
        // Every format is complete and in place (written to a temporary name, then renamed).
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        #expect(object["interrupted"] as? Bool == true)
        #expect((object["scenarios"] as? [Any])?.count == 4)
        #expect(try await ExternalValidators.validateJSON([json], schema: "results.schema.json").ok)
        let tapText = try String(contentsOf: tap, encoding: .utf8)
        #expect(tapText.hasPrefix("TAP version 13\n1..4\nok 1 - s: quick\nnot ok 2 - s: slow\n"))
        #expect(tapText.contains("not ok 4 - s: later two\n"))
        #expect(tapText.hasSuffix("# interrupted\n"))
        #expect(try String(contentsOf: html, encoding: .utf8).hasSuffix("</body></html>\n"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasSuffix(".tmp")
        }
        #expect(leftovers.isEmpty, "no temporary files left: \(leftovers)")
    }

    @Test func secretsAppearInNoOutput() async throws {
        let secret = "Tr0ub4dor-secret"
        let directory = try write([
            "policy.yaml": "# yaml-language-server: $schema=x\nauth-requires-tls: false\nusers: {demo: \(secret)}\n",
            "auth.yaml": """
            name: secrets stay secret
            server: mock:policy.yaml
            vars:
              password: ${env.TEST_SMTP_PASSWORD}
            secrets: [password]
            steps:
              - send: EHLO a
              - auth: {mechanism: PLAIN, username: demo, password: "${password}"}
              - send: NOOP ${password}
              - send: RSET ${token}
                expect: 251
            """,
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let junit = directory.appendingPathComponent("report.xml")
        let result = try await ProcessRunner.smtpScenario(
            ["run", "auth.yaml", "--junit", junit.path, "--verbose", "--secret", "token=\(secret)-2"],
            environment: ["TEST_SMTP_PASSWORD": secret],
            currentDirectory: directory
        )
        #expect(result.status == 1, "the last step fails on purpose, so the failure message is printed too")
        let xml = try String(contentsOf: junit, encoding: .utf8)
        for (name, output) in [("stdout", result.stdout), ("stderr", result.stderr), ("junit", xml)] {
            #expect(!output.contains(secret), "\(name) leaks the secret")
            #expect(
                !output.contains(Data("\0demo\0\(secret)".utf8).base64EncodedString()),
                "\(name) leaks the AUTH PLAIN blob"
            )
        }
        #expect(result.stdout.contains("C: AUTH PLAIN ***"))
        #expect(result.stdout.contains("C: NOOP ***"))
        #expect(result.stdout.contains("RSET ***"))
    }

    @Test func relayCheckVerdictsAgainstTheMock() async throws {
        let directory = try write(["open.yaml": "# yaml-language-server: $schema=x\nrelay: open\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let closed = try await ProcessRunner.smtpScenario(["relay-check", "--server", "mock", "--color", "never"])
        #expect(closed.status == 0)
        #expect(closed.stdout.contains("not an open relay: 16/16 refused"))
        #expect(closed.stdout.contains("re-check with --domain"))
        let junit = directory.appendingPathComponent("relay.xml")
        let open = try await ProcessRunner.smtpScenario(
            ["relay-check", "--server", "mock:open.yaml", "--junit", junit.path, "--color", "never"],
            currentDirectory: directory
        )
        #expect(open.status == 1)
        #expect(open.stdout.contains("OPEN RELAY: 14/16 accepted"))
        #expect(open.stdout.contains("accepted: <\"T@D\">  RCPT TO:<\"relaytest@relay-test.invalid\"> -> 250 2.1.5 Ok"))
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains(#"<testsuite name="Open relay" tests="16" failures="14""#))
        #expect(xml.contains(#"<testcase name="Relay attempt [form=&lt;D!T@S&gt;]""#))
        #expect(try await JUnitValidation.validate(junit).ok)
        let unreachable = try await ProcessRunner.smtpScenario(["relay-check", "--server", "127.0.0.1:1"])
        #expect(unreachable.status == 3)
        #expect(unreachable.stdout.contains("INCONCLUSIVE: 16/16 forms could not be tested"))
        let confirmWithoutDomain = try await ProcessRunner.smtpScenario([
            "relay-check", "--server", "mock", "--confirm-with-data",
        ])
        #expect(confirmWithoutDomain.status == 2)
    }

    @Test func anEmbeddedMockWithoutAWritableTMPDIRSaysSoAndHowToFixIt() async throws {
        let directory = try write(["s.yml": "name: x\nsteps:\n  - send: EHLO a\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        // A regular file as TMPDIR: no folder can be made under it, even by root (which ignores permissions).
        let notAFolder = directory.appendingPathComponent("not-a-folder")
        try Data().write(to: notAFolder)
        let result = try await ProcessRunner.smtpScenario(
            ["run", "s.yml", "--color", "never"],
            environment: ["TMPDIR": notAFolder.path],
            currentDirectory: directory
        )
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("cannot create the message store folder \(notAFolder.path)/smtp-scenario-mock-"))
        #expect(result.stdout.contains(": not a directory (the embedded mock keeps accepted messages under TMPDIR"))
        #expect(result.stdout.contains("set TMPDIR to a writable folder)"))
    }

    /// `run | head -1`: once the reader has gone, the run ends as on Ctrl-C and still writes its other reports (it
    /// crashed in Foundation's FileHandle.write before, leaving no report).
    @Test func standardOutputWithoutAReaderEndsTheRunAndTheReportsAreStillWritten() async throws {
        let directory = try write([
            "s.yml":
                "name: x\nmatrix:\n  n: [\((1...50).map(String.init).joined(separator: ", "))]\nsteps:\n  - send: EHLO a\n"
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ProcessRunner.smtpScenario(
            ["run", "s.yml", "--jobs", "1", "--junit", "r.xml", "--color", "never"],
            currentDirectory: directory,
            closedStandardOutput: true
        )
        #expect(result.status == 141, "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"), "\(result.stderr)")
        // Killed by SIGPIPE would also be 141, but would leave no report.
        let junit = try String(contentsOf: directory.appendingPathComponent("r.xml"), encoding: .utf8)
        #expect(junit.contains("tests=\"50\""))
        #expect(junit.contains("interrupted"))
        let validation = try await JUnitValidation.validate(directory.appendingPathComponent("r.xml"))
        #expect(validation.ok, "\(validation.output)")
    }

    @Test func standardOutputThatCannotBeWrittenEndsTheRunWith74AndSaysWhy() async throws {
        let directory = try write(["s.yml": "name: x\nsteps:\n  - send: EHLO a\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ProcessRunner.run(
            "/bin/sh",
            ["-c", "exec \"$0\" run s.yml --junit r.xml --color never > /dev/full", Paths.binary.path],
            currentDirectory: directory
        )
        #expect(result.status == 74, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("cannot write standard output: no space left on device; finishing reports"))
        let junit = try String(contentsOf: directory.appendingPathComponent("r.xml"), encoding: .utf8)
        #expect(junit.contains("tests=\"1\""))
        let validation = try await JUnitValidation.validate(directory.appendingPathComponent("r.xml"))
        #expect(validation.ok, "\(validation.output)")
    }

    /// A report that cannot be written whole (a full disk; here a file size limit of 1 MiB, which also stops its
    /// spill to a temporary file) is an error that names the file and the reason, and the run's exit status says
    /// so: it crashed in Foundation's FileHandle.write before, leaving a temporary file behind.
    @Test func aReportThatCannotBeWrittenIsNamedAndTheRunExits74() async throws {
        let count = 3000  // about 2 MB of JUnit, spilled past 1 MiB
        let directory = try write([
            "s.yml":
                "name: x\nmatrix:\n  n: [\((1...count).map(String.init).joined(separator: ","))]\nsteps:\n  - send: EHLO a\n"
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ProcessRunner.run(
            "/bin/sh",
            [
                "-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" run s.yml --junit r.xml --color never > /dev/null",
                Paths.binary.path,
            ],
            environment: ["TMPDIR": directory.path],
            currentDirectory: directory
        )
        #expect(result.status == 74, "\(result.stderr)")
        #expect(result.stderr.contains("error: JUnit report: cannot write r.xml: file too large"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(left == ["s.yml"], "no report, no temporary file left: \(left)")
    }

    /// `--jobs` beyond what the file descriptor limit holds runs fewer at once, with a warning, instead of failing
    /// the scenarios that found no descriptor for their connection (175 of 200 failed with `too many open files`
    /// at `ulimit -n 40`, `--jobs 100`).
    @Test func jobsBeyondTheDescriptorLimitRunFewerAtOnceWithAWarning() async throws {
        let result = try await runThreeHundredScenarios(jobs: 500, limit: "ulimit -n 100")
        #expect(result.status == 0, "\(result.stdout.suffix(2000))")
        #expect(result.stdout.contains("300 passed, 0 failed"))
        // Two descriptors a scenario, 64 kept free, and the few open at the start (standard streams and so on).
        let warning = try #require(
            try Regex(
                #"^warning: --jobs 500 needs up to (\d+) open files, above this process's limit of 100 \(`ulimit -n`, already raised to its hard limit\): running (\d+) scenarios at a time\n$"#
            ).wholeMatch(in: result.stderr),
            "\(result.stderr)"
        )
        let needed = try #require(Int(warning.output[1].substring ?? ""))
        let running = try #require(Int(warning.output[2].substring ?? ""))
        let open = needed - 1000 - 64
        #expect((3...20).contains(open), "open at the start: \(open)")
        #expect(running == (100 - open - 64) / 2)
    }

    /// A low soft limit (1,024 by default) is raised to the hard limit at start, so `--jobs` in the hundreds runs
    /// as asked without the user raising it.
    @Test func theSoftDescriptorLimitIsRaisedToTheHardLimit() async throws {
        var limit = rlimit()
        #expect(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0)
        let jobs = min(200, (Int(clamping: limit.rlim_max) - 64) / 2)
        try #require(jobs > 50, "the hard limit \(limit.rlim_max) is too low for this test")
        let result = try await runThreeHundredScenarios(jobs: jobs, limit: "ulimit -S -n 40")
        #expect(result.status == 0, "\(result.stdout.suffix(2000))")
        #expect(result.stdout.contains("300 passed, 0 failed"))
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    /// Under an open-file limit too low for the event loops, NIO stopped the process with a fatal error (exit 132,
    /// `epoll_create`/`eventfd`/`timerfd_create: Too many open files`) before anything ran. The commands that
    /// connect now refuse with the numbers instead (exit 71), the ones that do not still work, and the minimum the
    /// message names is enough to run a scenario against the embedded mock.
    @Test func aDescriptorLimitTooLowForTheEventLoopsIsRefusedWithTheMinimum() async throws {
        let directory = try write(["s.yml": "name: x\nsteps:\n  - send: EHLO a\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        func underLimit(_ limit: Int, _ arguments: String) async throws -> ProcessResult {
            try await runUnderLimit("ulimit -n \(limit)", arguments, in: directory)
        }
        let refused = try await underLimit(12, "run s.yml --color never")
        #expect(refused.status == 71, "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        #expect(!refused.stderr.contains("Fatal error"))
        let message = try #require(
            try Regex(
                #"^error: too few file descriptors: this process may have 12 open \(`ulimit -n`, already raised to its hard limit\), and smtp-scenario needs at least (\d+) to start its \d+ event loops? and connect \(\d+ (is|are) open now\); raise the limit, e\.g\. `ulimit -n 1024`\n$"#
            ).wholeMatch(in: refused.stderr),
            "\(refused.stderr)"
        )
        let minimum = try #require(Int(message.output[1].substring ?? ""))
        let serve = try await underLimit(12, "serve --listen 127.0.0.1:0")
        #expect(serve.status == 71, "\(serve.stderr)")
        #expect(serve.stderr.hasPrefix("error: too few file descriptors"))

        let listed = try await underLimit(12, "run --list s.yml")
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("s.yml:1 x"))
        let validated = try await underLimit(12, "validate s.yml")
        #expect(validated.status == 0, "\(validated.stderr)")

        var atMinimum = try await underLimit(minimum, "run s.yml --color never")
        // The count includes what the Swift runtime has opened by then, and one of its threads may still be
        // creating a descriptor of its own (Dispatch's timer) as the count is taken: a second start can count one
        // more than the first. Then the minimum it names is the one to try.
        if atMinimum.status == 71,
            let again = try Regex(#"needs at least (\d+) "#).firstMatch(in: atMinimum.stderr),
            let named = Int(again.output[1].substring ?? ""), named == minimum + 1
        {
            atMinimum = try await underLimit(named, "run s.yml --color never")
        }
        #expect(atMinimum.status == 0, "\(atMinimum.stdout) \(atMinimum.stderr)")
        #expect(atMinimum.stdout.contains("1 passed, 0 failed"))
    }

    /// 300 one-step scenarios against the embedded mock at `--jobs jobs`, run by a shell that first sets the
    /// descriptor limit with `limit` (a `ulimit` command).
    private func runThreeHundredScenarios(jobs: Int, limit: String) async throws -> ProcessResult {
        let directory = try write([
            "s.yml":
                "name: x\nmatrix:\n  n: [\((1...300).map(String.init).joined(separator: ","))]\nsteps:\n  - send: EHLO a\n"
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await runUnderLimit(limit, "run s.yml --jobs \(jobs) --color never", in: directory)
    }

    /// smtp-scenario with `arguments` (split by the shell), run in `directory` by a shell that first sets the
    /// descriptor limit with `limit` (a `ulimit` command).
    private func runUnderLimit(_ limit: String, _ arguments: String, in directory: URL) async throws -> ProcessResult {
        try await ProcessRunner.run(
            "/bin/sh",
            ["-c", "\(limit); exec \"$0\" \(arguments)", Paths.binary.path],
            currentDirectory: directory
        )
    }

    /// `--from` and `--to` (local parts) and `--domain` go into the MAIL FROM and RCPT TO lines of every form; a
    /// line break there made each form two commands. They are now a usage error, and ordinary values still work.
    @Test func relayCheckAddressPartsAreCheckedBeforeUse() async throws {
        for (option, value) in [
            ("--from", "a@b.example\r\nRSET"), ("--to", "x y"), ("--domain", "<evil>"), ("--from", ""),
        ] {
            let result = try await ProcessRunner.smtpScenario(["relay-check", "--server", "mock", option, value])
            #expect(result.status == 2, "\(option) \(value): \(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("Error: \(option) must be a "), "\(result.stderr)")
            #expect(result.stdout.isEmpty, "nothing ran")
        }
        let ordinary = try await ProcessRunner.smtpScenario([
            "relay-check", "--server", "mock", "--from", "post.master", "--to", "rcpt+tag", "--domain",
            "relay.example.org",
        ])
        #expect(ordinary.status == 0, "\(ordinary.stdout)\(ordinary.stderr)")
        #expect(ordinary.stdout.contains("not an open relay"))
    }

    @Test func relayCheckTellsAuthenticationRequiredApart() async throws {
        let directory = try write(["auth.yaml": "# yaml-language-server: $schema=x\nrequire-auth: true\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ProcessRunner.smtpScenario(
            ["relay-check", "--server", "mock:auth.yaml"],
            currentDirectory: directory
        )
        #expect(result.status == 0)
        #expect(result.stdout.contains("16 form(s) refused at MAIL with 530: authentication required"))
    }
}

@Suite("smtp-scenario command line: policies and confirmation", .timeLimit(.minutes(2)))
struct CommandLinePolicyTests {
    @Test func aBrokenPolicyFileIsALocatedUsageError() async throws {
        let directory = try Paths.temporaryDirectory("policy")
        defer { try? FileManager.default.removeItem(at: directory) }
        try "relay: sometimes\n".write(
            to: directory.appendingPathComponent("bad.yaml"),
            atomically: true,
            encoding: .utf8
        )
        try "name: x\nserver: mock:bad.yaml\nsteps: []\n".write(
            to: directory.appendingPathComponent("s.yml"),
            atomically: true,
            encoding: .utf8
        )
        let result = try await ProcessRunner.smtpScenario(["run", "s.yml"], currentDirectory: directory)
        #expect(result.status == 2)
        #expect(result.stderr.contains("bad.yaml:1:8: error: relay must be closed, open, or a list of client networks"))
        #expect(result.stderr.contains("invalid mock policy; nothing was run"))
    }

    @Test func confirmWithDataSendsOnlyToTheGivenDomain() async throws {
        let directory = try Paths.temporaryDirectory("confirm")
        defer { try? FileManager.default.removeItem(at: directory) }
        try "relay: open\n".write(to: directory.appendingPathComponent("open.yaml"), atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.smtpScenario(
            ["relay-check", "--server", "mock:open.yaml", "--domain", "relay-test.example.net", "--confirm-with-data"],
            currentDirectory: directory
        )
        #expect(result.status == 1)
        #expect(result.stdout.contains("confirming 14 accepted form(s) with DATA"))
        #expect(result.stdout.contains("14/14 messages accepted for delivery"))
    }
}
