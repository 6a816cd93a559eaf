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
        var combinations = [MatrixCombination(label: "", values: [], shown: [])]
        for axis in axes {
            combinations = combinations.flatMap { partial in
                axis.map { choice in
                    MatrixCombination(
                        label: partial.label.isEmpty ? choice.label : partial.label + ", " + choice.label,
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
