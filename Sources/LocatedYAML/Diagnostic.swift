import ScenarioResults

/// A problem found in an input file, located and explained: `path:line:column: error: what` plus a hint.
///
/// Diagnostics are values, collected rather than thrown, so one pass reports every problem in a file.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Errors stop a run; warnings are printed and change nothing.
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    /// The kind of problem, for tests and tools to match on; the message carries the specifics.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case unreadableFile, yamlSyntax, unknownKey, notSupportedYet, missingKey, wrongType, badValue
            case badDuration, badReply, badEnhancedStatus, badRegex, undefinedVariable, duplicateName
            case conflictingKeys, badServer, emptyDocument, noScenarios, limitExceeded
            case unknownGroup, badArgument, callCycle, importCycle, badImport
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        public var description: String { base.rawValue }

        /// The file could not be read.
        public static let unreadableFile = Code(.unreadableFile)
        /// The YAML itself is malformed (libyaml's scanner, parser or composer complained).
        public static let yamlSyntax = Code(.yamlSyntax)
        /// A key that the format does not know.
        public static let unknownKey = Code(.unknownKey)
        /// A key reserved for a later version of the language.
        public static let notSupportedYet = Code(.notSupportedYet)
        /// A required key is absent.
        public static let missingKey = Code(.missingKey)
        /// A value of the wrong YAML type (a list where a string belongs, ...).
        public static let wrongType = Code(.wrongType)
        /// A value of the right type but not an accepted form.
        public static let badValue = Code(.badValue)
        /// Not a duration such as `500ms`, `5s`, `2m`.
        public static let badDuration = Code(.badDuration)
        /// Not a reply code form such as `250`, `"5xx"`, `[250, 251]`.
        public static let badReply = Code(.badReply)
        /// Not an RFC 3463 enhanced status code such as `5.7.1`.
        public static let badEnhancedStatus = Code(.badEnhancedStatus)
        /// A regular expression that does not compile.
        public static let badRegex = Code(.badRegex)
        /// `${NAME}` names no variable known at that point.
        public static let undefinedVariable = Code(.undefinedVariable)
        /// Two things that must have different names share one.
        public static let duplicateName = Code(.duplicateName)
        /// Keys that cannot be used together.
        public static let conflictingKeys = Code(.conflictingKeys)
        /// A server address that cannot be parsed.
        public static let badServer = Code(.badServer)
        /// The file holds no YAML document.
        public static let emptyDocument = Code(.emptyDocument)
        /// A suite without scenarios.
        public static let noScenarios = Code(.noScenarios)
        /// A `call` names no group of this file or of an imported library.
        public static let unknownGroup = Code(.unknownGroup)
        /// A `call`'s arguments do not fit the group's parameters (missing or unknown).
        public static let badArgument = Code(.badArgument)
        /// Groups call each other in a circle.
        public static let callCycle = Code(.callCycle)
        /// Files import each other in a circle.
        public static let importCycle = Code(.importCycle)
        /// An `import` that cannot be used (missing file, a file with scenarios, a variable in the path).
        public static let badImport = Code(.badImport)
        /// An input passed a documented bound (file size, alias expansion, variable size, duration).
        public static let limitExceeded = Code(.limitExceeded)
    }

    /// Error or warning.
    public let severity: Severity
    /// The kind of problem.
    public let code: Code
    /// Where it is.
    public let location: SourceLocation
    /// What is wrong, in one line.
    public let message: String
    /// What to do about it (the accepted forms, a likely intended key), if anything useful can be said.
    public let hint: String?
    /// Where the problem was reached from, innermost first: `called from x.yaml:8:9` for each group call on the
    /// way to an error inside a group, `imported from ...` for a library's own errors.
    public let notes: [String]

    /// Creates a diagnostic.
    public init(
        _ severity: Severity,
        _ code: Code,
        at location: SourceLocation,
        _ message: String,
        hint: String? = nil,
        notes: [String] = []
    ) {
        self.severity = severity
        self.code = code
        self.location = location
        self.message = Self.cut(message)
        self.hint = hint.map { Self.cut($0) }
        self.notes = notes
    }

    /// The same diagnostic with `more` notes after its own.
    public func adding(notes more: [String]) -> Diagnostic {
        Diagnostic(severity, code, at: location, message, hint: hint, notes: notes + more)
    }

    /// The longest message kept whole, in characters.
    public static let maxMessageLength = 400

    /// A message quoting a huge value (a 100,000-character regex) keeps its start and end and says how much was
    /// left out in between, so every diagnostic stays readable.
    static func cut(_ text: String) -> String {
        guard text.count > maxMessageLength else { return text }
        let head = text.prefix(maxMessageLength - 100)
        let tail = text.suffix(60)
        let omitted = text.count - head.count - tail.count
        return "\(head) ... (\(omitted) characters left out) ... \(tail)"
    }

    /// The same diagnostic with `transform` applied to its message and hint (to mask secrets quoted in them).
    public func mapText(_ transform: (String) -> String) -> Diagnostic {
        Diagnostic(severity, code, at: location, transform(message), hint: hint.map(transform), notes: notes)
    }

    /// `path:line:column: error: message`, then `  hint: ...` on a second line when there is a hint.
    public var description: String {
        var text = "\(location): \(severity.rawValue): \(message)"
        if let hint { text += "\n  hint: \(hint)" }
        for note in notes { text += "\n  note: \(note)" }
        return text
    }
}

