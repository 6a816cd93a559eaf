import ScenarioResults
import Testing

@testable import Reports

/// The JSON report writes steps, replies and transcript entries straight into text. These tests hold that text to the
/// `JSONValue` nodes the records were built as before, special characters, nulls and optional members included.
@Suite("JSON records written as text")
struct JSONTextTests {
    private static let replies = [
        ReplyRecord(code: 250, enhanced: "2.1.5", lines: ["2.1.5 Ok \"quoted\" caf\u{E9}"]),
        ReplyRecord(code: 220, enhanced: nil, lines: ["mx.example.test", "PIPELINING", "SIZE 10485760"]),
        ReplyRecord(code: 421, enhanced: nil, lines: []),
    ]

    @Test(arguments: replies)
    func aReplyIsTheObjectItWasBuiltAs(_ reply: ReplyRecord) {
        #expect(JSONReport.reply(reply).text == Self.node(reply).text)
    }

    @Test func aStepIsTheObjectItWasBuiltAs() {
        let location = SourceLocation(file: "dir/t \"x\".yaml", line: 7, column: 3)
        let steps = [
            StepRecord(
                path: StepPath([.step(2), .call("s.envelope"), .step(1)]),
                location: location,
                label: "RCPT TO:<a@b>",
                verb: "RCPT",
                sent: "RCPT TO:<a@b>\\x00",
                reply: Self.replies[0],
                verdict: .passed,
                duration: .milliseconds(1234)
            ),
            StepRecord(
                path: StepPath([.step(5)]),
                location: location,
                label: "message content",
                verdict: .failed,
                duration: .zero,
                attempts: 3
            ),
            StepRecord(
                path: StepPath([.iteration(variable: "i", index: 2), .retry]),
                location: location,
                label: "\u{2028}",
                reply: Self.replies[2],
                verdict: .passed,
                duration: .seconds(61)
            ),
        ]
        for step in steps {
            #expect(JSONReport.step(step).text == Self.node(step).text)
        }
        #expect(JSONValue.array(steps.map(JSONReport.step)).text == JSONValue.array(steps.map(Self.node)).text)
    }

    @Test func theTranscriptIsTheArrayOfObjectsItWasBuiltAs() {
        var transcript = Transcript()
        for (ms, direction, text) in [
            (0, Transcript.Direction.note, "scenario \"x\" (t.yaml:1)"), (3, .client, "EHLO a\\b"),
            (12_345, .server, "250 caf\u{E9} \u{2028}"), (13, .client, ""),
        ] {
            transcript.append(direction, text, elapsedMilliseconds: ms)
        }
        let asNodes = JSONValue.array(
            transcript.entries.map { entry in
                .object([
                    ("ms", .int(entry.elapsedMilliseconds)), ("direction", .string(entry.direction.rawValue)),
                    ("text", .string(entry.text)),
                ])
            }
        )
        #expect(JSONReport.transcript(transcript).text == asNodes.text)
        #expect(JSONReport.transcript(Transcript()).text == "[]")
    }

    // MARK: - The records as they were built before

    private static func node(_ reply: ReplyRecord) -> JSONValue {
        .object([
            ("code", .int(reply.code)), ("enhanced", .string(reply.enhanced)),
            ("lines", .array(reply.lines.map(JSONValue.string))),
        ])
    }

    private static func node(_ step: StepRecord) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("path", .string(step.path.description)),
            ("file", .string(step.location.file)),
            ("line", .int(step.location.line)),
            ("label", .string(step.label)),
            ("verb", .string(step.verb)),
            ("sent", .string(step.sent)),
            ("reply", step.reply.map(node) ?? .null),
            ("verdict", .string(step.verdict.rawValue)),
            ("duration", .seconds(step.duration)),
        ]
        if let attempts = step.attempts { members.append(("attempts", .int(attempts))) }
        return .object(members)
    }
}
