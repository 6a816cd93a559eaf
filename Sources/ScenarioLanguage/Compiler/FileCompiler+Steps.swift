import Foundation
import LocatedYAML
import SMTPWire
import ScenarioResults

/// A group call being compiled: what identifies it for cycles, and where it was called from.
struct CallFrame {
    /// `identity#name` of the group.
    let key: String
    /// The group as called (`s.envelope`).
    let display: String
    /// Where the `call:` is (or the group's definition, for a group checked on its own).
    let site: SourceLocation
}

/// What step compilation carries from one step to the next.
struct StepContext {
    /// The scenario's per-reply timeout.
    let replyTimeout: Duration
    /// The scenario's greeting expectation, which `reconnect` and `connect` check again.
    let greeting: Expectation
    /// Set by `starttls`, cleared by EHLO/HELO: MAIL in between gets a warning (RFC 3207 4.2).
    var tlsWithoutNewEHLO = false
    /// Whether a connection is open at this point (`connect: false`, `disconnect`, `connect`).
    var connected: Bool
    /// Inside a `pipeline`: only `send` steps, captures visible after it.
    var insidePipeline = false
    /// The file whose groups, imports and folder apply (a library, inside one of its groups).
    var unit: SourceUnit
    /// Groups being compiled, outermost first.
    var callStack: [CallFrame] = []
    /// `servers:` names of the scenario's file.
    let servers: [String: ServerTarget]
    /// The scenario's server, if it names one (a `delivered` step needs the mock unless it watches a Maildir).
    var scenarioServer: ServerRef?
    /// How messages name the enclosing steps (`3 repeat > `), before the step's own number.
    var pathText = ""

    init(
        replyTimeout: Duration,
        greeting: Expectation,
        connected: Bool,
        unit: SourceUnit,
        servers: [String: ServerTarget]
    ) {
        self.replyTimeout = replyTimeout
        self.greeting = greeting
        self.connected = connected
        self.unit = unit
        self.servers = servers
    }
}

/// One step as the per-action compilers see it.
struct StepInput {
    /// The whole step mapping.
    let mapping: YAMLMapping
    /// The action's `key: value`.
    let entry: YAMLMapping.Entry
    /// `step 3`, `step 2 call s.envelope > 1`: how messages name the step.
    let label: String
    /// The step's own path component.
    let position: StepPath.Component
    /// Its timeout (the step's, else the scenario's).
    let timeout: Duration

    /// The action's value.
    var value: YAMLValue { entry.value }
}

/// What an action compiler produced: the action and its expectation (nil: the step's `expect` or the default).
struct CompiledAction {
    let action: StepAction
    let expectation: Expectation
}

/// An action's compile function and the keys its steps may have besides the common ones.
///
/// A class: the compiler passes the spec of every step around several times, and a struct of two arrays and a
/// closure costs three reference-count updates for each copy.
final class StepActionSpec: Sendable {
    /// Keys besides `name`, `timeout`, `expect`, `capture` and the action keys (`retry` here allows the action
    /// to be retried on its own).
    let extraKeys: [String]
    /// Every key a step with this action may have: joined once here, not for every step compiled.
    let allowedKeys: [String]
    /// Compiles the step's action.
    let compile: @Sendable (inout FileCompiler, StepInput, inout VariableScope, inout StepContext) -> CompiledAction?

    init(
        extraKeys: [String],
        compile:
            @escaping @Sendable (inout FileCompiler, StepInput, inout VariableScope, inout StepContext) ->
            CompiledAction?
    ) {
        self.extraKeys = extraKeys
        self.allowedKeys = FileCompiler.commonStepKeys + FileCompiler.actionKeys + extraKeys
        self.compile = compile
    }
}

/// Reading `steps:`, one compile function per action, chosen from a table keyed by the action's name.
extension FileCompiler {
    static let commonStepKeys = ["name", "timeout", "expect", "capture"]
    /// The keys of a step without an action (`expect` alone reads a reply).
    static let stepKeysWithoutAction = commonStepKeys + actionKeys
    static let positiveCodes: [CodePattern] = [.anyOfClass(2), .anyOfClass(3)]

