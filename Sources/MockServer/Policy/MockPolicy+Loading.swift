import Foundation
import LocatedYAML
import SMTPWire

/// Reading a policy file (`schemas/mock.schema.json`), with the same located diagnostics as scenario files.
extension MockPolicy {
    static let keys = [
        "hostname", "greeting", "local-domains", "mailboxes", "relay", "max-message-size", "max-recipients",
        "require-tls", "require-auth", "auth-requires-tls", "users", "greylisting", "bare-line-endings", "vrfy",
        "advertise", "hide", "faults", "limits", "split-multiline-replies", "execute-plaintext-after-starttls",
        "improper-pipelining",
    ]

    /// The outcome of loading a policy file.
    public struct Loaded: Sendable {
        /// The policy, when the file has no errors.
        public let policy: MockPolicy?
        /// Every problem found.
        public let diagnostics: [Diagnostic]
    }

    /// Loads the policy file at `path`; `displayPath` names it in diagnostics.
    public static func load(path: String, displayPath: String? = nil) -> Loaded {
        let shown = displayPath ?? path
        do {
            return parse(try YAMLDocument.load(path: path, displayPath: shown), file: shown)
        } catch {
            return Loaded(policy: nil, diagnostics: [error])
        }
    }

    /// Parses policy YAML text.
    public static func parse(_ text: String, file: String) -> Loaded {
        do {
            return parse(try YAMLDocument.parse(text, file: file), file: file)
        } catch {
            return Loaded(policy: nil, diagnostics: [error])
        }
    }

    private static func parse(_ root: YAMLValue?, file: String) -> Loaded {
        var diagnostics = Diagnostics()
        guard let root else { return Loaded(policy: MockPolicy(), diagnostics: []) }
        guard let mapping = root.mapping("a mock policy", into: &diagnostics) else {
            return Loaded(policy: nil, diagnostics: diagnostics.all)
        }
        var reader = PolicyReader(diagnostics: diagnostics)
        let policy = reader.read(mapping)
        let sorted = reader.diagnostics.all.sorted { $0.location < $1.location }
        return Loaded(policy: reader.diagnostics.hasErrors ? nil : policy, diagnostics: sorted)
    }
}

/// Walks a policy mapping, recording located diagnostics.
private struct PolicyReader {
    var diagnostics: Diagnostics

    mutating func read(_ mapping: YAMLMapping) -> MockPolicy {
        mapping.checkKeys(allowed: MockPolicy.keys, context: "a mock policy", into: &diagnostics)
        var policy = MockPolicy()
        if let value = mapping["hostname"], value.nonEmptyString("hostname", into: &diagnostics) != nil,
            let text = replyText(value, "hostname")
        {
            policy.hostname = text
        }
        if let value = mapping["greeting"], let text = replyText(value, "greeting") {
            policy.greetingText = text
        }
        if let value = mapping["local-domains"], let list = value.stringList("local-domains", into: &diagnostics) {
            policy.localDomains = list
        }
        if let value = mapping["mailboxes"] {
            if value.scalar == "*" {
                policy.mailboxes = nil
            } else if let list = value.stringList("mailboxes", into: &diagnostics) {
                policy.mailboxes = list
            }
        }
        if let value = mapping["relay"] { policy.relay = relay(value) ?? policy.relay }
        if let value = mapping["max-message-size"] { policy.maxMessageSize = size(value) ?? policy.maxMessageSize }
        if let value = mapping["max-recipients"] {
            policy.maxRecipients =
                value.integer("max-recipients", in: 1...100_000, into: &diagnostics) ?? policy.maxRecipients
        }
        for (key, path) in [
            ("require-tls", \MockPolicy.requireTLS), ("require-auth", \MockPolicy.requireAuth),
            ("auth-requires-tls", \MockPolicy.authRequiresTLS),
            ("split-multiline-replies", \MockPolicy.splitMultilineReplies),
            ("execute-plaintext-after-starttls", \MockPolicy.executePlaintextAfterSTARTTLS),
        ] {
            if let value = mapping[key], let flag = value.bool(key, into: &diagnostics) { policy[keyPath: path] = flag }
        }
        if let value = mapping["users"] { policy.users = users(value) ?? policy.users }
        if let value = mapping["greylisting"] { policy.greylisting = greylisting(value) }
        if let value = mapping["bare-line-endings"], let text = value.string("bare-line-endings", into: &diagnostics) {
            if let parsed = BareLineEndingPolicy(rawValue: text) {
                policy.bareLineEndings = parsed
            } else {
                diagnostics.error(
                    .badValue,
                    at: value.location,
                    "bare-line-endings must be reject, normalize or accept, found \"\(text)\"",
                    hint: "accept builds a deliberately smuggling-vulnerable server, for tests only"
                )
            }
        }
        if let value = mapping["vrfy"], let text = value.string("vrfy", into: &diagnostics) {
            switch text {
            case "252", "no-confirm": policy.verify = .noConfirm
            case "disabled": policy.verify = .disabled
            case "confirm": policy.verify = .confirm
            default:
                diagnostics.error(
                    .badValue,
                    at: value.location,
                    "vrfy must be 252, disabled or confirm, found \"\(text)\""
                )
            }
        }
        if let value = mapping["improper-pipelining"],
            let text = value.string("improper-pipelining", into: &diagnostics)
        {
            if let parsed = MockPolicy.ImproperPipelining(rawValue: text) {
                policy.improperPipelining = parsed
            } else {
                diagnostics.error(
                    .badValue,
                    at: value.location,
                    "improper-pipelining must be accept or reject, found \"\(text)\"",
                    hint: "reject answers 500 and closes when a client pipelines although PIPELINING is hidden"
                )
            }
        }
        if let value = mapping["advertise"], value.stringList("advertise", into: &diagnostics) != nil,
            let items = value.sequence
        {
            policy.advertise = items.compactMap { replyText($0, "an advertise entry") }
        }
        if let value = mapping["hide"] { policy.hide = value.stringList("hide", into: &diagnostics) ?? [] }
        if let value = mapping["limits"] { policy.limits = limits(value, base: policy.limits) }
        if let value = mapping["faults"] { policy.faults = faults(value) }
        return policy
    }

