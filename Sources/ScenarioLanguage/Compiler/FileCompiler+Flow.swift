import Foundation
import LocatedYAML
import SMTPWire
import ScenarioResults

/// The steps that hold other steps (`pipeline`, `call`, `repeat`, `retry`) and the connection steps.
extension FileCompiler {
    /// The most iterations one `repeat` may have.
    static let maxRepeatCount = 100_000

    // MARK: - pipeline

    /// `pipeline: [send steps]` or `pipeline: {unadvertised: true, steps: [...]}`.
    mutating func compilePipeline(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else {
            diagnostics.error(.badValue, at: input.entry.keyLocation, "a pipeline cannot contain another pipeline")
            return nil
        }
        var unadvertised = false
        var itemsValue = input.value
        if let mapping = input.value.mapping {
            mapping.checkKeys(allowed: ["unadvertised", "steps"], context: "pipeline", into: &diagnostics)
            unadvertised = mapping["unadvertised"].flatMap { $0.bool("unadvertised", into: &diagnostics) } ?? false
            guard let steps = mapping["steps"] else {
                diagnostics.error(
                    .missingKey,
                    at: mapping.location,
                    "a pipeline written as a mapping needs `steps:`",
                    hint: "pipeline: {unadvertised: true, steps: [{send: EHLO a}, {send: NOOP}]}"
                )
                return nil
            }
            itemsValue = steps
        }
        guard let items = itemsValue.list("pipeline", into: &diagnostics) else { return nil }
        if items.isEmpty {
            diagnostics.error(.badValue, at: itemsValue.location, "the pipeline is empty", hint: "list `send:` steps")
            return nil
        }
        for key in ["expect", "capture"] {
            if let entry = input.mapping.entry(key) {
                diagnostics.error(
                    .conflictingKeys,
                    at: entry.keyLocation,
                    "a pipeline's `\(key)` belongs on the steps inside it",
                    hint: "each pipelined command checks its own reply"
                )
            }
        }
        var inner = context
        inner.insidePipeline = true
        inner.pathText = String(input.label.dropFirst("step ".count))
        let steps = compileSteps(items, scope: &scope, context: &inner)
        context.tlsWithoutNewEHLO = inner.tlsWithoutNewEHLO
        return CompiledAction(
            action: .pipeline(PipelineAction(steps: steps, unadvertised: unadvertised)),
            expectation: .noReply
        )
    }

    // MARK: - call