    /// The step actions, by key.
    static let stepActions: [String: StepActionSpec] = [
        "send": StepActionSpec(extraKeys: ["retry"]) { $0.compileSend($1, scope: &$2, context: &$3) },
        "data": StepActionSpec(extraKeys: ["retry"]) { $0.compileData($1, scope: &$2, context: &$3) },
        "bdat": StepActionSpec(extraKeys: ["retry"]) { $0.compileBDAT($1, scope: &$2, context: &$3) },
        "raw": StepActionSpec(extraKeys: ["retry"]) { $0.compileRaw($1, scope: &$2, context: &$3) },
        "wait": StepActionSpec(extraKeys: []) { $0.compileWait($1, scope: &$2, context: &$3) },
        "reconnect": StepActionSpec(extraKeys: ["retry"]) { $0.compileReconnect($1, scope: &$2, context: &$3) },
        "starttls": StepActionSpec(extraKeys: []) { $0.compileStartTLS($1, scope: &$2, context: &$3) },
        "auth": StepActionSpec(extraKeys: ["retry"]) { $0.compileAuth($1, scope: &$2, context: &$3) },
        "pipeline": StepActionSpec(extraKeys: []) { $0.compilePipeline($1, scope: &$2, context: &$3) },
        "call": StepActionSpec(extraKeys: ["with"]) { $0.compileCall($1, scope: &$2, context: &$3) },
        "repeat": StepActionSpec(extraKeys: ["index", "steps"]) { $0.compileRepeat($1, scope: &$2, context: &$3) },
        "retry": StepActionSpec(extraKeys: ["steps"]) { $0.compileRetryBlock($1, scope: &$2, context: &$3) },
        "fail": StepActionSpec(extraKeys: []) { $0.compileFail($1, scope: &$2, context: &$3) },
        "connect": StepActionSpec(extraKeys: []) { $0.compileConnect($1, scope: &$2, context: &$3) },
        "disconnect": StepActionSpec(extraKeys: []) { $0.compileDisconnect($1, scope: &$2, context: &$3) },
        "delivered": StepActionSpec(extraKeys: []) { $0.compileDelivered($1, scope: &$2, context: &$3) },
    ]

    /// The action keys in a stable order, for messages.
    static let actionKeys = [
        "send", "data", "bdat", "raw", "wait", "reconnect", "starttls", "auth", "pipeline", "call", "repeat", "retry",
        "fail",
        "connect", "disconnect", "delivered",
    ]

    /// Compiles a list of steps (a scenario's, a group's, a repeat's or retry's body, a pipeline's items).
    mutating func compileSteps(
        _ items: [YAMLValue],
        scope: inout VariableScope,
        context: inout StepContext
    ) -> [Step] {
        // Captures later in the list, so a use before its capture gets a precise message.
        for (index, item) in items.enumerated() {
            for name in item.mapping?["capture"]?.mapping?.keys ?? [] where scope.runtimeKey(name) == nil {
                scope.laterCaptures[name] =
                    scope.laterCaptures[name] ?? "step \(context.pathText)\(Self.number(index + 1, context))"
            }
        }
        // Pipelined commands are all sent before any reply arrives: a capture inside a pipeline is usable only after.
        let before = scope
        var steps: [Step] = []
        // Sized once: grown by doubling, a six-step list holds room for eight 320-byte steps.
        steps.reserveCapacity(items.count)
        var failedAt: SourceLocation?
        for (index, item) in items.enumerated() {
            // A step an earlier matrix combination compiled alike is taken as it is, before any text is built for
            // its messages. Reusable steps change no scope: they capture nothing.
            if matrixStepMemo != nil, failedAt == nil, let mapping = item.mapping,
                let step = reusedStep(mapping, context: &context)
            {
                steps.append(step)
                continue
            }
            let number = Self.number(index + 1, context)
            let position: StepPath.Component = context.insidePipeline ? .pipelined(index + 1) : .step(index + 1)
            guard let mapping = item.mapping("step \(context.pathText)\(number)", into: &diagnostics) else {
                continue
            }
            if let failedAt {
                diagnostics.error(
                    .badValue,
                    at: mapping.location,
                    "this step never runs: the `fail` step at \(failedAt.line):\(failedAt.column) ends the scenario",
                    hint: "remove the steps after `fail`, or the `fail`"
                )
                break
            }
            var stepScope = context.insidePipeline ? before : scope
            let stateBefore = MatrixStepMemo.State(context)
            let budgetBefore = budget.used
            let diagnosticsBefore = diagnostics.count
            if let step = compileStep(
                mapping,
                label: "step \(context.pathText)\(number)",
                position: position,
                scope: &stepScope,
                context: &context
            ) {
                steps.append(step)
                if case .fail = step.action { failedAt = step.location }
                remember(
                    step,
                    from: mapping,
                    before: stateBefore,
                    budgetBefore: budgetBefore,
                    diagnosticsBefore: diagnosticsBefore,
                    context: context
                )
            }
            if context.insidePipeline {
                for capture in steps.last?.captures ?? [] { scope.capture(capture.name) }
            } else {
                scope = stepScope
            }
        }
        return steps
    }

