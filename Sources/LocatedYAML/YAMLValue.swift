import ScenarioResults

/// A YAML node with its location, read through typed accessors rather than guessed from YAML 1.1 tags
/// (so `on`, `no` and `250` are just scalars until a reader decides what they mean).
public struct YAMLValue: Sendable {
    /// What kind of node this is, independent of tags.
    public enum Kind: Sendable {
        case scalar(String)
        case null
        case sequence([YAMLValue])
        case mapping(YAMLMapping)
    }

    /// The node's content.
    public private(set) var kind: Kind
    /// Where the node starts.
    public let location: SourceLocation
    /// How a scalar was written in the source.
    public enum ScalarStyle: Sendable, Hashable {
        case plain, singleQuoted, doubleQuoted, block
    }

    /// How the scalar was written (`plain` for other kinds).
    public let scalarStyle: ScalarStyle

    /// Whether the scalar was quoted in the source (`"250"` rather than `250`).
    public var isQuoted: Bool { scalarStyle == .singleQuoted || scalarStyle == .doubleQuoted }

    /// Creates a value directly (used for synthesised values such as matrix entries).
    public init(kind: Kind, location: SourceLocation, scalarStyle: ScalarStyle = .plain) {
        self.kind = kind
        self.location = location
        self.scalarStyle = scalarStyle
    }

    /// The scalar text, or nil for any other kind.
    public var scalar: String? {
        if case .scalar(let text) = kind { return text }
        return nil
    }

    /// The mapping, or nil.
    public var mapping: YAMLMapping? {
        if case .mapping(let mapping) = kind { return mapping }
        return nil
    }

    /// The sequence items, or nil.
    public var sequence: [YAMLValue]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// Moves the sequence items out, leaving this node null; nil (and the node unchanged) for any other kind.
    ///
    /// With the only copy of a large list, a caller can then free each item as soon as it is read.
    public mutating func takeSequence() -> [YAMLValue]? {
        guard case .sequence(let items) = kind else { return nil }
        kind = .null
        return items
    }

    /// Moves the mapping out, leaving this node null; nil (and the node unchanged) for any other kind.
    public mutating func takeMapping() -> YAMLMapping? {
        guard case .mapping(let mapping) = kind else { return nil }
        kind = .null
        return mapping
    }

    /// Whether the node is null (`~`, `null` or nothing at all).
    public var isNull: Bool {
        if case .null = kind { return true }
        return false
    }

    /// How the kind reads in an error message: `a string`, `a list`, `a mapping`, `nothing`.
    public var kindDescription: String {
        switch kind {
        case .scalar(let full):
            let text = Abbreviation.text(full)
            return isQuoted ? "the string \"\(text)\"" : "the value `\(text)`"
        case .null: return "nothing (null)"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// A YAML mapping whose keys keep their own locations, in source order.
public struct YAMLMapping: Sendable {
    /// One `key: value` pair.
    public struct Entry: Sendable {
        /// The key text.
        public let key: String
        /// Where the key is.
        public let keyLocation: SourceLocation
        /// The value.
        public internal(set) var value: YAMLValue

        /// Creates an entry.
        public init(key: String, keyLocation: SourceLocation, value: YAMLValue) {
            self.key = key
            self.keyLocation = keyLocation
            self.value = value
        }
    }

    /// The pairs in source order.
    public private(set) var entries: [Entry]
    /// Where the mapping starts.
    public let location: SourceLocation

    /// Creates a mapping.
    public init(entries: [Entry], location: SourceLocation) {
        self.entries = entries
        self.location = location
    }

    /// The value for `key`, or nil.
    public subscript(key: String) -> YAMLValue? { entries.index(ofKey: key).map { entries[$0].value } }

    /// The entry for `key`, or nil.
    public func entry(_ key: String) -> Entry? { entries.index(ofKey: key).map { entries[$0] } }

    /// Moves the value of `key` out, leaving a null value in its place (the key stays, with its location).
    ///
    /// With the only copy of the mapping, a caller then holds the only copy of that value too, and can free it
    /// piece by piece (see ``YAMLValue/takeSequence()``).
    public mutating func takeValue(_ key: String) -> YAMLValue? {
        guard let index = entries.index(ofKey: key) else { return nil }
        let value = entries[index].value
        entries[index].value = YAMLValue(kind: .null, location: value.location)
        return value
    }

    /// The keys in source order.
    public var keys: [String] { entries.map(\.key) }

    /// Reports keys that are neither `allowed` nor `reserved`, suggesting the closest allowed key.
    ///
    /// `reserved` maps keys of a later language version to what supports them, so users read "not supported yet"
    /// rather than "unknown key".
    public func checkKeys(
        allowed: [String],
        reserved: [String: String] = [:],
        context: String,
        into diagnostics: inout Diagnostics
    ) {
        for index in entries.indices where !allowed.contains(entries[index].key) {
            let entry = entries[index]
            if let later = reserved[entry.key] {
                diagnostics.error(
                    .notSupportedYet,
                    at: entry.keyLocation,
                    "`\(entry.key)` is not supported yet",
                    hint: later
                )
                continue
            }
            let hint = Suggestion.closest(to: entry.key, among: allowed).map { "did you mean '\($0)'?" }
            diagnostics.error(
                .unknownKey,
                at: entry.keyLocation,
                "unknown key '\(entry.key)' in \(context)",
                hint: hint ?? "known keys: \(allowed.joined(separator: ", "))"
            )
        }
    }
}

extension [YAMLMapping.Entry] {
    /// Where `key` is among the entries, for the mapping's lookups and the composer's duplicate-key check. Compared
    /// in place: a search with `first(where:)` copied every entry it passed (a location and a value, each holding
    /// references), and the compiler looks up a dozen keys a step.
    func index(ofKey key: String) -> Int? {
        for index in indices where self[index].key == key { return index }
        return nil
    }
}
