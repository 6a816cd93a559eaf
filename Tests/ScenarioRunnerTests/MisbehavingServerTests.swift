import Foundation
import LocatedYAML
import SMTPScenarioTesting
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner
import Testing

/// A script that greets, answers EHLO, then hands over to `rest`.
func greeting(_ rest: @escaping @Sendable (ScriptedConnection) async -> Void) -> ScriptedServer.Script {
    { connection in
        await connection.send("220 scripted.test ESMTP\r\n")
        await rest(connection)
    }
}

/// A script that greets, answers the first command with `reply`, then answers QUIT.
func answeringOnce(_ reply: String) -> ScriptedServer.Script {
    greeting { connection in
        _ = await connection.readLine()
        await connection.send(reply)
        await connection.answerQuit()
    }
}

/// Runs `yaml` against a scripted server playing `script`, and stops the server; the server is returned for
/// what it received.
func runScripted(_ yaml: String, _ script: @escaping ScriptedServer.Script) async throws -> (RunResult, ScriptedServer)
{
    let server = try await ScriptedServer.start(script)
    let result = try await Harness.run(yaml, endpoint: endpoint(server))
    await server.stop()
    return (result, server)
}

func endpoint(_ server: ScriptedServer) -> Endpoint {
    Endpoint(host: "127.0.0.1", port: server.port, displayName: "scripted")
}

/// The first scenario's failure (nil when it passed, which `#require` reports).
func failureOf(_ result: RunResult) -> StepFailure? { result.allResults.first?.outcome.failure }