    /// `call: NAME` or `call: ALIAS.NAME`, with `with: {param: value}`: the group's body compiled here, with these
    /// arguments, in a scope of its own.
    mutating func compileCall(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        guard let reference = input.value.nonEmptyString("call (a group name)", into: &diagnostics) else {
            return nil
        }
        refuseReplyKeys(input, what: "a `call` step")
        guard let (library, group) = context.unit.resolve(reference) else {
            let hint = Suggestion.closest(to: reference, among: context.unit.callableNames).map {
                "did you mean '\($0)'?"
            }
            var known = context.unit.callableNames.joined(separator: ", ")
            if known.isEmpty { known = "none: define groups under `groups:` or import a library" }
            diagnostics.error(
                .unknownGroup,
                at: input.value.location,
                "unknown group '\(reference)'",
                hint: hint ?? "groups that can be called here: \(known)"
            )
            return nil
        }
        let key = library.identity + "#" + group.name
        if let start = context.callStack.firstIndex(where: { $0.key == key }) {
            let names = context.callStack[start...].map(\.display) + [reference]
            diagnostics.error(
                .callCycle,
                at: input.value.location,
                "call cycle: \(names.joined(separator: " -> "))",
                hint: "a group may not call itself, directly or through other groups"
            )
            return nil
        }

        // Arguments: evaluated here, in the caller's scope.
        var arguments: [String: Template] = [:]
        if let with = input.mapping["with"], let mapping = with.mapping("with", into: &diagnostics) {
            let names = group.parameters.map(\.name)
            for entry in mapping.entries {
                guard names.contains(entry.key) else {
                    let hint = Suggestion.closest(to: entry.key, among: names).map { "did you mean '\($0)'?" }
                    diagnostics.error(
                        .badArgument,
                        at: entry.keyLocation,
                        "group '\(reference)' has no parameter '\(entry.key)'",
                        hint: hint
                            ?? (names.isEmpty
                                ? "it takes no parameters" : "its parameters: \(names.joined(separator: ", "))")
                    )
                    continue
                }
                guard let text = entry.value.string("argument '\(entry.key)'", into: &diagnostics),
                    let template = scope.template(entry.value, text: text, into: &diagnostics)
                else { continue }
                arguments[entry.key] = template
            }
        }
        let missing = group.parameters.filter { $0.defaultValue == nil && arguments[$0.name] == nil }.map(\.name)
        if !missing.isEmpty {
            diagnostics.error(
                .badArgument,
                at: input.entry.keyLocation,
                "missing argument\(missing.count == 1 ? "" : "s") \(missing.map { "'\($0)'" }.joined(separator: ", ")) for group '\(reference)'",
                hint:
                    "give \(missing.count == 1 ? "it" : "them") under with: {\(missing.map { "\($0): ..." }.joined(separator: ", "))}"
            )
            return nil
        }

        // The body's scope: the group's own file, its parameters, the built-ins; nothing of the caller's.
        callCounter += 1
        let prefix = scope.capturePrefix + "call\(callCounter)/"
        var body = scope.groupScope(fileValues: library.fileValues, prefix: prefix)
        for parameter in group.parameters {
            if let argument = arguments[parameter.name] {
                body.bind(parameter.name, value: argument)
            } else if let value = parameter.defaultValue, let text = value.scalar,
                let template = body.template(value, text: text, into: &diagnostics)
            {
                body.bind(parameter.name, value: template)
            }
        }
        var exportKeys: [String: String] = [:]
        for export in group.exports {
            exportKeys[export.name] = scope.runtimeKey(export.name) ?? scope.capturePrefix + export.name
        }
        body.exportKeys = exportKeys
        library.calledGroups.insert(group.name)

        var inner = context
        inner.unit = library
        inner.callStack.append(CallFrame(key: key, display: reference, site: input.entry.keyLocation))
        inner.pathText = "\(input.label.dropFirst("step ".count)) call \(reference) > "
        let mark = diagnostics.count
        let steps = compileSteps(group.steps, scope: &body, context: &inner)
        checkExports(group, captured: body)
        diagnostics.addNotes(["called from \(input.entry.keyLocation)"], from: mark)
        context.tlsWithoutNewEHLO = inner.tlsWithoutNewEHLO
        for export in group.exports where body.runtimeKey(export.name) != nil {
            scope.makeRuntime(export.name, key: exportKeys[export.name]!)
        }
        return CompiledAction(
            action: .call(GroupCall(group: reference, definition: group.location, steps: steps)),
            expectation: .noReply
        )
    }

    // MARK: - repeat

