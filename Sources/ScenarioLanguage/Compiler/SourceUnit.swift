import Foundation
import LocatedYAML
import ScenarioResults

/// A step group as written under `groups:`: parameters, exports and the body, not yet compiled (a body is
/// compiled at each call site, with that call's arguments).
struct GroupDefinition {
    /// A parameter: a default value, or none (`null`) when the caller must give it.
    struct Parameter {
        let name: String
        let defaultValue: YAMLValue?
        let location: SourceLocation
    }

    let name: String
    /// Where the group's name is written.
    let location: SourceLocation
    let parameters: [Parameter]
    /// Captures the caller sees, with where each is listed.
    let exports: [(name: String, location: SourceLocation)]
    let steps: [YAMLValue]
    let stepsLocation: SourceLocation
}

/// One parsed file whose groups can be called: the scenario file being compiled, or a library it imports.
final class SourceUnit {
    /// The path as shown in diagnostics.
    let displayPath: String
    /// The folder relative paths (imports, `mock:FILE`) are resolved against.
    let directory: String
    /// The file's absolute path, which identifies it in import cycles and the library cache.
    let identity: String
    /// Import aliases to the libraries they name.
    var imports: [String: SourceUnit] = [:]
    /// Groups by name.
    var groups: [String: GroupDefinition] = [:]
    /// Group names in file order.
    var groupOrder: [String] = []
    /// The file's own `vars` (command-line values applied), which its groups' bodies see.
    var fileValues: [String: Template] = [:]
    /// Secret values the file defines.
    var secretValues: Set<String> = []
    /// Whether a group is called from this compilation (uncalled ones are checked on their own afterwards).
    var calledGroups: Set<String> = []

    init(displayPath: String, directory: String, identity: String) {
        self.displayPath = displayPath
        self.directory = directory
        self.identity = identity
    }

    /// The group `NAME` of this file or `ALIAS.NAME` of an import, with the file that defines it.
    func resolve(_ reference: String) -> (SourceUnit, GroupDefinition)? {
        if let dot = reference.firstIndex(of: ".") {
            let alias = String(reference[..<dot])
            let name = String(reference[reference.index(after: dot)...])
            guard let library = imports[alias], let group = library.groups[name] else { return nil }
            return (library, group)
        }
        return groups[reference].map { (self, $0) }
    }

    /// Every group reference callable from this file, for suggestions.
    var callableNames: [String] {
        groupOrder
            + imports.sorted { $0.key < $1.key }.flatMap { alias, library in
                library.groupOrder.map { "\(alias).\($0)" }
            }
    }
}

/// Loads the library files a compilation imports, once each, and refuses import cycles.
///
/// Shared by every file of one `run` or `validate`, so a library imported by a hundred files is read once.
final class LibraryLoader {
    /// A library as loaded: its unit, or nil when it could not be used, and its own diagnostics.
    struct Loaded {
        let unit: SourceUnit?
        let diagnostics: [Diagnostic]
    }

    let options: CompileOptions
    private var cache: [String: Loaded] = [:]
    /// Files being loaded right now, outermost first: a file met again here closes a cycle.
    private(set) var loading: [(identity: String, display: String)] = []

    init(options: CompileOptions) { self.options = options }

    /// The library at `identity` (an absolute path), loading it on first use with `load`.
    func library(
        identity: String,
        display: String,
        load: () -> Loaded
    ) -> Loaded {
        if let cached = cache[identity] { return cached }
        loading.append((identity, display))
        let loaded = load()
        loading.removeLast()
        cache[identity] = loaded
        return loaded
    }

    /// Runs `body` with `identity` counted as being loaded (a scenario file, which its imports must not import).
    func within(identity: String, display: String, _ body: () -> Void) {
        loading.append((identity, display))
        body()
        loading.removeLast()
    }

    /// The cycle `x.yaml -> y.yaml -> x.yaml` when `identity` is being loaded already, else nil.
    func cycle(to identity: String, display: String) -> String? {
        guard let start = loading.firstIndex(where: { $0.identity == identity }) else { return nil }
        return (loading[start...].map(\.display) + [display]).joined(separator: " -> ")
    }
}