@Suite("Runner against misbehaving servers", .timeLimit(.minutes(1)))
struct MisbehavingServerTests {
    @Test func garbageInsteadOfAReplyFailsTheStepWithTheTranscript() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - send: EHLO a\n",
            greeting { connection in
                _ = await connection.readLine()
                await connection.send("HELLO THERE \u{1B}[2J\r\n")
            }
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .protocolViolation)
        #expect(failure.stepNumber == "1")
        #expect(failure.actual.contains("malformed reply line"))
        #expect(failure.actual.contains("\\x1b[2J"), "control bytes are shown escaped")
        let transcript = result.allResults[0].transcript.rendered()
        #expect(transcript.contains("C: EHLO a"))
        #expect(transcript.contains("protocol error"))
        #expect(result.exitCode == 1)
    }

    @Test func anEndlessLineFailsPromptlyWithoutGrowingMemory() async throws {
        let server = try await ScriptedServer.start(
            greeting { connection in
                _ = await connection.readLine()
                let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
                await connection.send("250-")
                for _ in 0..<64 { await connection.send(bytes: chunk) }
            }
        )
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let result = try await Harness.run(
            "name: g\ntimeout: 20s\nsteps:\n  - send: EHLO a\n",
            endpoint: endpoint(server)
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .protocolViolation)
        #expect(failure.actual.contains("line too long"))
        #expect(ContinuousClock.now - started < .seconds(10), "the limit, not the 20 s timeout, ended it")
    }

    @Test func aResetIsAConnectionError() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - send: EHLO a\n    expect: 250\n",
            greeting { connection in
                _ = await connection.readLine()
                await connection.reset()
            }
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .connection)
        #expect(failure.kind.isError)
        // The system's reason, not NIO's `read(descriptor:pointer:size:): ... (errno: 104)`.
        #expect(failure.actual == "connection reset (connection reset by peer)")
    }

    @Test func aWriteCutOffByAResetIsNamedInTheTranscript() async throws {
        // 400 writes of 64 KiB (25 MiB) that read no reply: far more than the socket buffers hold when the server
        // resets after its first 64 KiB, so writes are still queued when the reset arrives, and they fail.
        let chunk = String(repeating: "x", count: 64 * 1024)
        let yaml = """
            name: w
            vars: {chunk: "\(chunk)"}
            steps:
              - repeat: 400
                steps:
                  - raw: "${chunk}"
              - send: QUIT
                expect: 221
            """
        let (result, _) = try await runScripted(yaml) { connection in
            connection.reset(afterReceiving: 64 * 1024)
            await connection.send("220 scripted.test ESMTP\r\n")
        }
        let failure = try #require(failureOf(result))
        #expect(failure.stepNumber == "2")
        let transcript = result.allResults[0].transcript.rendered()
        let notes = transcript.split(separator: "\n").filter { $0.contains("write failed:") }
        #expect(notes.count == 1)
        // The cause, not the `I/O on closed channel` of the writes queued behind the one the reset cut off; or,
        // when the read saw the reset before a write did (the loop's order of events), that the connection had
        // ended, and then the read's reason.
        let note = try #require(notes.first)
        let cutOff =
            note.hasSuffix("# write failed: connection reset by peer") || note.hasSuffix("# write failed: broken pipe")
        let afterTheRead =
            note.hasSuffix("# write failed: the connection was already closed")
            && transcript.contains("# connection reset (connection reset by peer)")
        #expect(cutOff || afterTheRead, "\(note)")
    }

    @Test func aStallIsATimeoutNamingWhatWasAwaited() async throws {
        let (result, server) = try await runScripted(
            "name: g\nsteps:\n  - send: EHLO a\n    timeout: 1s\n    expect: 250\n",
            { connection in
                // The partial reply goes out with the greeting, in one write: it is waiting in the runner's
                // buffer when EHLO is sent, however loaded the machine is (replies are parsed only on demand).
                await connection.send("220 scripted.test ESMTP\r\n250-partial\r\n")
                _ = await connection.readLine()
                _ = await connection.readLine()
            }
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .timeout)
        #expect(failure.expected == "250 (requested action completed)")
        #expect(failure.actual.hasPrefix("no complete reply within 1s"))
        #expect(failure.actual.contains("250-partial"))
        let lines = server.accepted.first?.receivedLines ?? []
        #expect(!lines.contains("QUIT"), "after a timeout the connection is dropped without QUIT")
    }

    @Test func aWrongReplyIsFollowedByQuit() async throws {
        let (result, server) = try await runScripted(
            "name: g\nsteps:\n  - send: RCPT TO:<x@y>\n    expect: 250\n",
            answeringOnce("550 5.1.1 <x@y>: Recipient address rejected: User unknown\r\n")
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .unexpectedReply)
        #expect(
            failure.message
                == "step 1 \"RCPT TO:<x@y>\": expected 250 (requested action completed), got 550 5.1.1 <x@y>: Recipient address rejected: User unknown (550 = mailbox unavailable; 5.1.1 = bad destination mailbox address)"
        )
        #expect(server.accepted.first?.receivedLines == ["RCPT TO:<x@y>", "QUIT"])
        #expect(result.allResults[0].transcript.rendered().contains("S: 221 2.0.0 Bye"))
    }

    @Test func aMultiLineReplyDrippedByteByByte() async throws {
        let (result, server) = try await runScripted(
            "name: g\nsteps:\n  - send: EHLO a\n    expect: {code: 250, advertises: [PIPELINING, SIZE 1000]}\n",
            greeting { connection in
                _ = await connection.readLine()
                for byte in "250-scripted.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n".utf8 {
                    await connection.send(bytes: [byte])
                }
                _ = await connection.readLine()
                await connection.send("221 bye\r\n")
            }
        )
        #expect(result.allResults[0].outcome == .passed)
        #expect(server.accepted.first?.receivedLines == ["EHLO a", "QUIT"], "a passing scenario ends with QUIT")
    }

    @Test func anUnsolicitedReplyAndAClose() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - expect: {code: 421, enhanced: 4.3.2}\n  - expect: closed\n",
            greeting { connection in
                await connection.send("421 4.3.2 shutting down\r\n")
                await connection.close()
            }
        )
        #expect(result.allResults[0].outcome == .passed)
    }

    @Test func closedIsSatisfiedByAReset() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - send: BYE\n    expect: closed\n",
            greeting { connection in
                _ = await connection.readLine()
                await connection.reset()
            }
        )
        #expect(result.allResults[0].outcome == .passed)
    }

    @Test func nothingPassesOnSilenceAndFailsOnAReply() async throws {
        let (quiet, _) = try await runScripted(
            "name: q\nsteps:\n  - raw: \"HUSH\\r\\n\"\n  - expect: nothing\n    timeout: 200ms\n",
            greeting { connection in
                while let line = await connection.readLine() {
                    if line == "QUIT" { await connection.send("221 bye\r\n") }
                }
            }
        )
        #expect(quiet.allResults[0].outcome == .passed)
        // The unsolicited reply goes out with the greeting, in one write: it is already waiting when the step
        // starts, however loaded the machine is.
        let (loud, _) = try await runScripted(
            "name: l\nsteps:\n  - expect: nothing\n    timeout: 200ms\n",
            { connection in
                await connection.send("220 scripted.test ESMTP\r\n250 spoke\r\n")
                while let line = await connection.readLine() {
                    if line == "QUIT" { await connection.send("221 bye\r\n") }
                }
            }
        )
        let failure = try #require(failureOf(loud))
        #expect(failure.expected == "no reply within 200ms")
        #expect(failure.actual.hasPrefix("250 spoke"))
    }

    @Test func plaintextAfterTheStartTLSReplyIsNeverReadInsideTLS() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - starttls: {}\n",
            greeting { connection in
                _ = await connection.readLine()
                await connection.send("220 2.0.0 go ahead\r\n250 2.0.0 injected before TLS\r\n")
            }
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .tls)
        #expect(failure.actual.contains("sent 31 bytes in plaintext before the handshake"))
        #expect(failure.actual.contains("250 2.0.0 injected before TLS"))
    }

    @Test func plaintextAfterTheStartTLSReplyInItsOwnSegmentIsNamed() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - starttls: {}\n",
            greeting { connection in
                _ = await connection.readLine()
                let before = connection.bytesReceived
                await connection.send("220 2.0.0 go ahead\r\n")
                // Once the ClientHello has arrived, answer it with plaintext instead of TLS.
                await connection.waitForBytes(beyond: before)
                await connection.send("250 2.0.0 injected after the handshake began\r\n")
            }
        )
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .tls)
        #expect(failure.actual.contains("plaintext instead of TLS"), "\(failure.actual)")
        #expect(failure.actual.contains("250 2.0.0 injected after the handshake began"), "\(failure.actual)")
        #expect(!failure.actual.contains("WRONG_VERSION_NUMBER"))
    }

    @Test func aGreetingThatIsNot220() async throws {
        let server = try await ScriptedServer.start { connection in
            await connection.send("554 5.7.1 go away\r\n")
            await connection.answerQuit()
        }
        defer { Task { await server.stop() } }
        let result = try await Harness.run("name: g\nsteps:\n  - send: EHLO a\n", endpoint: endpoint(server))
        let failure = try #require(failureOf(result))
        #expect(failure.stepDescription == "greeting")
        #expect(failure.location.line == 1)
        #expect(failure.actual.hasPrefix("554 5.7.1 go away"))
    }

    @Test func aRefusedConnectionIsAnError() async throws {
        let result = try await Harness.run("name: g\nsteps: []\n", endpoint: Endpoint(host: "127.0.0.1", port: 1))
        let failure = try #require(failureOf(result))
        #expect(failure.kind == .connection)
        #expect(failure.actual.contains("connection refused"))
    }

    @Test func aCaptureThatDoesNotMatchFailsTheStep() async throws {
        let (result, _) = try await runScripted(
            "name: g\nsteps:\n  - send: DATA\n    capture: {id: '/queued as (\\w+)/'}\n",
            answeringOnce("250 2.0.0 Ok: accepted\r\n")
        )
        let failure = try #require(failureOf(result))
        #expect(failure.expected == "text matching /queued as (\\w+)/ to capture id")
        #expect(failure.location.line == 4)
    }

    @Test func noQuitInsideDataAndNoSecondQuit() async throws {
        let server = try await ScriptedServer.start(
            greeting { connection in
                while let line = await connection.readLine() {
                    switch line {
                    case "DATA": await connection.send("354 go\r\n")
                    case "QUIT": await connection.send("221 bye\r\n")
                    default: await connection.send("250 ok\r\n")
                    }
                }
            }
        )
        defer { Task { await server.stop() } }
        let inData = try await Harness.run(
            "name: d\nsteps:\n  - send: DATA\n    expect: 354\n",
            endpoint: endpoint(server)
        )
        #expect(inData.allResults[0].outcome == .passed)
        let quitTwice = try await Harness.run(
            "name: q\nsteps:\n  - send: QUIT\n    expect: 221\n",
            endpoint: endpoint(server)
        )
        #expect(quitTwice.allResults[0].outcome == .passed)
        let received = server.accepted.map(\.receivedLines)
        #expect(received == [["DATA"], ["QUIT"]])
    }
}