    /// `repeat: N` (a literal or a static variable), optional `index: i` (from 0), and `steps:`.
    mutating func compileRepeat(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        refuseReplyKeys(input, what: "a `repeat` step")
        guard let raw = input.value.string("repeat (a count)", into: &diagnostics) else { return nil }
        guard let text = scope.staticString(input.value, text: raw, what: "a repeat count", into: &diagnostics)
        else { return nil }
        guard let count = Int(text.trimmingCharacters(in: .whitespaces)) else {
            diagnostics.error(
                .badValue,
                at: input.value.location,
                "repeat must be a whole number, found \"\(Abbreviation.text(text))\"",
                hint: "a count known when the file is compiled: a literal, vars, --var or a matrix value"
            )
            return nil
        }
        guard (1...Self.maxRepeatCount).contains(count) else {
            diagnostics.error(
                count < 1 ? .badValue : .limitExceeded,
                at: input.value.location,
                "repeat must be between 1 and \(Self.maxRepeatCount), found \(count)",
                hint: count < 1 ? "a repeat runs its steps at least once" : nil
            )
            return nil
        }
        var indexName: String?
        if let index = input.mapping["index"], let name = index.nonEmptyString("index", into: &diagnostics) {
            guard Self.isVariableName(name) else {
                diagnostics.error(.badValue, at: index.location, "'\(name)' is not a valid variable name")
                return nil
            }
            guard !scope.isVisible(name) else {
                diagnostics.error(
                    .conflictingKeys,
                    at: index.location,
                    "index '\(name)' shadows a variable of the same name",
                    hint: "give the index a name of its own (outer repeats need different index names too)"
                )
                return nil
            }
            indexName = name
        }
        guard let stepsValue = input.mapping["steps"] else {
            diagnostics.error(
                .missingKey,
                at: input.entry.keyLocation,
                "repeat needs `steps:`",
                hint: "the steps to run \(count) times"
            )
            return nil
        }
        guard let items = stepsValue.list("steps", into: &diagnostics) else { return nil }
        var body = scope
        var indexKey: String?
        if let indexName {
            callCounter += 1
            let key = scope.capturePrefix + "repeat\(callCounter)/" + indexName
            body.makeRuntime(indexName, key: key)
            indexKey = key
        }
        var inner = context
        inner.pathText = "\(input.label.dropFirst("step ".count)) repeat\(indexName.map { " \($0)" } ?? "") > "
        let steps = compileSteps(items, scope: &body, context: &inner)
        context.tlsWithoutNewEHLO = inner.tlsWithoutNewEHLO
        // Captures made in the body stay visible (with the last iteration's value); the index does not.
        if let indexName { body.forget(indexName) }
        scope = body
        return CompiledAction(
            action: .repeatSteps(RepeatAction(count: count, indexName: indexName, indexKey: indexKey, steps: steps)),
            expectation: .noReply
        )
    }

    // MARK: - retry

    /// What a `retry:` value sets.
    struct RetrySettings {
        let attempts: Int
        let interval: Duration
        let on: [RetryCondition]
    }

