import Foundation
import ScenarioResults
import Yams

/// A typed session as scenario steps, written as a scenario file that replays it: each step expects the reply
/// the server gave (its exact code, and its enhanced code when it had one).
public struct RecordedScenario: Sendable {
    /// One recorded step.
    public enum Step: Sendable, Hashable {
        /// A command line as typed.
        case send(String, reply: ReplyRecord?)
        /// Message content after a 354 (un-stuffed; the runner stuffs it again).
        case data(String, reply: ReplyRecord?)
        /// STARTTLS and the handshake.
        case startTLS
        /// AUTH; the secret is never recorded: the step reads it from the environment.
        case auth(mechanism: String, username: String, secretVariable: String, usesToken: Bool, reply: ReplyRecord?)
        /// A pause.
        case wait(String)
        /// A reply the server sent unasked.
        case read(ReplyRecord)
    }

    /// The scenario's name.
    public var name: String
    /// The server as given to `record` (`host:port`, `mx:domain`, `smtps://...`, `mock`).
    public var server: String
    /// `tls: {ca: FILE}` or `tls: {verify: false}` as recording used them.
    public var tlsCAFile: String?
    public var tlsVerify = true
    /// The greeting's reply.
    public var greeting: ReplyRecord?
    /// The steps in order.
    public var steps: [Step] = []
    /// When the session was recorded.
    public var recordedAt = Date()

    /// Creates an empty recording.
    public init(name: String, server: String) {
        self.name = name
        self.server = server
    }

    /// The scenario file's text.
    public func yaml() -> String {
        var pairs: [(Node, Node)] = [("name", Self.text(name)), ("server", Self.text(server))]
        if let tlsCAFile {
            pairs.append(("tls", Self.flow([("ca", Self.text(tlsCAFile))])))
        } else if !tlsVerify {
            pairs.append(("tls", Self.flow([("verify", Node("false", Tag(.bool)))])))
        }
        if let greeting { pairs.append(("greeting", Self.expectation(greeting))) }
        pairs.append(("steps", Node(steps.map(Self.node), Tag(.seq), .block)))
        let body = (try? Yams.serialize(node: Node(pairs, Tag(.map), .block), width: -1, allowUnicode: true)) ?? ""
        let stamp = ISO8601DateFormatter().string(from: recordedAt)
        var header = "# Recorded with smtp-scenario record against \(server) on \(stamp).\n"
        header += "# Replay: smtp-scenario run FILE"
        if steps.contains(where: { if case .auth = $0 { return true } else { return false } }) {
            header += " (AUTH reads its secret from the environment, never from this file)"
        }
        return header + "\n" + body
    }

    private static func node(_ recorded: Step) -> Node {
        switch recorded {
        case .send(let line, let reply):
            return stepNode(("send", text(escaped(line))), reply)
        case .data(let content, let reply):
            return stepNode(("data", Node(escaped(content), Tag(.str), .literal)), reply)
        case .startTLS:
            return Node([("starttls", Node([(Node, Node)](), Tag(.map), .flow))], Tag(.map), .block)
        case .auth(let mechanism, let username, let variable, let usesToken, let reply):
            let auth = flow([
                ("mechanism", text(mechanism)), ("username", text(escaped(username))),
                (usesToken ? "token" : "password", text("${env.\(variable)}")),
            ])
            return stepNode(("auth", auth), reply)
        case .wait(let duration):
            return Node([("wait", text(duration))], Tag(.map), .block)
        case .read(let reply):
            return Node([("expect", expectation(reply))], Tag(.map), .block)
        }
    }

    private static func stepNode(_ action: (Node, Node), _ reply: ReplyRecord?) -> Node {
        var pairs = [action]
        // No reply (a timeout): the step expects none, so the replay checks that too.
        pairs.append(("expect", reply.map(expectation) ?? text("nothing")))
        return Node(pairs, Tag(.map), .block)
    }

    /// `250`, or `{code: 550, enhanced: 5.1.1}`.
    private static func expectation(_ reply: ReplyRecord) -> Node {
        let code = Node(String(reply.code), Tag(.int))
        guard let enhanced = reply.enhanced else { return code }
        return flow([("code", code), ("enhanced", text(enhanced))])
    }

    private static func flow(_ pairs: [(Node, Node)]) -> Node { Node(pairs, Tag(.map), Node.Mapping.Style.flow) }

    /// A string scalar, quoted when YAML would otherwise read it as something else (`null`, `true`, `25`).
    private static func text(_ value: String) -> Node {
        let plainIsString = Resolver.default.resolveTag(of: Node(value)) == .str
        return Node(value, Tag(.str), plainIsString ? .any : .doubleQuoted)
    }

    /// `${` is the start of a variable in scenario strings; typed text keeps it literal as `$${`.
    private static func escaped(_ text: String) -> String { text.replacingOccurrences(of: "${", with: "$${") }
}