    private mutating func relay(_ value: YAMLValue) -> MockPolicy.Relay? {
        if let text = value.scalar {
            switch text {
            case "closed": return .closed
            case "open": return .open
            default:
                diagnostics.error(
                    .badValue,
                    at: value.location,
                    "relay must be closed, open, or a list of client networks, found \"\(text)\"",
                    hint: "e.g. relay: [127.0.0.0/8, ::1/128]"
                )
                return nil
            }
        }
        var list = value
        if let mapping = value.mapping {
            mapping.checkKeys(allowed: ["networks"], context: "relay", into: &diagnostics)
            guard let networks = mapping["networks"] else {
                diagnostics.error(.missingKey, at: value.location, "relay as a mapping needs `networks:`")
                return nil
            }
            list = networks
        }
        guard let items = list.list("relay networks", into: &diagnostics) else { return nil }
        var networks: [IPNetwork] = []
        for item in items {
            guard let text = item.string("a relay network", into: &diagnostics) else { continue }
            guard let network = IPNetwork(text) else {
                diagnostics.error(
                    .badValue,
                    at: item.location,
                    "not an IP network: \"\(text)\"",
                    hint: "CIDR form, e.g. 10.0.0.0/8"
                )
                continue
            }
            networks.append(network)
        }
        return .networks(networks)
    }

    /// Bytes, or a number with KB/MB/GB (powers of 1024).
    private mutating func size(_ value: YAMLValue) -> Int? { value.byteSize("max-message-size", into: &diagnostics) }

    private mutating func users(_ value: YAMLValue) -> [String: MockPolicy.User]? {
        guard let mapping = value.mapping("users", into: &diagnostics) else { return nil }
        var users: [String: MockPolicy.User] = [:]
        for entry in mapping.entries {
            if let password = entry.value.scalar {
                users[entry.key] = MockPolicy.User(password: password)
                continue
            }
            guard let fields = entry.value.mapping("user '\(entry.key)'", into: &diagnostics) else { continue }
            fields.checkKeys(allowed: ["password", "token"], context: "user '\(entry.key)'", into: &diagnostics)
            guard let password = fields["password"]?.string("password", into: &diagnostics) else {
                if fields["password"] == nil {
                    diagnostics.error(.missingKey, at: fields.location, "user '\(entry.key)' needs a `password:`")
                }
                continue
            }
            users[entry.key] = MockPolicy.User(
                password: password,
                token: fields["token"].flatMap { $0.string("token", into: &diagnostics) }
            )
        }
        return users
    }

    private mutating func greylisting(_ value: YAMLValue) -> MockPolicy.Greylisting? {
        if let flag = value.scalar?.lowercased(), ["false", "no", "off"].contains(flag) { return nil }
        if value.scalar != nil {
            return value.duration("greylisting delay", into: &diagnostics).map(MockPolicy.Greylisting.init)
        }
        guard let mapping = value.mapping("greylisting", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["delay"], context: "greylisting", into: &diagnostics)
        let delay = mapping["delay"].flatMap { $0.duration("delay", into: &diagnostics) } ?? .seconds(60)
        return MockPolicy.Greylisting(delay: delay)
    }

    private mutating func limits(_ value: YAMLValue, base: MockPolicy.Limits) -> MockPolicy.Limits {
        guard let mapping = value.mapping("limits", into: &diagnostics) else { return base }
        mapping.checkKeys(
            allowed: ["max-connections", "idle-timeout", "session-timeout", "max-command-length", "max-errors"],
            context: "limits",
            into: &diagnostics
        )
        var limits = base
        if let v = mapping["max-connections"] {
            limits.maxConnections =
                v.integer("max-connections", in: 1...100_000, into: &diagnostics) ?? limits.maxConnections
        }
        if let v = mapping["idle-timeout"] {
            limits.idleTimeout = v.positiveDuration("idle-timeout", into: &diagnostics) ?? limits.idleTimeout
        }
        if let v = mapping["session-timeout"] {
            limits.sessionTimeout = v.positiveDuration("session-timeout", into: &diagnostics) ?? limits.sessionTimeout
        }
        if let v = mapping["max-command-length"] {
            limits.maxCommandLength =
                v.integer("max-command-length", in: 64...MockSessionHandler.maxFramedCommand, into: &diagnostics)
                ?? limits.maxCommandLength
        }
        if let v = mapping["max-errors"] {
            limits.maxErrors = v.integer("max-errors", in: 1...100_000, into: &diagnostics) ?? limits.maxErrors
        }
        return limits
    }