    /// `retry: {attempts: 4, interval: 65s, on: "4xx"}`.
    mutating func retrySettings(_ value: YAMLValue, label: String) -> RetrySettings? {
        guard let mapping = value.mapping("retry", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["attempts", "interval", "on"], context: "retry", into: &diagnostics)
        guard let attemptsValue = mapping["attempts"] else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "retry needs `attempts:` (every try, the first included)",
                hint: "e.g. retry: {attempts: 4, interval: 65s}"
            )
            return nil
        }
        guard let attempts = attemptsValue.integer("attempts", in: 2...100, into: &diagnostics) else { return nil }
        let interval = mapping["interval"].flatMap { $0.duration("interval", into: &diagnostics) } ?? .seconds(1)
        var conditions: [RetryCondition] = [.codes([.anyOfClass(4)])]
        if let on = mapping["on"] {
            conditions = []
            var codes: [CodePattern] = []
            for item in on.sequence ?? [on] {
                switch item.scalar?.lowercased() {
                case "closed": conditions.append(.closed)
                case "nothing": conditions.append(.nothing)
                default:
                    guard let text = item.scalar, let pattern = CodePattern(text) else {
                        diagnostics.error(
                            .badReply,
                            at: item.location,
                            "retry on \(item.kindDescription): not a reply code, closed or nothing",
                            hint: "e.g. on: [\"4xx\", closed]"
                        )
                        return nil
                    }
                    codes.append(pattern)
                }
            }
            if !codes.isEmpty { conditions.insert(.codes(codes), at: 0) }
            if conditions.isEmpty {
                diagnostics.error(.badReply, at: on.location, "retry on nothing: give reply codes, closed or nothing")
                return nil
            }
        }
        return RetrySettings(attempts: attempts, interval: interval, on: conditions)
    }

    /// `retry: {...}` with `steps:`: the body's expectations are the success condition.
    mutating func compileRetryBlock(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        refuseReplyKeys(input, what: "a `retry` block")
        guard let settings = retrySettings(input.value, label: input.label) else { return nil }
        guard let stepsValue = input.mapping["steps"] else {
            diagnostics.error(
                .missingKey,
                at: input.entry.keyLocation,
                "a retry block needs `steps:` (or put `retry:` beside the one step to retry)",
                hint: "- retry: {attempts: 4, interval: 65s}\n  steps: [{reconnect: true}, ...]"
            )
            return nil
        }
        guard let items = stepsValue.list("steps", into: &diagnostics) else { return nil }
        var inner = context
        inner.pathText = "\(input.label.dropFirst("step ".count)) retry > "
        let steps = compileSteps(items, scope: &scope, context: &inner)
        context.tlsWithoutNewEHLO = inner.tlsWithoutNewEHLO
        return CompiledAction(
            action: .retry(
                RetryAction(
                    attempts: settings.attempts,
                    interval: settings.interval,
                    retryOn: settings.on,
                    steps: steps
                )
            ),
            expectation: .noReply
        )
    }

    // MARK: - connect

    /// `connect: {}` or `connect: {server: NAME-or-address}`: opens the connection, checks the greeting.
    mutating func compileConnect(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        var server: ServerRef?
        if let mapping = input.value.mapping {
            mapping.checkKeys(allowed: ["server"], context: "connect", into: &diagnostics)
            if let value = mapping["server"] {
                guard let ref = serverRef(value, scope: scope, servers: context.servers) else { return nil }
                server = ref
            }
        } else if !input.value.isNull, input.value.bool("connect", into: &diagnostics) != true {
            return nil
        }
        context.tlsWithoutNewEHLO = false
        return CompiledAction(
            action: .connect(ConnectAction(server: server)),
            expectation: expect(
                input,
                default: context.greeting,
                codes: [.exact(220)],
                allowsNothing: false,
                scope: scope
            )
        )
    }

    /// Follows the connection through compiled steps: a step that talks while no connection is open, or a
    /// `connect` while one is, is a located error. Returns whether a connection is open after `steps`.
    @discardableResult
    mutating func checkConnections(_ steps: [Step], connected start: Bool) -> Bool {
        var connected = start
        // By index: `for step in steps` copied every Step whole (a matrix compiles this once per combination).
        for index in steps.indices {
            switch steps[index].action {
            case .send, .data, .bdat, .raw, .read, .startTLS, .auth, .pipeline, .disconnect:
                if !connected {
                    diagnostics.error(
                        .badValue,
                        at: steps[index].location,
                        "this step needs a connection, but none is open here",
                        hint: "the scenario has `connect: false` or an earlier `disconnect`: add `connect: {}` first"
                    )
                    connected = true
                }
                if case .disconnect = steps[index].action { connected = false }
            case .reconnect:
                connected = true
            case .connect:
                if connected {
                    diagnostics.error(
                        .badValue,
                        at: steps[index].location,
                        "`connect` while a connection is open",
                        hint: "use `reconnect: true` for a new session, or `disconnect: true` first"
                    )
                }
                connected = true
            case .wait, .fail, .delivered:
                break
            case .call(let call):
                connected = checkConnections(call.steps, connected: connected)
            case .repeatSteps(let loop):
                let after = checkConnections(loop.steps, connected: connected)
                // A body that changes the connection meets its own end state on the next iteration.
                connected =
                    loop.count > 1 && after != connected ? checkConnections(loop.steps, connected: after) : after
            case .retry(let retry):
                connected = checkConnections(retry.steps, connected: connected)
            }
        }
        return connected
    }
}