@Suite("SASL on the wire, against a scripted server", .timeLimit(.minutes(1)))
struct ScriptedAuthTests {
    @Test func xoauth2SendsTheBearerTokenAndAcknowledgesTheErrorChallenge() async throws {
        let (result, _) = try await runScripted(
            "name: x\nsteps:\n  - auth: {mechanism: XOAUTH2, username: someone@example.com, token: ya29.token}\n    expect: {code: 535, enhanced: 5.7.8}\n",
            greeting { connection in
                let first = await connection.readLine() ?? ""
                let expected = Data("user=someone@example.com\u{1}auth=Bearer ya29.token\u{1}\u{1}".utf8)
                    .base64EncodedString()
                guard first == "AUTH XOAUTH2 \(expected)" else {
                    await connection.send("500 unexpected \(first)\r\n")
                    return
                }
                let error = Data(#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#.utf8)
                await connection.send("334 \(error.base64EncodedString())\r\n")
                guard await connection.readLine() == "" else { return }
                await connection.send("535 5.7.8 Username and Password not accepted\r\n")
                await connection.answerQuit()
            }
        )
        #expect(result.allResults[0].outcome == .passed, "\(result.allResults[0].transcript.rendered())")
        #expect(!result.allResults[0].transcript.rendered().contains("ya29.token"))
    }

    @Test func cramMD5AnswersTheChallengeWithTheHMAC() async throws {
        let (result, _) = try await runScripted(
            "name: x\nsteps:\n  - auth: {mechanism: CRAM-MD5, username: tim, password: tanstaaftanstaaf}\n",
            greeting { connection in
                guard await connection.readLine() == "AUTH CRAM-MD5" else { return }
                // RFC 2195's example: tim / tanstaaftanstaaf.
                let challenge = Data("<1896.697170952@postoffice.reston.mci.net>".utf8).base64EncodedString()
                await connection.send("334 \(challenge)\r\n")
                let answer = await connection.readLine() ?? ""
                let decoded = String(decoding: Data(base64Encoded: answer) ?? Data(), as: UTF8.self)
                await connection.send(
                    decoded == "tim b913a602c7eda7a495b4e6e7334d3890"
                        ? "235 2.7.0 ok\r\n" : "535 5.7.8 got \(decoded)\r\n"
                )
                await connection.answerQuit()
            }
        )
        #expect(result.allResults[0].outcome == .passed, "\(result.allResults[0].transcript.rendered())")
    }

    @Test(arguments: ["PLAIN", "LOGIN"])
    func aServerEchoingTheBase64CredentialDoesNotLeakIt(_ mechanism: String) async throws {
        let (result, _) = try await runScripted(
            "name: x\nsteps:\n  - auth: {mechanism: \(mechanism), username: probe, password: s3cret-pw}\n",
            greeting { connection in
                var echoed: [String] = []
                let first = await connection.readLine() ?? ""
                if first.hasPrefix("AUTH PLAIN ") {
                    echoed.append(String(first.dropFirst("AUTH PLAIN ".count)))
                } else {
                    await connection.send("334 VXNlcm5hbWU6\r\n")
                    echoed.append(await connection.readLine() ?? "")
                    await connection.send("334 UGFzc3dvcmQ6\r\n")
                    echoed.append(await connection.readLine() ?? "")
                }
                await connection.send("535 5.7.8 bad credentials: \(echoed.joined(separator: " "))\r\n")
                await connection.answerQuit()
            }
        )
        let scenario = result.allResults[0]
        let failure = try #require(scenario.outcome.failure)
        let everything = scenario.transcript.rendered() + failure.message
        #expect(everything.contains("535 5.7.8 bad credentials: ***"), "\(everything)")
        for secret in [
            Data("\0probe\0s3cret-pw".utf8).base64EncodedString(), Data("s3cret-pw".utf8).base64EncodedString(),
            Data("probe".utf8).base64EncodedString(), "s3cret-pw",
        ] {
            #expect(!everything.contains(secret), "\(secret) leaked:\n\(everything)")
        }
    }
}