    /// A string the mock writes into a reply line. A CR or LF in it would end the line early and start a reply the
    /// client never asked for, which it would then read as the answer to its next command.
    private mutating func replyText(_ value: YAMLValue, _ what: String) -> String? {
        guard let text = value.string(what, into: &diagnostics) else { return nil }
        guard !SMTPCommandLine.containsLineBreak(text) else {
            diagnostics.error(
                .badValue,
                at: value.location,
                "\(what) goes into a reply line, which cannot hold a line break",
                hint: what == "an advertise entry"
                    ? "each advertise entry is one line of the EHLO reply: give each its own entry"
                    : "write it on one line"
            )
            return nil
        }
        return text
    }

    private static let faultKinds = ["delay", "close-after", "drop-at", "fail-recipients"]

    private mutating func faults(_ value: YAMLValue) -> [FaultRule] {
        guard let items = value.list("faults", into: &diagnostics) else { return [] }
        var rules: [FaultRule] = []
        for item in items {
            guard let mapping = item.mapping("a fault", into: &diagnostics) else { continue }
            let kinds = mapping.keys.filter(Self.faultKinds.contains)
            guard kinds.count == 1 else {
                diagnostics.error(
                    kinds.isEmpty ? .missingKey : .conflictingKeys,
                    at: mapping.location,
                    kinds.isEmpty
                        ? "a fault needs one of \(Self.faultKinds.joined(separator: ", "))"
                        : "a fault has one kind, found \(kinds.joined(separator: " and "))",
                    hint:
                        "e.g. {delay: 2s, at: rcpt}, {close-after: 3}, {drop-at: data}, {fail-recipients: \"/^temp/\", code: 451}"
                )
                continue
            }
            switch kinds[0] {
            case "delay":
                mapping.checkKeys(allowed: ["delay", "at"], context: "a delay fault", into: &diagnostics)
                guard let duration = mapping["delay"]!.duration("delay", into: &diagnostics),
                    let stage = stage(mapping, key: "at")
                else { continue }
                rules.append(.delay(stage: stage, duration: duration))
            case "close-after":
                mapping.checkKeys(allowed: ["close-after"], context: "a close-after fault", into: &diagnostics)
                if let count = mapping["close-after"]!.integer("close-after", in: 0...100_000, into: &diagnostics) {
                    rules.append(.closeAfterCommands(count))
                }
            case "drop-at":
                mapping.checkKeys(allowed: ["drop-at"], context: "a drop-at fault", into: &diagnostics)
                if let stage = stage(mapping, key: "drop-at") { rules.append(.drop(stage: stage)) }
            default:
                mapping.checkKeys(
                    allowed: ["fail-recipients", "code"],
                    context: "a fail-recipients fault",
                    into: &diagnostics
                )
                guard let patternValue = mapping["fail-recipients"],
                    let text = patternValue.string("fail-recipients", into: &diagnostics)
                else { continue }
                let code = mapping["code"].flatMap { $0.integer("code", in: 400...599, into: &diagnostics) } ?? 550
                guard [450, 451, 452, 550, 551, 552, 553, 554].contains(code) else {
                    diagnostics.error(
                        .badReply,
                        at: mapping["code"]?.location ?? mapping.location,
                        "fail-recipients code must be 450, 451, 452 (temporary) or 550-554 (permanent)"
                    )
                    continue
                }
                do {
                    rules.append(.failRecipients(pattern: try RecipientPattern(text), code: code))
                } catch {
                    diagnostics.error(.badRegex, at: patternValue.location, "invalid regular expression \(text)")
                }
            }
        }
        return rules
    }

    private mutating func stage(_ mapping: YAMLMapping, key: String) -> FaultRule.Stage? {
        guard let value = mapping[key] else {
            diagnostics.error(.missingKey, at: mapping.location, "the fault needs `\(key):` (a stage)")
            return nil
        }
        guard let text = value.string(key, into: &diagnostics) else { return nil }
        guard let stage = FaultRule.Stage(rawValue: text.lowercased()) else {
            let names = FaultRule.Stage.allCases.map(\.rawValue)
            diagnostics.error(
                .badValue,
                at: value.location,
                "unknown stage \"\(text)\"",
                hint: Suggestion.closest(to: text, among: names).map { "did you mean '\($0)'?" }
                    ?? "stages: \(names.joined(separator: ", "))"
            )
            return nil
        }
        return stage
    }
}