    private static func number(_ index: Int, _ context: StepContext) -> String {
        context.insidePipeline ? ".\(index)" : String(index)
    }

    /// One step: its action from the table, then the keys every step shares.
    private mutating func compileStep(
        _ mapping: YAMLMapping,
        label: String,
        position: StepPath.Component,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> Step? {
        // Each key looked up once; a step nearly always has one action.
        var actions: [(entry: YAMLMapping.Entry, spec: StepActionSpec)] = []
        for entry in mapping.entries {
            if let spec = Self.stepActions[entry.key] { actions.append((entry, spec)) }
        }
        // `retry:` beside another action retries that one step.
        let retryModifier = actions.count == 2 ? actions.first { $0.entry.key == "retry" }?.entry : nil
        let primary = retryModifier == nil ? actions : actions.filter { $0.entry.key != "retry" }
        let extraKeys = primary.first?.spec.extraKeys ?? []
        mapping.checkKeys(
            allowed: primary.first?.spec.allowedKeys ?? Self.stepKeysWithoutAction,
            context: label,
            into: &diagnostics
        )
        if primary.count > 1 {
            diagnostics.error(
                .conflictingKeys,
                at: primary[1].entry.keyLocation,
                "\(label) has both `\(primary[0].entry.key)` and `\(primary[1].entry.key)`",
                hint: "each step does one thing: split it into two steps"
            )
            return nil
        }
        if let retryModifier, let other = primary.first?.entry, !extraKeys.contains("retry") {
            diagnostics.error(
                .conflictingKeys,
                at: retryModifier.keyLocation,
                "a `\(other.key)` step cannot be retried on its own",
                hint: "put it in a retry block: - retry: {attempts: 3}\n    steps: [...]"
            )
            return nil
        }
        if retryModifier != nil, context.insidePipeline {
            diagnostics.error(
                .badValue,
                at: retryModifier!.keyLocation,
                "a step inside a pipeline cannot be retried",
                hint: "retry the whole pipeline's exchange with a retry block around it"
            )
            return nil
        }
        let errorsBefore = diagnostics.errorCount
        let name = mapping["name"].flatMap { value in
            value.string("name", into: &diagnostics).flatMap { scope.template(value, text: $0, into: &diagnostics) }
        }
        let timeout =
            mapping["timeout"].flatMap { $0.positiveDuration("timeout", into: &diagnostics) } ?? context.replyTimeout

        let compiled: CompiledAction
        if let (entry, spec) = primary.first {
            let input = StepInput(mapping: mapping, entry: entry, label: label, position: position, timeout: timeout)
            guard let result = spec.compile(&self, input, &scope, &context) else {
                return nil
            }
            compiled = result
        } else {
            guard let expectValue = mapping["expect"] else {
                // An unknown key (a misspelt action, most likely) has been reported already.
                if mapping.keys.contains(where: { !Self.commonStepKeys.contains($0) }) { return nil }
                diagnostics.error(
                    .missingKey,
                    at: mapping.location,
                    "\(label) does nothing",
                    hint:
                        "a step has one of \(Self.actionKeys.joined(separator: ", ")), or `expect` alone to read a reply"
                )
                return nil
            }
            compiled = CompiledAction(
                action: .read,
                expectation: expectation(
                    expectValue,
                    defaultCodes: Self.positiveCodes,
                    allowsNothing: true,
                    scope: scope
                ) ?? .reply(.positive)
            )
        }
        var captures: [Capture] = []
        if let captureValue = mapping["capture"] {
            if case .noReply = compiled.expectation {
                diagnostics.error(
                    .conflictingKeys,
                    at: captureValue.location,
                    "\(label) reads no reply, so there is nothing to capture from",
                    hint: "give the step an `expect:`"
                )
            } else {
                captures = self.captures(captureValue, scope: &scope)
            }
        }
        guard diagnostics.errorCount == errorsBefore else { return nil }
        let step = Step(
            position: position,
            name: name,
            action: compiled.action,
            expectation: compiled.expectation,
            captures: captures,
            timeout: timeout,
            location: mapping.location
        )
        guard let retryModifier else { return step }
        guard let retry = retrySettings(retryModifier.value, label: label) else { return nil }
        // The retried step becomes the only step of a retry body.
        let inner = Step(
            position: .step(1),
            name: name,
            action: step.action,
            expectation: step.expectation,
            captures: step.captures,
            timeout: step.timeout,
            location: step.location
        )
        return Step(
            position: position,
            name: name,
            action: .retry(
                RetryAction(attempts: retry.attempts, interval: retry.interval, retryOn: retry.on, steps: [inner])
            ),
            expectation: .noReply,
            captures: [],
            timeout: timeout,
            location: mapping.location
        )
    }

    /// The step's `expect`, or `defaultExpectation` when it has none.
    mutating func expect(
        _ input: StepInput,
        default defaultExpectation: Expectation,
        codes: [CodePattern],
        allowsNothing: Bool = true,
        scope: VariableScope
    ) -> Expectation {
        guard let value = input.mapping["expect"] else { return defaultExpectation }
        return expectation(value, defaultCodes: codes, allowsNothing: allowsNothing, scope: scope)
            ?? defaultExpectation
    }

    /// Refuses `expect` and `capture` on a step that reads no reply.
    mutating func refuseReplyKeys(_ input: StepInput, what: String) {
        for key in ["expect", "capture"] {
            if let entry = input.mapping.entry(key) {
                diagnostics.error(
                    .conflictingKeys,
                    at: entry.keyLocation,
                    "\(what) reads no reply, so it takes no `\(key)`",
                    hint: "add a separate step with `expect:`"
                )
            }
        }
    }

    // MARK: - Steps that talk

    mutating func compileSend(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard let line = input.value.string("send", into: &diagnostics),
            let template = scope.template(input.value, text: line, into: &diagnostics)
        else { return nil }
        if SMTPCommandLine.containsLineBreak(line) {
            diagnostics.error(
                .badValue,
                at: input.value.location,
                "send takes one command line; this one contains a line break",
                hint: "use one step per command, `data:` for message content, or `raw:` for exact bytes"
            )
        } else if template.parts.contains(where: {
            if case .literal(let text) = $0 { SMTPCommandLine.containsLineBreak(text) } else { false }
        }) {
            // Sent, it would be two commands, and every reply after it would be read as the next step's.
            diagnostics.error(
                .badValue,
                at: input.value.location,
                "send takes one command line; once its variables are filled in, this one contains a line break",
                hint: "a value from vars, --var, ${env.*} or a matrix holds CR or LF; use `raw:` to send exact bytes"
            )
        }
        checkCommandOrder(line, at: input.value.location, context: &context)
        return CompiledAction(
            action: .send(template),
            expectation: expect(input, default: .reply(.positive), codes: Self.positiveCodes, scope: scope)
        )
    }

    mutating func compileData(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard let text = input.value.string("data", into: &diagnostics),
            let template = scope.template(input.value, text: text, into: &diagnostics)
        else { return nil }
        let accepted = Expectation.reply(ReplyExpectation(codes: [.exact(250)]))
        return CompiledAction(
            action: .data(template),
            expectation: expect(input, default: accepted, codes: [.exact(250)], scope: scope)
        )
    }

    /// `bdat: TEXT` (one chunk, LAST), `bdat: {text: ..., last: false}` or `bdat: {hex: ...}`.
    mutating func compileBDAT(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        var last = true
        let payload: RawPayload
        if let mapping = input.value.mapping {
            mapping.checkKeys(allowed: ["text", "hex", "last"], context: "bdat", into: &diagnostics)
            if let value = mapping["last"] { last = value.bool("last", into: &diagnostics) ?? true }
            switch (mapping["text"], mapping["hex"]) {
            case (let text?, nil):
                guard let raw = text.string("text", into: &diagnostics),
                    let template = scope.template(text, text: raw, into: &diagnostics)
                else { return nil }
                payload = .text(template)
            case (nil, let hex?):
                guard let raw = hex.string("hex", into: &diagnostics) else { return nil }
                guard let bytes = HexBytes.decode(raw) else {
                    diagnostics.error(
                        .badValue,
                        at: hex.location,
                        "hex must be an even number of hex digits",
                        hint: "e.g. hex: \"48690d0a\" (spaces allowed between bytes)"
                    )
                    return nil
                }
                payload = .bytes(bytes)
            case (_?, _?):
                diagnostics.error(
                    .conflictingKeys,
                    at: mapping.entry("hex")!.keyLocation,
                    "a chunk is either `text` or `hex`, not both"
                )
                return nil
            case (nil, nil):
                diagnostics.error(
                    .missingKey,
                    at: mapping.location,
                    "bdat as a mapping needs `text:` or `hex:`",
                    hint: "bdat: {text: \"...\", last: false} for one chunk of several"
                )
                return nil
            }
        } else {
            guard let raw = input.value.string("bdat", into: &diagnostics),
                let template = scope.template(input.value, text: raw, into: &diagnostics)
            else { return nil }
            payload = .text(template)
        }
        let accepted = Expectation.reply(ReplyExpectation(codes: [.exact(250)]))
        return CompiledAction(
            action: .bdat(BDATAction(payload: payload, last: last)),
            expectation: expect(input, default: accepted, codes: [.exact(250)], scope: scope)
        )
    }

    mutating func compileRaw(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard let payload = rawPayload(input.value, scope: scope) else { return nil }
        return CompiledAction(
            action: .raw(payload),
            expectation: expect(input, default: .noReply, codes: Self.positiveCodes, scope: scope)
        )
    }

    mutating func compileWait(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard let duration = input.value.duration("wait", into: &diagnostics) else { return nil }
        refuseReplyKeys(input, what: "a `wait` step")
        return CompiledAction(action: .wait(duration), expectation: .noReply)
    }

    mutating func compileReconnect(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard input.value.bool("reconnect", into: &diagnostics) == true else {
            if input.value.scalar?.lowercased() == "false" {
                diagnostics.error(
                    .badValue,
                    at: input.value.location,
                    "`reconnect: false` does nothing",
                    hint: "remove the step"
                )
            }
            return nil
        }
        context.tlsWithoutNewEHLO = false
        return CompiledAction(
            action: .reconnect,
            expectation: expect(
                input,
                default: context.greeting,
                codes: [.exact(220)],
                allowsNothing: false,
                scope: scope
            )
        )
    }

    mutating func compileStartTLS(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else {
            diagnostics.error(
                .badValue,
                at: input.entry.keyLocation,
                "STARTTLS cannot be pipelined",
                hint:
                    "RFC 2920: STARTTLS must be the last command of a group; put it in its own step after the pipeline"
            )
            return nil
        }
        let value = input.value
        let sendsCommand: Bool
        if value.isNull {
            sendsCommand = true
        } else if value.scalar != nil {
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
            sendsCommand = true
        } else {
            guard let mapping = value.mapping("starttls", into: &diagnostics) else { return nil }
            mapping.checkKeys(allowed: ["command"], context: "starttls", into: &diagnostics)
            sendsCommand = mapping["command"].flatMap { $0.bool("command", into: &diagnostics) } ?? true
        }
        context.tlsWithoutNewEHLO = true
        let defaultExpectation: Expectation =
            sendsCommand ? .reply(ReplyExpectation(codes: [.exact(220)])) : .noReply
        return CompiledAction(
            action: .startTLS(StartTLSAction(sendsCommand: sendsCommand)),
            expectation: expect(
                input,
                default: defaultExpectation,
                codes: [.exact(220)],
                allowsNothing: false,
                scope: scope
            )
        )
    }

    mutating func compileAuth(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else {
            diagnostics.error(
                .badValue,
                at: input.entry.keyLocation,
                "AUTH cannot be pipelined",
                hint: "AUTH is an exchange of challenges and responses; put it in its own step"
            )
            return nil
        }
        guard let auth = authAction(input.value, scope: scope) else { return nil }
        let accepted = Expectation.reply(ReplyExpectation(codes: [.exact(235)]))
        return CompiledAction(
            action: .auth(auth),
            expectation: expect(input, default: accepted, codes: [.exact(235)], scope: scope)
        )
    }

    mutating func compileFail(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard let text = input.value.nonEmptyString("fail (a reason)", into: &diagnostics),
            let reason = scope.template(input.value, text: text, into: &diagnostics)
        else { return nil }
        refuseReplyKeys(input, what: "a `fail` step")
        return CompiledAction(action: .fail(reason), expectation: .noReply)
    }

    mutating func compileDisconnect(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard input.value.bool("disconnect", into: &diagnostics) == true else {
            if input.value.scalar?.lowercased() == "false" {
                diagnostics.error(
                    .badValue,
                    at: input.value.location,
                    "`disconnect: false` does nothing",
                    hint: "remove the step"
                )
            }
            return nil
        }
        refuseReplyKeys(input, what: "a `disconnect` step")
        return CompiledAction(action: .disconnect, expectation: .noReply)
    }

    /// The error for a step kind a pipeline cannot hold.
    mutating func refuseInPipeline(_ input: StepInput) -> CompiledAction? {
        diagnostics.error(
            .badValue,
            at: input.entry.keyLocation,
            "\(input.label): a pipeline holds `send` steps only",
            hint: "put `\(input.entry.key)` in its own step after the pipeline"
        )
        return nil
    }

    /// Warns about MAIL after STARTTLS without a new EHLO; refuses STARTTLS and AUTH inside a pipeline.
    private mutating func checkCommandOrder(_ line: String, at location: SourceLocation, context: inout StepContext) {
        let command = SMTPCommandLine(line)
        switch command.verb {
        case .ehlo?, .helo?, .lhlo?:
            context.tlsWithoutNewEHLO = false
        case .mail? where context.tlsWithoutNewEHLO:
            diagnostics.warning(
                .badValue,
                at: location,
                "MAIL after STARTTLS without a new EHLO",
                hint: "RFC 3207 4.2: after TLS starts, the client forgets what it learned and must send EHLO again"
            )
            context.tlsWithoutNewEHLO = false
        case .starttls? where context.insidePipeline, .auth? where context.insidePipeline:
            diagnostics.error(
                .badValue,
                at: location,
                "\(command.keyword) cannot be pipelined",
                hint:
                    "RFC 2920: send \(command.keyword) in its own step (use `\(command.keyword.lowercased()):` for the whole exchange)"
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

    /// `auth: {mechanism, username, password | token}`.
    private mutating func authAction(_ value: YAMLValue, scope: VariableScope) -> AuthAction? {
        guard let mapping = value.mapping("auth", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["mechanism", "username", "password", "token"], context: "auth", into: &diagnostics)
        let mechanisms = SASLMechanism.allCases.map(\.rawValue).joined(separator: ", ")
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
                    hint: "one of \(mechanisms)"
                )
            }
            return nil
        }
        guard let mechanism = SASLMechanism(rawValue: mechanismText.uppercased()) else {
            diagnostics.error(
                .badValue,
                at: mechanismValue.location,
                "unknown SASL mechanism \"\(mechanismText)\"",
                hint: "one of \(mechanisms)"
            )
            return nil
        }
        guard let usernameValue = mapping["username"] else {
            diagnostics.error(.missingKey, at: mapping.location, "auth needs a `username:`")
            return nil
        }
        let secretKey = mechanism.usesToken ? "token" : "password"
        let wrongKey = mechanism.usesToken ? "password" : "token"
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
