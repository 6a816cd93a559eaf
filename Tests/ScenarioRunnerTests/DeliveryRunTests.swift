import Foundation
import MockServer
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

/// `bdat:` and `delivered:` against the embedded mock, over real sockets, with the mock's store on disk.
@Suite("BDAT and delivered against the mock", .timeLimit(.minutes(1)))
struct DeliveryRunTests {
    private static let envelope = """
          - send: EHLO client.example
          - send: MAIL FROM:<sender@example.net>
          - send: RCPT TO:<alice@example.com>
          - send: RCPT TO:<bob@example.com>
        """

    /// A fresh, empty Maildir (new/, cur/, tmp/) in a temporary folder.
    private static func maildir(_ name: String) throws -> URL {
        let maildir = try Paths.temporaryDirectory(name)
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(
                at: maildir.appendingPathComponent(sub),
                withIntermediateDirectories: true
            )
        }
        return maildir
    }

    @Test func aMessageSentWithDATAIsFoundAndChecked() async throws {
        let result = try await Harness.run(
            """
            name: delivered
            steps:
            \(Self.envelope)
              - send: DATA
                expect: 354
              - data: |
                  Subject: Test email.
                  From: sender@example.net

                  Hello Alice.
                  .leading dot
              - delivered:
                  from: sender@example.net
                  to: [bob@example.com, alice@example.com]
                  headers: {Subject: Test email., From: /^sender@/}
                  body: /Hello Alice\\.\\r?\\n\\.leading dot/
                  max-size: 1KB
            """
        )
        let scenario = result.allResults[0]
        let transcript = scenario.transcript.rendered()
        #expect(scenario.outcome == .passed, "\(transcript)")
        #expect(transcript.contains("# delivered in the mock's store as "), "\(transcript)")
        #expect(scenario.steps.last?.label == "delivered")
    }

    @Test func bdatChunksArriveAsOneMessage() async throws {
        let result = try await Harness.run(
            """
            name: chunks
            steps:
            \(Self.envelope)
              - bdat: {text: "Subject: chunked\\n\\nfirst part\\n", last: false}
              - bdat: {hex: "41000d0a", last: false}
              - bdat: |
                  .last part
              - delivered:
                  headers: {Subject: chunked}
                  body: /^first part\\r\\nA\\x00\\r\\n\\.last part\\r\\n$/
            """
        )
        let scenario = result.allResults[0]
        let transcript = scenario.transcript.rendered()
        #expect(scenario.outcome == .passed, "\(transcript)")
        // The sizes are computed: 32 bytes of text with CRLF, 4 raw bytes, the last line with its CRLF.
        #expect(transcript.contains("C: BDAT 32\n"), "\(transcript)")
        #expect(transcript.contains("C: BDAT 4\n"))
        #expect(transcript.contains("C: BDAT 12 LAST"))
        #expect(transcript.contains("S: 250 2.0.0 Ok: queued as "))
    }

    /// The transcript shows a message's lines as they went out: DATA dot-stuffed with its final ".", BDAT chunks
    /// line by line with bytes that are not text escaped, and a chunk's unterminated end said so.
    @Test func messageLinesAppearInTheTranscriptAsSent() async throws {
        let result = try await Harness.run(
            """
            name: lines
            steps:
            \(Self.envelope)
              - bdat: {hex: "c3a90d0aff0d0a0d0d0a4142", last: false}
              - bdat: {text: "x\\n", last: true}
              - send: RSET
            \(Self.envelope)
              - send: DATA
              - data: "Subject: t\\n\\n.dot\\n\\u00e9\\r\\nend"
            """
        )
        let scenario = result.allResults[0]
        let transcript = scenario.transcript.rendered()
        #expect(scenario.outcome == .passed, "\(transcript)")
        let sent = transcript.split(separator: "\n").compactMap { line in
            line.firstRange(of: "C: ").map { String(line[$0.upperBound...]) }
        }
        let chunks = try #require(sent.firstIndex(of: "BDAT 12"))
        #expect(
            Array(sent[chunks...].prefix(7)) == [
                "BDAT 12", "\u{E9}", "\u{FFFD}", "\\x0d",
                "\u{E9}\\x0d\\x0a\\xff\\x0d\\x0a\\x0d\\x0d\\x0aAB  (no CRLF at the end of the chunk)", "BDAT 3 LAST",
                "x",
            ],
            "\(transcript)"
        )
        let data = try #require(sent.firstIndex(of: "DATA"))
        #expect(Array(sent[data...].prefix(7)) == ["DATA", "Subject: t", "", "..dot", "\u{E9}", "end", "."])
    }

    @Test func aMismatchShowsTheStoredEnvelopeAndHeaders() async throws {
        let result = try await Harness.run(
            """
            name: wrong subject
            steps:
            \(Self.envelope)
              - bdat: |
                  Subject: Something else
                  X-Trace: 42

                  body
              - delivered:
                  headers: {Subject: Test email.}
            """
        )
        let failure = try #require(result.allResults[0].outcome.failure)
        #expect(failure.message.contains("Subject: Something else does not have"), "\(failure.message)")
        #expect(
            failure.message.contains("envelope from <sender@example.net> to <alice@example.com>, <bob@example.com>")
        )
        #expect(failure.message.contains("X-Trace: 42"))
        #expect(failure.stepLabel == "delivered")
    }

    @Test func anExplicitQueueIDAndAMissingMessage() async throws {
        let result = try await Harness.run(
            """
            scenarios:
              - name: explicit id
                steps:
                  - send: EHLO client.example
                  - send: MAIL FROM:<sender@example.net>
                  - send: RCPT TO:<alice@example.com>
                  - send: DATA
                  - data: "Subject: captured\\n\\nx"
                    capture: {qid: '/queued as (\\w+)/'}
                  - send: RSET
                  - delivered: {id: "${qid}", headers: {Subject: captured}}
              - name: no such message
                steps:
                  - delivered: {id: NOSUCHID}
                    timeout: 300ms
              - name: nothing accepted
                steps:
                  - send: EHLO client.example
                  - delivered: {}
            """
        )
        let outcomes = result.allResults.map(\.outcome)
        #expect(outcomes[0] == .passed, "\(result.allResults[0].transcript.rendered())")
        let missing = try #require(outcomes[1].failure)
        #expect(
            missing.message.contains("no message arrived in the mock's store as NOSUCHID within 300ms"),
            "\(missing.message)"
        )
        let none = try #require(outcomes[2].failure)
        #expect(none.message.contains("no queue id"), "\(none.message)")
    }

    @Test func concurrentScenariosSharingOneMockSeeOnlyTheirOwnMail() async throws {
        let scenarios = (1...12).map { index in
            """
              - name: sender \(index)
                steps:
                  - send: EHLO client\(index).example
                  - send: MAIL FROM:<s\(index)@example.net>
                  - send: RCPT TO:<alice@example.com>
                  - send: DATA
                  - data: "Subject: message \(index)\\n\\nbody \(index)"
                  - delivered:
                      from: s\(index)@example.net
                      headers: {Subject: /^message \(index)$/}
                      body: body \(index)
            """
        }.joined(separator: "\n")
        let result = try await Harness.run("scenarios:\n" + scenarios) { $0.jobs = 12 }
        #expect(result.allResults.count == 12)
        for scenario in result.allResults {
            #expect(scenario.outcome == .passed, "\(scenario.transcript.rendered())")
        }
    }

    @Test func aMaildirIsWatchedForServersThatDeliverLocally() async throws {
        let maildir = try Self.maildir("maildir")
        let store = try Paths.temporaryDirectory("maildir-store")
        let yaml = """
            name: maildir
            steps:
            \(Self.envelope)
              - send: DATA
              - data: "Subject: local\\n\\nx"
              - delivered:
                  maildir: \(maildir.path)
                  headers: {Subject: local delivery}
                timeout: 10s
            """
        try await Harness.withMock(store: store) { mock in
            // A "local delivery": once the server has accepted the message, a file appears in the Maildir, the
            // way a delivery agent writes it (into tmp/, then renamed into new/).
            let delivery = Task {
                while (try? FileManager.default.contentsOfDirectory(atPath: store.path))?.contains(where: {
                    $0.hasSuffix(".eml") && !$0.hasPrefix(".")
                }) != true {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let file = maildir.appendingPathComponent("tmp/1.test")
                try "Return-Path: <sender@example.net>\nDelivered-To: alice@example.com\nSubject: local delivery\n\nx\n"
                    .write(to: file, atomically: false, encoding: .utf8)
                try FileManager.default.moveItem(at: file, to: maildir.appendingPathComponent("new/1.test"))
            }
            let result = try await Harness.run(yaml, endpoint: Harness.endpoint(of: mock))
            delivery.cancel()
            let scenario = result.allResults[0]
            let transcript = scenario.transcript.rendered()
            #expect(scenario.outcome == .passed, "\(transcript)")
            #expect(transcript.contains("# delivered in Maildir \(maildir.path): from <sender@example.net>"))
        }
    }

    /// A delivery agent can write the file before the server's 250 reaches the client, and a server may be slow to
    /// send that 250. The Maildir is searched from when the message was sent, so a file written while the reply
    /// was pending counts; counted from the 250's arrival (minus the one second of slack for coarse clocks), a
    /// reply 1.5 s late hid the file and the step failed.
    @Test func aFileDeliveredBeforeASlowReplyIsFound() async throws {
        let maildir = try Self.maildir("maildir-slow")
        let delivered = maildir.appendingPathComponent("new/1.slow")
        let (result, _) = try await runScripted(
            """
            name: slow reply
            steps:
              - send: EHLO client.example
              - send: MAIL FROM:<sender@example.net>
              - send: RCPT TO:<alice@example.com>
              - send: DATA
              - data: "Subject: slow\\n\\nx"
              - delivered:
                  maildir: \(maildir.path)
                  headers: {Subject: slow}
                timeout: 1s
            """,
            greeting { connection in
                for reply in ["250 scripted.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go ahead"] {
                    _ = await connection.readLine()
                    await connection.send(reply + "\r\n")
                }
                while let line = await connection.readLine(), line != "." {}
                // Delivered at once; the reply is what is slow (the subject of the test, not a wait for readiness).
                try? "Return-Path: <sender@example.net>\nSubject: slow\n\nx\n".write(
                    to: delivered,
                    atomically: false,
                    encoding: .utf8
                )
                try? await Task.sleep(for: .milliseconds(1500))
                await connection.send("250 2.0.0 Ok: queued as SLOW1\r\n")
                await connection.answerQuit()
            }
        )
        let scenario = result.allResults[0]
        let transcript = scenario.transcript.rendered()
        #expect(scenario.outcome == .passed, "\(transcript)")
        #expect(transcript.contains("# delivered in Maildir \(maildir.path): from <sender@example.net>"))
    }

    /// A message the mock cannot store is refused with 452 4.3.1, as a real MTA refuses what it cannot queue; it
    /// answered "250 queued as" before, for a message that was nowhere.
    @Test func aMessageTheMockCannotStoreIsRefusedWith452() async throws {
        let store = try Paths.temporaryDirectory("vanishing-store")
        let result = try await Harness.withMock(store: store) { mock in
            // The store's folder is gone (as on a disk that fails): writing the file fails, even as root.
            try FileManager.default.removeItem(at: store)
            return try await Harness.run(
                """
                name: unstored
                steps:
                \(Self.envelope)
                  - send: DATA
                  - data: "Subject: lost\\n\\nx"
                    expect: {code: 452, text: /not stored/}
                """,
                endpoint: Harness.endpoint(of: mock)
            )
        }
        let scenario = result.allResults[0]
        #expect(scenario.outcome == .passed, "\(scenario.transcript.rendered())")
        #expect(scenario.transcript.rendered().contains("S: 452 4.3.1 Insufficient system storage"))
    }
}
