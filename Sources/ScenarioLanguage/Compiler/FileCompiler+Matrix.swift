import LocatedYAML
import ScenarioResults

/// One combination of a scenario's `matrix`.
struct MatrixCombination {
    /// `NAME=value, OTHER=value`, appended to the scenario name.
    var label: String
    /// Variables to define: `NAME` for scalars; `NAME` (the label value) and `NAME.field` for mappings.
    var values: [(name: String, value: YAMLValue)]
    /// Each axis's name and shown value, for results.
    var shown: [ScenarioIdentity.Parameter]
}

/// `matrix: {NAME: [values...], ...}`: the cartesian product, first key outermost, in source order.
extension FileCompiler {
    static let matrixLimit = 10_000

    mutating func matrixCombinations(_ value: YAMLValue) -> [MatrixCombination]? {
        guard let mapping = value.mapping("matrix", into: &diagnostics) else { return nil }
        if mapping.entries.isEmpty {
            diagnostics.error(.badValue, at: value.location, "matrix is empty", hint: "give NAME: [values...]")
            return nil
        }
        var axes: [[(label: String, shown: ScenarioIdentity.Parameter, values: [(String, YAMLValue)])]] = []
        for entry in mapping.entries {
            guard Self.isVariableName(entry.key) else {
                diagnostics.error(.badValue, at: entry.keyLocation, "'\(entry.key)' is not a valid variable name")
                return nil
            }
            guard let items = entry.value.list("matrix '\(entry.key)'", into: &diagnostics) else { return nil }
            if items.isEmpty {
                diagnostics.error(.badValue, at: entry.value.location, "matrix '\(entry.key)' has no values")
                return nil
            }
            var axis: [(String, ScenarioIdentity.Parameter, [(String, YAMLValue)])] = []
            for item in items {
                guard let (display, values) = matrixValue(item, name: entry.key) else { return nil }
                axis.append(("\(entry.key)=\(display)", .init(name: entry.key, value: display), values))
            }
            axes.append(axis)
        }
        // Multiplied with a cap, so many long axes cannot overflow.
        var total = 1
        for axis in axes { total = min(total * axis.count, Self.matrixLimit + 1) }
        guard total <= Self.matrixLimit else {
            diagnostics.error(
                .badValue,
                at: value.location,
                "matrix expands to more than \(Self.matrixLimit) scenarios",
                hint: "split it into several scenarios"
            )
            return nil
        }
        // The first axis as it is (most matrices have one), each further one multiplied in.
        var combinations = axes[0].map { choice in
            MatrixCombination(label: choice.label, values: choice.values, shown: [choice.shown])
        }
        for axis in axes.dropFirst() {
            combinations = combinations.flatMap { partial in
                axis.map { choice in
                    MatrixCombination(
                        label: partial.label + ", " + choice.label,
                        values: partial.values + choice.values,
                        shown: partial.shown + [choice.shown]
                    )
                }
            }
        }
        return combinations
    }

    /// A scalar value, or a mapping of scalars reachable as `${NAME.field}` and shown by its `name` field.
    private mutating func matrixValue(_ item: YAMLValue, name: String) -> (String, [(String, YAMLValue)])? {
        if let scalar = item.scalar { return (scalar, [(name, item)]) }
        if item.isNull { return ("", [(name, YAMLValue(kind: .scalar(""), location: item.location))]) }
        guard let fields = item.mapping else {
            diagnostics.error(
                .wrongType,
                at: item.location,
                "matrix values must be strings, numbers or mappings of them, found \(item.kindDescription)"
            )
            return nil
        }
        var values: [(String, YAMLValue)] = []
        var shown: [String] = []
        for field in fields.entries {
            let value = field.value.isNull ? YAMLValue(kind: .scalar(""), location: field.value.location) : field.value
            guard let text = value.scalar else {
                diagnostics.error(
                    .wrongType,
                    at: field.value.location,
                    "matrix mapping fields must be strings or numbers, found \(field.value.kindDescription)"
                )
                return nil
            }
            values.append(("\(name).\(field.key)", value))
            shown.append("\(field.key): \(text)")
        }
        let display = fields["name"]?.scalar ?? "{\(shown.joined(separator: ", "))}"
        values.append((name, YAMLValue(kind: .scalar(display), location: item.location)))
        return (display, values)
    }
}

