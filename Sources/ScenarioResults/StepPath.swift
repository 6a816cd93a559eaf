/// Where a step sits in a scenario, as a typed path: `3`, `3.2` (inside a pipeline), `2 call s.envelope > 2`
/// (inside a group), `3 repeat i=737 > 1` (an iteration), `4 retry > 2`.
///
/// The compiler gives each step its own component; the runner builds the whole path as it descends, so an
/// iteration or an attempt is named by its real number.
public struct StepPath: Sendable, Hashable, CustomStringConvertible {
    /// One level of the path.
    public enum Component: Sendable, Hashable {
        /// A step's 1-based position in its list.
        case step(Int)
        /// A step's 1-based position inside a pipeline (`3.2`).
        case pipelined(Int)
        /// Inside a call of a group (`call s.envelope`).
        case call(String)
        /// Inside an iteration of a `repeat`, counted from 0 (`repeat i=737`, or `repeat #737` without an index).
        case iteration(variable: String?, index: Int)
        /// Inside a `retry` body.
        case retry
    }

    /// The levels, outermost first.
    public private(set) var components: [Component]

    /// A path of `components` (empty: the scenario itself).
    public init(_ components: [Component] = []) { self.components = components }

    /// This path with one more level.
    public func appending(_ component: Component) -> StepPath {
        var copy = self
        copy.components.append(component)
        return copy
    }

    /// Whether the path names no step (the connection and greeting).
    public var isEmpty: Bool { components.isEmpty }

    /// The groups entered on the way, outermost first.
    public var groups: [String] {
        components.compactMap {
            if case .call(let name) = $0 { return name }
            return nil
        }
    }

    /// `3`, `3.2`, `2 call s.envelope > 2`, `3 repeat i=737 > 1`.
    public var description: String {
        var text = ""
        var afterContainer = false
        for component in components {
            switch component {
            case .step(let number):
                text += (afterContainer ? " > " : (text.isEmpty ? "" : " > ")) + String(number)
                afterContainer = false
            case .pipelined(let number):
                text += "." + String(number)
            case .call(let name):
                text += " call " + name
                afterContainer = true
            case .iteration(let variable, let index):
                text += " repeat " + (variable.map { "\($0)=\(index)" } ?? "#\(index)")
                afterContainer = true
            case .retry:
                text += " retry"
                afterContainer = true
            }
        }
        return text
    }
}
