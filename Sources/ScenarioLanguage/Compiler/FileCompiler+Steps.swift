import Foundation
import LocatedYAML
import SMTPWire

/// What step compilation carries from one step to the next.
struct StepContext {
    /// The scenario's per-reply timeout.
    let replyTimeout: Duration
    /// The scenario's greeting expectation, which `reconnect` checks again.
    let greeting: Expectation
    /// Set by `starttls`, cleared by EHLO/HELO: MAIL in between gets a warning (RFC 3207 4.2).
    var tlsWithoutNewEHLO = false
}

/// Reading `steps:`.
extension FileCompiler {
    static let actionKeys = ["send", "data", "raw", "wait", "reconnect", "starttls", "auth", "pipeline"]
    static let stepKeys = ["name", "timeout", "expect", "capture"] + actionKeys
    static let positiveCodes: [CodePattern] = [.anyOfClass(2), .anyOfClass(3)]

    mutating func compileSteps(
        _ items: [YAMLValue],
        scope: inout VariableScope,
        context: inout StepContext,
        numberPrefix: String
    ) -> [Step] {
        // Captures later in the list, so a use before its capture gets a precise message.
        for (index, item) in items.enumerated() {
            for name in item.mapping?["capture"]?.mapping?.keys ?? [] where !scope.runtimeNames.contains(name) {
                scope.laterCaptures[name] = scope.laterCaptures[name] ?? "step \(numberPrefix)\(index + 1)"
            }
        }
        // Pipelined commands are all sent before any reply arrives: a capture inside a pipeline is usable only after it.
        let insidePipeline = !numberPrefix.isEmpty
        let before = scope
        var steps: [Step] = []
        for (index, item) in items.enumerated() {
            let number = numberPrefix + String(index + 1)
            guard let mapping = item.mapping("step \(number)", into: &diagnostics) else { continue }
            var stepScope = insidePipeline ? before : scope
            if let step = compileStep(mapping, number: number, scope: &stepScope, context: &context) {
                steps.append(step)
            }
            if insidePipeline {
                for capture in steps.last?.captures ?? [] { scope.capture(capture.name) }
            } else {
                scope = stepScope
            }
        }
        return steps
    }