/// The steps of a matrix scenario that every combination compiles alike, compiled once.
///
/// A fleet sweep (`matrix: {server: [...]}`) compiles the same steps for each server; a step that mentions no
/// variable (`send: EHLO client.example.org`) compiles to the same ``Step`` every time, at about 10,000
/// instructions a step. The first combination compiles it and the others reuse it when nothing they bring in can
/// change it: only plain `send`/`data`/`raw` steps of the scenario's own list, with no `$` anywhere in them (so no
/// `${...}` reference), no capture, and no diagnostic; and only from the same session state (the context the step
/// reads and changes) and reply timeout. A reused step still counts its text against the file's expansion budget,
/// as compiling it again would.
struct MatrixStepMemo {
    /// What a step reads of, and does to, the compilation's state.
    struct State: Equatable {
        let replyTimeout: Duration
        let tlsWithoutNewEHLO: Bool
        let connected: Bool

        init(_ context: StepContext) {
            replyTimeout = context.replyTimeout
            tlsWithoutNewEHLO = context.tlsWithoutNewEHLO
            connected = context.connected
        }
    }

    struct Entry {
        let step: Step
        /// Bytes the step's text counted against the file's budget.
        let budgetBytes: Int
        let before: State
        let after: State
    }

    /// Keys a reusable step may have: its action and the keys whose meaning cannot vary between combinations.
    static let reusableKeys: Set<String> = ["send", "data", "raw", "expect", "name", "timeout"]

    /// Where a step of the scenario's own list starts: each is one YAML node, and all are in the scenario's file, so
    /// line and column tell them apart (hashing two integers, not the file's name, on every lookup).
    struct Key: Hashable {
        let line: Int
        let column: Int

        init(_ location: SourceLocation) {
            line = location.line
            column = location.column
        }
    }

    var entries: [Key: Entry] = [:]

    /// Whether the step being compiled is one of the scenario's own list: the only steps kept or looked up.
    static func isOwnStep(_ context: StepContext) -> Bool {
        context.callStack.isEmpty && context.pathText.isEmpty && !context.insidePipeline
    }

    /// Whether `mapping` is a step that compiles alike wherever the same state reaches it.
    static func isReusable(_ mapping: YAMLMapping, context: StepContext) -> Bool {
        isOwnStep(context)
            && mapping.entries.allSatisfy { reusableKeys.contains($0.key) && !mentionsDollar($0.value) }
    }

    /// Whether any scalar or key under `value` holds a `$`: the only way a value can refer to a variable.
    private static func mentionsDollar(_ value: YAMLValue) -> Bool {
        switch value.kind {
        case .scalar(let text): text.containsUTF8Byte { $0 == UInt8(ascii: "$") }
        case .null: false
        case .sequence(let items): items.contains(where: mentionsDollar)
        case .mapping(let mapping):
            mapping.entries.contains {
                $0.key.containsUTF8Byte { $0 == UInt8(ascii: "$") } || mentionsDollar($0.value)
            }
        }
    }
}

extension FileCompiler {
    /// The step at `mapping` as an earlier combination compiled it, when it applies here; the context moves on as
    /// compiling the step would have moved it.
    mutating func reusedStep(_ mapping: YAMLMapping, context: inout StepContext) -> Step? {
        guard MatrixStepMemo.isOwnStep(context),
            let entry = matrixStepMemo?.entries[MatrixStepMemo.Key(mapping.location)],
            entry.before == MatrixStepMemo.State(context),
            budget.used + entry.budgetBytes <= ExpansionLimits.maxFileBytes
        else { return nil }
        budget.used += entry.budgetBytes
        context.tlsWithoutNewEHLO = entry.after.tlsWithoutNewEHLO
        context.connected = entry.after.connected
        return entry.step
    }

    /// Keeps `step`, just compiled from `mapping`, for the next combinations when it qualifies.
    mutating func remember(
        _ step: Step,
        from mapping: YAMLMapping,
        before: MatrixStepMemo.State,
        budgetBefore: Int,
        diagnosticsBefore: Int,
        context: StepContext
    ) {
        guard matrixStepMemo != nil, diagnostics.count == diagnosticsBefore,
            MatrixStepMemo.isReusable(mapping, context: context)
        else { return }
        matrixStepMemo?.entries[MatrixStepMemo.Key(mapping.location)] = MatrixStepMemo.Entry(
            step: step,
            budgetBytes: budget.used - budgetBefore,
            before: before,
            after: MatrixStepMemo.State(context)
        )
    }
}
