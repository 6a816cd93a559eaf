import Foundation
import LocatedYAML
import Testing

@testable import ScenarioLanguage

/// Issue 9's compiler defects: no input crashes, hangs or exhausts the compiler; each bound is a located error.
@Suite("Compiler input bounds")
struct InputBoundsTests {
    @Test func anAliasBombIsRefusedAtTheAliasThatPassesTheLimit() throws {
        var lines = ["name: x", "x0: &a0 [a]"]
        for level in 1...8 {
            lines.append(
                "x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ",") + "]"
            )
        }
        lines.append("steps: []")
        let error = try #require(onlyError(lines.joined(separator: "\n")))
        #expect(error.code == .limitExceeded)
        #expect(error.message == "aliases expand to more than 100000 nodes")
        #expect(error.location.line == 7, "the first alias whose copies pass the limit")
    }

    @Test func ordinaryAnchorsAndAliasesStillWork() throws {
        let compiled = ScenarioCompiler.compile(
            source: """
                suite: s
                scenarios:
                  - name: one
                    steps: &hello
                      - send: EHLO a.example
                        expect: 250
                  - name: two
                    steps: *hello
                """,
            displayPath: "t.yaml",
            options: CompileOptions()
        )
        #expect(compiled.diagnostics.isEmpty, "\(compiled.diagnostics)")
        #expect(compiled.file?.scenarios.map(\.steps.count) == [1, 1])
    }

    @Test func aVariableBombIsOneErrorAtTheVariableThatPassesTheLimit() throws {
        var lines = ["name: x", "vars:", "  v0: " + String(repeating: "a", count: 16)]
        for level in 1...7 { lines.append("  v\(level): " + String(repeating: "${v\(level - 1)}", count: 16)) }
        lines.append("steps: []")
        let error = try #require(onlyError(lines.joined(separator: "\n")))
        #expect(error.code == .limitExceeded)
        #expect(error.message == "this value expands to more than 1 MiB (1048576 bytes)")
        #expect(error.location.line == 8, "v5 is the first past 1 MiB; later variables add no errors")
    }

    @Test func anUnusedVariableIsCheckedToo() throws {
        let big = String(repeating: "${b}", count: 20)
        let yaml = "name: x\nvars:\n  b: \(String(repeating: "x", count: 60_000))\n  unused: \(big)\nsteps: []\n"
        let error = try #require(onlyError(yaml))
        #expect(error.code == .limitExceeded)
        #expect(error.location.line == 4)
    }

    @Test(arguments: [
        "timeout: 10000000000000000\nsteps: []",
        "steps:\n  - wait: 1e400",
        "steps:\n  - wait: 99999999999999999999999d",
        "steps:\n  - starttls: {}\n    expect: {tls: {certificate: {valid-for-at-least: 4000d}}}",
    ])
    func aHugeDurationIsALocatedErrorNotACrash(_ body: String) throws {
        let error = try #require(onlyError("name: x\n" + body + "\n"))
        #expect(error.code == .limitExceeded || error.code == .badDuration)
        if error.code == .limitExceeded { #expect(error.message.hasSuffix("the largest duration accepted, 3650d")) }
    }

    @Test func theLargestDurationIsAccepted() {
        #expect(DurationSyntax.parse("3650d") == .seconds(3650 * 86_400))
        #expect(DurationSyntax.read("3650.001d") == .tooLong)
    }

    @Test func fullwidthDigitsAreNotHex() throws {
        let error = try #require(onlyError("name: x\nsteps:\n  - raw: {hex: \"\u{FF10}\u{FF11}\"}\n"))
        #expect(error.message == "hex must be an even number of hex digits")
        #expect(FileCompiler.fingerprint(String(repeating: "\u{FF10}", count: 64)) == nil)
    }

    @Test func aMatrixWhoseProductOverflowsIsRefused() throws {
        let axes = (0..<40).map { "a\($0): [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" }.joined(separator: ", ")
        let error = try #require(onlyError("name: x\nmatrix: {\(axes)}\nsteps: []\n"))
        #expect(error.message == "matrix expands to more than 10000 scenarios")
    }

    @Test func aSecretInsideABadRegexIsMaskedInTheError() throws {
        var options = CompileOptions()
        options.environment = ["PASSWORD": "hunter2"]
        let error = try #require(
            onlyError(
                "name: x\nvars: {p: \"${env.PASSWORD}\"}\nsecrets: [p]\nsteps:\n  - send: NOOP\n    expect: {text: \"/(${p}/\"}\n",
                options: options
            )
        )
        #expect(error.code == .badRegex)
        #expect(!error.description.contains("hunter2"))
        #expect(error.message == "invalid regular expression /(***/")
    }

    @Test func aTLSVersionRangeWithNothingInItIsRefused() throws {
        let error = try #require(
            onlyError("name: x\ntls: {min-version: \"1.3\", max-version: \"1.0\"}\nsteps: []\n")
        )
        #expect(error.code == .conflictingKeys)
        #expect(error.location.description == "t.yaml:2:27", "at max-version")
    }

    @Test func aHugeValueIsCutInTheMessageSayingHowMuchWasLeftOut() throws {
        let pattern = String(repeating: "(", count: 100_000)
        let error = try #require(onlyError("name: x\nsteps:\n  - send: NOOP\n    expect: {text: \"/\(pattern)/\"}\n"))
        #expect(error.message.count < 500)
        #expect(error.message.contains("characters left out"))
        let wrong = try #require(
            onlyError("name: x\nsteps:\n  - send: NOOP\n    expect: \(String(repeating: "9", count: 200_000))\n")
        )
        #expect(wrong.message.contains("more characters"))
        #expect(wrong.message.count < 300)
    }

    /// Texts within the limit come back whole (counted in bytes first, in characters only when longer); longer
    /// ones are cut at the limit in characters, never inside one.
    @Test(arguments: [
        ("EHLO x", 10, "EHLO x"), ("abcdefghij", 10, "abcdefghij"),
        ("abcdefghijk", 10, "abcdefghij... (1 more character)"),
        ("\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}", 6, "\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}\u{E9}"),
        ("\u{1F1E9}\u{1F1EA}\u{1F1EB}\u{1F1F7}x", 2, "\u{1F1E9}\u{1F1EA}\u{1F1EB}\u{1F1F7}... (1 more character)"),
        ("e\u{301}e\u{301}e\u{301}", 2, "e\u{301}e\u{301}... (1 more character)"), ("", 0, ""),
    ])
    func abbreviationCutsByCharactersAndKeepsShortTextWhole(_ text: String, _ limit: Int, _ expected: String) {
        #expect(Abbreviation.text(text, limit: limit) == expected)
    }

    @Test func plainNullsAreNullAndNothingElseIs() throws {
        // YAML 1.2's core schema: a plain empty value, ~, null, Null and NULL are null; other spellings, and any
        // quoted scalar, are strings.
        let text = """
            a: ~
            b: null
            c: Null
            d: NULL
            e:
            f: "null"
            g: '~'
            h: nulL
            i: nil
            j: none
            k: ~~
            l: nul
            m: nulls
            n: ""
            """
        let mapping = try #require(try YAMLDocument.parse(text, file: "n.yaml")?.mapping)
        for key in ["a", "b", "c", "d", "e"] {
            #expect(mapping[key]?.isNull == true, "\(key)")
        }
        let strings = [
            "f": "null", "g": "~", "h": "nulL", "i": "nil", "j": "none", "k": "~~", "l": "nul", "m": "nulls",
        ]
        for (key, value) in strings {
            #expect(mapping[key]?.isNull == false, "\(key)")
            #expect(mapping[key]?.scalar == value, "\(key)")
        }
        #expect(mapping["n"]?.isNull == false, "a quoted empty string is a string")
        #expect(mapping["n"]?.scalar == "")
    }

    @Test func aFileLargerThanTheLimitIsRefusedBeforeParsing() throws {
        var limits = YAMLDocument.Limits()
        limits.maxBytes = 100
        #expect(throws: Diagnostic.self) {
            try YAMLDocument.parse("name: " + String(repeating: "x", count: 200), file: "t.yaml", limits: limits)
        }
    }

    @Test func loadingAFileChecksItsSizeItsKindAndItsEncoding() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("load-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var limits = YAMLDocument.Limits()
        limits.maxBytes = 100
        func loadError(_ name: String) -> Diagnostic? {
            do {
                _ = try YAMLDocument.load(path: folder + "/" + name, displayPath: name, limits: limits)
                return nil
            } catch { return error }
        }

        let large = "name: " + String(repeating: "x", count: 200)
        #expect(FileManager.default.createFile(atPath: folder + "/large.yaml", contents: Data(large.utf8)))
        #expect(loadError("large.yaml")?.message == "the file is 206 bytes, more than the limit of 100")
        #expect(
            FileManager.default.createFile(
                atPath: folder + "/latin1.yaml",
                contents: Data([0x6E, 0x3A, 0x20, 0xE9, 0x0A])
            )
        )
        #expect(loadError("latin1.yaml")?.message == "the file is not valid UTF-8")
        try FileManager.default.createDirectory(atPath: folder + "/dir.yaml", withIntermediateDirectories: false)
        #expect(loadError("dir.yaml")?.message == "cannot read the file: is a directory")
        #expect(loadError("missing.yaml")?.message == "cannot read the file: no such file or directory")

        let exact = "name: x\nsteps: []\n"
        #expect(FileManager.default.createFile(atPath: folder + "/ok.yaml", contents: Data(exact.utf8)))
        let root = try YAMLDocument.load(path: folder + "/ok.yaml", displayPath: "ok.yaml", limits: limits)
        #expect(root?.mapping?["name"]?.scalar == "x")
    }

    @Test func aPipeIsReadToItsEndAndItsLimit() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/fifo.yaml"
        #expect(mkfifo(fifo, 0o600) == 0)
        // A pipe's size reads as 0: the reader must grow its buffer. 200 KiB passes the first 64 KiB step.
        let text = "name: x\nsteps: []\n" + String(repeating: "# padding line\n", count: 200 * 1024 / 15)
        let writer = Thread {
            guard let handle = FileHandle(forWritingAtPath: fifo) else { return }
            handle.write(Data(text.utf8))
            try? handle.close()
        }
        writer.start()
        let root = try YAMLDocument.load(path: fifo, displayPath: "fifo.yaml")
        #expect(root?.mapping?["name"]?.scalar == "x")
    }

    @Test func nestingDeeperThanLibyamlAllowsIsALocatedError() throws {
        let error = try #require(onlyError("name: " + String(repeating: "[", count: 5000) + "\nsteps: []\n"))
        #expect(error.code == .limitExceeded)
        #expect(error.message == "YAML nesting deeper than 1000 levels")
    }
}