    private mutating func compileStep(
        _ mapping: YAMLMapping,
        number: String,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> Step? {
        let insidePipeline = number.contains(".")
        mapping.checkKeys(allowed: Self.stepKeys, context: "step \(number)", into: &diagnostics)
        let actions = mapping.entries.filter { Self.actionKeys.contains($0.key) }
        if actions.count > 1 {
            diagnostics.error(
                .conflictingKeys,
                at: actions[1].keyLocation,
                "step \(number) has both `\(actions[0].key)` and `\(actions[1].key)`",
                hint: "each step does one thing: split it into two steps"
            )
            return nil
        }
        let errorsBefore = diagnostics.errors.count
        let name = mapping["name"].flatMap { value in
            value.string("name", into: &diagnostics).flatMap { scope.template(value, text: $0, into: &diagnostics) }
        }
        let timeout = mapping["timeout"].flatMap { $0.duration("timeout", into: &diagnostics) } ?? context.replyTimeout
        let expectValue = mapping["expect"]
        let captureValue = mapping["capture"]
        let action: StepAction
        var expectation: Expectation
        func expect(
            default defaultExpectation: Expectation,
            codes: [CodePattern],
            allowsNothing: Bool = true
        )
            -> Expectation
        {
            guard let expectValue else { return defaultExpectation }
            return self.expectation(expectValue, defaultCodes: codes, allowsNothing: allowsNothing, scope: scope)
                ?? defaultExpectation
        }

        guard let actionEntry = actions.first else {
            guard expectValue != nil else {
                // An unknown key (a misspelt action, most likely) has been reported already.
                if mapping.keys.contains(where: { !Self.stepKeys.contains($0) }) { return nil }
                diagnostics.error(
                    .missingKey,
                    at: mapping.location,
                    "step \(number) does nothing",
                    hint:
                        "a step has one of \(Self.actionKeys.joined(separator: ", ")), or `expect` alone to read a reply"
                )
                return nil
            }
            action = .read
            expectation = expect(default: .reply(.positive), codes: Self.positiveCodes)
            return finish()
        }
        let value = actionEntry.value
        switch actionEntry.key {
        case "send":
            guard let line = value.string("send", into: &diagnostics),
                let template = scope.template(value, text: line, into: &diagnostics)
            else { return nil }
            if line.contains("\n") || line.contains("\r") {
                diagnostics.error(
                    .badValue,
                    at: value.location,
                    "send takes one command line; this one contains a line break",
                    hint: "use one step per command, `data:` for message content, or `raw:` for exact bytes"
                )
            }
            checkCommandOrder(line, at: value.location, context: &context, insidePipeline: insidePipeline)
            action = .send(template)
            expectation = expect(default: .reply(.positive), codes: Self.positiveCodes)
        case "data":
            guard let text = value.string("data", into: &diagnostics),
                let template = scope.template(value, text: text, into: &diagnostics)
            else { return nil }
            action = .data(template)
            expectation = expect(default: .reply(ReplyExpectation(codes: [.exact(250)])), codes: [.exact(250)])
        case "raw":
            guard let payload = rawPayload(value, scope: scope) else { return nil }
            action = .raw(payload)
            expectation = expect(default: .noReply, codes: Self.positiveCodes)
        case "wait":
            guard let duration = value.duration("wait", into: &diagnostics) else { return nil }
            for key in ["expect", "capture"] {
                if let entry = mapping.entry(key) {
                    diagnostics.error(
                        .conflictingKeys,
                        at: entry.keyLocation,
                        "a `wait` step reads no reply, so it takes no `\(key)`",
                        hint: "add a separate step with `expect:` after the wait"
                    )
                }
            }
            action = .wait(duration)
            expectation = .noReply
        case "reconnect":
            guard value.bool("reconnect", into: &diagnostics) == true else {
                if value.scalar?.lowercased() == "false" {
                    diagnostics.error(
                        .badValue,
                        at: value.location,
                        "`reconnect: false` does nothing",
                        hint: "remove the step"
                    )
                }
                return nil
            }
            action = .reconnect
            expectation = expect(default: context.greeting, codes: [.exact(220)], allowsNothing: false)
            context.tlsWithoutNewEHLO = false
        case "starttls":
            guard !insidePipeline else {
                diagnostics.error(
                    .badValue,
                    at: actionEntry.keyLocation,
                    "STARTTLS cannot be pipelined",
                    hint:
                        "RFC 2920: STARTTLS must be the last command of a group; put it in its own step after the pipeline"
                )
                return nil
            }
            guard let startTLS = startTLSAction(value) else { return nil }
            action = .startTLS(startTLS)
            let defaultExpectation: Expectation =
                startTLS.sendsCommand ? .reply(ReplyExpectation(codes: [.exact(220)])) : .noReply
            expectation = expect(default: defaultExpectation, codes: [.exact(220)], allowsNothing: false)
            context.tlsWithoutNewEHLO = true
        case "auth":
            guard !insidePipeline else {
                diagnostics.error(
                    .badValue,
                    at: actionEntry.keyLocation,
                    "AUTH cannot be pipelined",
                    hint: "AUTH is an exchange of challenges and responses; put it in its own step"
                )
                return nil
            }
            guard let auth = authAction(value, scope: scope) else { return nil }
            action = .auth(auth)
            expectation = expect(default: .reply(ReplyExpectation(codes: [.exact(235)])), codes: [.exact(235)])
        case "pipeline":
            guard !insidePipeline else {
                diagnostics.error(.badValue, at: actionEntry.keyLocation, "a pipeline cannot contain another pipeline")
                return nil
            }
            guard let items = value.list("pipeline", into: &diagnostics) else { return nil }
            if items.isEmpty {
                diagnostics.error(.badValue, at: value.location, "the pipeline is empty", hint: "list `send:` steps")
                return nil
            }
            for (index, item) in items.enumerated() {
                guard let inner = item.mapping else { continue }
                let innerActions = inner.keys.filter { Self.actionKeys.contains($0) }
                if innerActions.count == 1, innerActions[0] != "send", !["starttls", "auth"].contains(innerActions[0]) {
                    diagnostics.error(
                        .badValue,
                        at: inner.entry(innerActions[0])!.keyLocation,
                        "step \(number).\(index + 1): a pipeline holds `send` steps only",
                        hint: "put `\(innerActions[0])` in its own step after the pipeline"
                    )
                }
            }
            for key in ["expect", "capture"] {
                if let entry = mapping.entry(key) {
                    diagnostics.error(
                        .conflictingKeys,
                        at: entry.keyLocation,
                        "a pipeline's `\(key)` belongs on the steps inside it",
                        hint: "each pipelined command checks its own reply"
                    )
                }
            }
            var innerContext = context
            let inner = compileSteps(items, scope: &scope, context: &innerContext, numberPrefix: number + ".")
            context = innerContext
            action = .pipeline(inner)
            expectation = .noReply
        default:
            return nil
        }
        return finish()

        func finish() -> Step? {
            var captures: [Capture] = []
            if let captureValue {
                if case .noReply = expectation {
                    diagnostics.error(
                        .conflictingKeys,
                        at: captureValue.location,
                        "step \(number) reads no reply, so there is nothing to capture from",
                        hint: "give the step an `expect:`"
                    )
                } else {
                    captures = self.captures(captureValue)
                }
            }
            for capture in captures { scope.capture(capture.name) }
            guard diagnostics.errors.count == errorsBefore else { return nil }
            return Step(
                number: number,
                name: name,
                action: action,
                expectation: expectation,
                captures: captures,
                timeout: timeout,
                location: mapping.location
            )
        }
    }

    /// Warns about MAIL after STARTTLS without a new EHLO; refuses STARTTLS and AUTH inside a pipeline.
    private mutating func checkCommandOrder(
        _ line: String,
        at location: SourceLocation,
        context: inout StepContext,
        insidePipeline: Bool
    ) {
        let verb = SMTPCommandLine(line).verb
        switch verb {
        case "EHLO", "HELO", "LHLO":
            context.tlsWithoutNewEHLO = false
        case "MAIL" where context.tlsWithoutNewEHLO:
            diagnostics.warning(
                .badValue,
                at: location,
                "MAIL after STARTTLS without a new EHLO",
                hint: "RFC 3207 4.2: after TLS starts, the client forgets what it learned and must send EHLO again"
            )
            context.tlsWithoutNewEHLO = false
        case "STARTTLS" where insidePipeline, "AUTH" where insidePipeline:
            diagnostics.error(
                .badValue,
                at: location,
                "\(verb) cannot be pipelined",
                hint: "RFC 2920: send \(verb) in its own step (use `\(verb.lowercased()):` for the whole exchange)"
            )
        default:
            break
        }
    }

    /// `raw: TEXT` or `raw: {hex: "0d0a"}`.
    private mutating func rawPayload(_ value: YAMLValue, scope: VariableScope) -> RawPayload? {
        if let mapping = value.mapping {
            mapping.checkKeys(allowed: ["hex"], context: "raw", into: &diagnostics)
            guard let hexValue = mapping["hex"], let hex = hexValue.string("hex", into: &diagnostics) else {
                if mapping["hex"] == nil {
                    diagnostics.error(.missingKey, at: value.location, "raw as a mapping needs `hex:`")
                }
                return nil
            }
            guard let bytes = HexBytes.decode(hex) else {
                diagnostics.error(
                    .badValue,
                    at: hexValue.location,
                    "hex must be an even number of hex digits",
                    hint: "e.g. hex: \"0d0a2e0d0a\" (spaces allowed between bytes)"
                )
                return nil
            }
            return .bytes(bytes)
        }
        guard let text = value.string("raw", into: &diagnostics),
            let template = scope.template(value, text: text, into: &diagnostics)
        else { return nil }
        if text.isEmpty {
            diagnostics.error(.badValue, at: value.location, "raw is empty")
            return nil
        }
        return .text(template)
    }

    /// `starttls: true`, `starttls: {}` or `starttls: {command: false}`.
    private mutating func startTLSAction(_ value: YAMLValue) -> StartTLSAction? {
        if value.isNull { return StartTLSAction(sendsCommand: true) }
        if value.scalar != nil {
            guard let flag = value.bool("starttls", into: &diagnostics) else { return nil }
            guard flag else {
                diagnostics.error(
                    .badValue,
                    at: value.location,
                    "`starttls: false` does nothing",
                    hint: "remove the step"
                )
                return nil
            }
            return StartTLSAction(sendsCommand: true)
        }
        guard let mapping = value.mapping("starttls", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["command"], context: "starttls", into: &diagnostics)
        let sendsCommand = mapping["command"].flatMap { $0.bool("command", into: &diagnostics) } ?? true
        return StartTLSAction(sendsCommand: sendsCommand)
    }

    /// `auth: {mechanism, username, password | token}`.
    private mutating func authAction(_ value: YAMLValue, scope: VariableScope) -> AuthAction? {
        guard let mapping = value.mapping("auth", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["mechanism", "username", "password", "token"], context: "auth", into: &diagnostics)
        guard let mechanismValue = mapping["mechanism"],
            let mechanismRaw = mechanismValue.string("mechanism", into: &diagnostics),
            let mechanismText = scope.staticString(
                mechanismValue,
                text: mechanismRaw,
                what: "mechanism",
                into: &diagnostics
            )
        else {
            if mapping["mechanism"] == nil {
                diagnostics.error(
                    .missingKey,
                    at: mapping.location,
                    "auth needs a `mechanism:`",
                    hint: "one of \(SASLMechanism.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            return nil
        }
        guard let mechanism = SASLMechanism(rawValue: mechanismText.uppercased()) else {
            diagnostics.error(
                .badValue,
                at: mechanismValue.location,
                "unknown SASL mechanism \"\(mechanismText)\"",
                hint: "one of \(SASLMechanism.allCases.map(\.rawValue).joined(separator: ", "))"
            )
            return nil
        }
        guard let usernameValue = mapping["username"] else {
            diagnostics.error(.missingKey, at: mapping.location, "auth needs a `username:`")
            return nil
        }
        let secretKey = mechanism == .xoauth2 ? "token" : "password"
        let wrongKey = mechanism == .xoauth2 ? "password" : "token"
        if let wrong = mapping.entry(wrongKey) {
            diagnostics.error(
                .conflictingKeys,
                at: wrong.keyLocation,
                "\(mechanism.rawValue) takes a `\(secretKey)`, not a `\(wrongKey)`"
            )
            return nil
        }
        guard let secretValue = mapping[secretKey] else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "auth \(mechanism.rawValue) needs a `\(secretKey):`",
                hint: "take it from the environment: \(secretKey): ${env.SMTP_\(secretKey.uppercased())}"
            )
            return nil
        }
        guard let usernameText = usernameValue.string("username", into: &diagnostics),
            let username = scope.template(usernameValue, text: usernameText, into: &diagnostics),
            let secretText = secretValue.string(secretKey, into: &diagnostics),
            let secret = scope.template(secretValue, text: secretText, into: &diagnostics)
        else { return nil }
        if let text = secret.staticText { secretValues.insert(text) }
        return AuthAction(mechanism: mechanism, username: username, secret: secret)
    }
}