/// The diagnostics found in one pass over a file, in the order found.
public struct Diagnostics: Sendable {
    /// Every diagnostic so far.
    public private(set) var all: [Diagnostic] = []
    /// How many of them are errors, kept as they are recorded: the compiler asks after every step, and counting
    /// each time made a file of many bad steps quadratic.
    public private(set) var errorCount = 0

    /// Creates an empty collection.
    public init() {}

    /// Whether any error (not warning) was recorded.
    public var hasErrors: Bool { errorCount > 0 }

    /// The errors only.
    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }

    /// The warnings only.
    public var warnings: [Diagnostic] { all.filter { $0.severity == .warning } }

    /// Records an error.
    public mutating func error(
        _ code: Diagnostic.Code,
        at location: SourceLocation,
        _ message: String,
        hint: String? = nil
    ) {
        all.append(Diagnostic(.error, code, at: location, message, hint: hint))
        errorCount += 1
    }

    /// Records a warning.
    public mutating func warning(
        _ code: Diagnostic.Code,
        at location: SourceLocation,
        _ message: String,
        hint: String? = nil
    ) {
        all.append(Diagnostic(.warning, code, at: location, message, hint: hint))
    }

    /// Records an already built diagnostic.
    public mutating func append(_ diagnostic: Diagnostic) {
        all.append(diagnostic)
        if diagnostic.severity == .error { errorCount += 1 }
    }

    /// Records several.
    public mutating func append(contentsOf other: Diagnostics) {
        all.append(contentsOf: other.all)
        errorCount += other.errorCount
    }

    /// Adds `notes` to every diagnostic recorded from position `start` on (those found inside a group call).
    public mutating func addNotes(_ notes: [String], from start: Int) {
        guard !notes.isEmpty, start < all.count else { return }
        for index in start..<all.count { all[index] = all[index].adding(notes: notes) }
    }

    /// Drops later copies of a diagnostic (same severity, location and message), keeping the first; a group's
    /// body compiled at several call sites reports each problem once.
    public mutating func removeDuplicates(from start: Int = 0) {
        var seen = Set<String>()
        var kept: [Diagnostic] = Array(all.prefix(start))
        for diagnostic in all[start...] {
            let key = "\(diagnostic.severity)|\(diagnostic.location)|\(diagnostic.message)"
            if seen.insert(key).inserted { kept.append(diagnostic) }
        }
        all = kept
        errorCount = kept.count { $0.severity == .error }
    }

    /// How many diagnostics so far (a mark for ``addNotes(_:from:)``).
    public var count: Int { all.count }
}
