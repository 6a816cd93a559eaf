/// A string of a step with its `${...}` references resolved as far as compile time allows.
///
/// Static variables (suite/scenario `vars`, `--var`, `${env.NAME}`, matrix values) are substituted by the compiler;
/// what is known only while running (captures, `${server.host}`, `${server.port}`, `${server.ip}`) stays a
/// reference that the runner fills in.
public struct Template: Sendable, Hashable, CustomStringConvertible {
    /// A piece of the string.
    public enum Part: Sendable, Hashable {
        /// Text used as is.
        case literal(String)
        /// A variable whose value is known only at run time.
        case variable(String)
    }

    /// The pieces in order.
    public let parts: [Part]

    /// Creates a template from parts, merging adjacent literals.
    public init(parts: [Part]) {
        // Nearly every template is one piece: kept as given, without building a merged copy.
        if parts.count <= 1 {
            if case .literal("")? = parts.first { self.parts = [] } else { self.parts = parts }
            return
        }
        var merged: [Part] = []
        for part in parts {
            if case .literal(let text) = part, case .literal(let previous)? = merged.last {
                merged[merged.count - 1] = .literal(previous + text)
            } else if case .literal("") = part {
                continue
            } else {
                merged.append(part)
            }
        }
        self.parts = merged
    }

    /// A template with no variables.
    public init(literal: String) { self.init(parts: [.literal(literal)]) }

    /// The text when no run-time variable is involved.
    public var staticText: String? {
        if parts.count == 1, case .literal(let text) = parts[0] { return text }
        var text = ""
        for part in parts {
            guard case .literal(let literal) = part else { return nil }
            text += literal
        }
        return text
    }

    /// The bytes of its literal parts (run-time variables count as nothing).
    public var literalByteCount: Int {
        parts.reduce(0) { total, part in
            if case .literal(let text) = part { return total + text.utf8.count }
            return total
        }
    }

    /// The run-time variables this template needs.
    public var variableNames: [String] {
        parts.compactMap {
            if case .variable(let name) = $0 { return name }
            return nil
        }
    }

    /// Fills in run-time variables; `lookup` returns nil for an unknown name, which leaves `${name}` visible.
    public func resolve(_ lookup: (String) -> String?) -> String {
        // A step's text is nearly always one literal: returned as it is, with no pieces to collect and join.
        if parts.count == 1, case .literal(let text) = parts[0] { return text }
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .variable(let name): text += lookup(name) ?? "${\(name)}"
            }
        }
        return text
    }

    /// The template as written, with run-time variables shown as `${name}`.
    public var description: String { resolve { _ in nil } }
}
