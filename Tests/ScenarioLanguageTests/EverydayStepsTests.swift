import LocatedYAML
import Testing

@testable import ScenarioLanguage

/// `bdat:` and `delivered:` as the compiler reads them, and the errors it gives for them.
@Suite("Compiler: bdat and delivered steps")
struct EverydayStepsTests {
    private func steps(_ yaml: String) throws -> [Step] {
        let compilation = ScenarioCompiler.compile(source: yaml, displayPath: "t.yaml", options: CompileOptions())
        let file = try #require(compilation.file, "\(compilation.diagnostics.map(\.description))")
        return file.scenarios[0].steps
    }

    @Test func bdatFormsAndTheirExpectations() throws {
        let compiled = try steps(
            """
            name: chunks
            steps:
              - bdat: "one chunk"
              - bdat: {text: "first", last: false}
              - bdat: {hex: "00 ff", last: true}
                expect: 552
            """
        )
        guard case .bdat(let single) = compiled[0].action, case .bdat(let first) = compiled[1].action,
            case .bdat(let binary) = compiled[2].action
        else {
            Issue.record("expected three bdat steps: \(compiled.map(\.action))")
            return
        }
        #expect(single.last && !first.last && binary.last)
        #expect(binary.payload == .bytes([0x00, 0xFF]))
        #expect(compiled[0].expectation == .reply(ReplyExpectation(codes: [.exact(250)])))
        guard case .reply(let explicit) = compiled[2].expectation else {
            Issue.record("expected a reply expectation")
            return
        }
        #expect(explicit.codes == [.exact(552)])
    }

    @Test func badBDATStepsAreLocated() throws {
        let both = try #require(onlyError("name: x\nsteps:\n  - bdat: {text: a, hex: '00'}\n"))
        #expect(both.description.contains("t.yaml:3:"))
        #expect(both.message.contains("either `text` or `hex`"))
        let neither = try #require(onlyError("name: x\nsteps:\n  - bdat: {last: true}\n"))
        #expect(neither.message.contains("needs `text:` or `hex:`"))
        let hex = try #require(onlyError("name: x\nsteps:\n  - bdat: {hex: 'abc'}\n"))
        #expect(hex.message.contains("even number of hex digits"))
        let unknown = try #require(onlyError("name: x\nsteps:\n  - bdat: {text: a, lsat: false}\n"))
        #expect(unknown.message.contains("lsat"))
        let pipelined = diagnostics("name: x\nsteps:\n  - pipeline:\n      - bdat: a\n").filter {
            $0.severity == .error
        }
        #expect(!pipelined.isEmpty)
    }

    @Test func deliveredReadsEveryKey() throws {
        let compiled = try steps(
            """
            name: delivered
            vars: {sender: a@example.net}
            steps:
              - delivered: {}
              - delivered:
                  from: ${sender}
                  to: [b@example.com, c@example.com]
                  headers: {Subject: Test email., X-Spam: '/^no$/'}
                  body: hello
                  max-size: 2KB
            """
        )
        guard case .delivered(let empty) = compiled[0].action, case .delivered(let full) = compiled[1].action else {
            Issue.record("expected delivered steps")
            return
        }
        #expect(empty.from == nil && empty.to == nil && empty.headers.isEmpty && empty.body == nil)
        #expect(full.to?.count == 2)
        #expect(full.headers.map(\.name) == ["Subject", "X-Spam"])
        #expect(full.maxSize == 2048)
        #expect(compiled[1].expectation == .noReply)
    }

    @Test func deliveredAgainstAServerThatIsNotTheMockIsAnErrorWithAHint() throws {
        let error = try #require(
            onlyError(
                """
                name: remote
                server: 127.0.0.1:2525
                steps:
                  - delivered: {from: a@example.net}
                """
            )
        )
        #expect(error.description.hasPrefix("t.yaml:4:5"), "\(error.description)")
        #expect(error.message.contains("this scenario's server is 127.0.0.1:2525"))
        #expect(error.hint?.contains("delivered: {maildir: PATH}") == true)
        // Watching a Maildir is fine anywhere; so is the mock.
        #expect(onlyErrors("name: r\nserver: 127.0.0.1:2525\nsteps:\n  - delivered: {maildir: /var/mail/x}\n").isEmpty)
        #expect(onlyErrors("name: m\nserver: mock\nsteps:\n  - delivered: {}\n").isEmpty)
    }

    @Test func deliveredRefusesReplyKeysAndBadSizes() throws {
        let expect = try #require(onlyError("name: x\nsteps:\n  - delivered: {}\n    expect: 250\n"))
        #expect(expect.description.contains("t.yaml:4:"))
        let size = try #require(onlyError("name: x\nsteps:\n  - delivered: {max-size: lots}\n"))
        #expect(size.message.contains("max-size is not a size"))
        let key = try #require(onlyError("name: x\nsteps:\n  - delivered: {subject: x}\n"))
        #expect(key.message.contains("subject"))
    }

    private func onlyErrors(_ yaml: String) -> [Diagnostic] {
        diagnostics(yaml).filter { $0.severity == .error }
    }
}
