import CYaml
import Foundation
// libyaml, as bundled by Yams. Driving its event API directly (instead of `Yams.compose`) lets the composer count
// every node an alias copies, so an alias bomb is refused after a bounded amount of work, and builds located
// values in one pass without Yams' intermediate node tree.
import ScenarioResults

/// Reads a YAML file into located values, turning every libyaml complaint into a located ``Diagnostic``.
public enum YAMLDocument {
    /// The bounds every YAML input is read within; see the README's "Limits".
    public struct Limits: Sendable {
        /// The largest file read at all, in bytes.
        public var maxBytes = 64 * 1024 * 1024
        /// Nodes that aliases (`*name`) may copy in one document, counted with everything nested in them.
        public var maxAliasExpansion = 100_000

        /// The defaults: 64 MiB, 100,000 nodes copied by aliases.
        public init() {}
    }

    /// Parses `text`; `file` is the path shown in diagnostics. Returns nil for an empty document.
    public static func parse(_ text: String, file: String, limits: Limits = Limits()) throws(Diagnostic) -> YAMLValue? {
        let size = text.utf8.count
        guard size <= limits.maxBytes else {
            throw tooLarge(size, limits: limits, at: SourceLocation(file: file, line: 1, column: 1))
        }
        return try compose(Array(text.utf8), file: file, limits: limits)
    }

    /// Composes UTF-8 `bytes` (already checked against the size limit).
    private static func compose(_ bytes: [UInt8], file: String, limits: Limits) throws(Diagnostic) -> YAMLValue? {
        try (bytes.isEmpty ? [0x0A] : bytes).withUnsafeBufferPointer { buffer throws(Diagnostic) -> YAMLValue? in
            var composer = EventComposer(file: file, limits: limits)
            return try composer.compose(buffer)
        }
    }

    /// Composes `bytes` on a thread of its own, handing the top-level entries and the items of the top-level list
    /// under `key` to the returned stream as they complete (the whole document, in ``YAMLPiece/end(root:)``, when
    /// there is no such list). A consumer compiles the items while the rest is still being read, and no more than
    /// the stream's buffer of them is in memory at once. The consumer must read up to `end` or `failed`, or cancel.
    public static func stream(
        _ bytes: [UInt8],
        file: String,
        limits: Limits = Limits(),
        list key: String
    ) -> YAMLPieceStream {
        let stream = YAMLPieceStream()
        let thread = Thread {
            var composer = EventComposer(file: file, limits: limits)
            composer.streaming = (key, stream)
            do throws(Diagnostic) {
                let root = try (bytes.isEmpty ? [0x0A] : bytes).withUnsafeBufferPointer {
                    buffer throws(Diagnostic) -> YAMLValue? in
                    try composer.compose(buffer)
                }
                _ = stream.put(.end(root: root))
            } catch {
                if error != EventComposer.cancelled { _ = stream.put(.failed(error)) }
            }
        }
        // The composer recurses once per nesting level (libyaml allows 1,000): room for it, as on the main thread.
        thread.stackSize = 8 << 20
        thread.start()
        return stream
    }

    /// Reads the file at `path`: its bytes, checked against the size limit and for UTF-8.
    public static func bytes(
        ofFile path: String,
        displayPath: String,
        limits: Limits = Limits()
    ) throws(Diagnostic)
        -> [UInt8]
    {
        let start = SourceLocation(file: displayPath, line: 1, column: 1)
        let bytes: [UInt8]
        switch BoundedFile.read(path, limit: limits.maxBytes) {
        case .bytes(let read): bytes = read
        case .tooLarge(let size): throw tooLarge(size, limits: limits, at: start)
        case .unreadable(let code):
            // The system's reason: a missing file, a folder, no permission, or a process out of descriptors.
            throw Diagnostic(.error, .unreadableFile, at: start, "cannot read the file: \(SystemError.describe(code))")
        }
        // Checked, not kept: the composer reads the bytes themselves, so the file is in memory once while the
        // tree is built, not three times (bytes, a String, and the String's bytes).
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw Diagnostic(.error, .unreadableFile, at: start, "the file is not valid UTF-8")
        }
        return bytes
    }

    /// Composes UTF-8 `bytes` read by ``bytes(ofFile:displayPath:limits:)``; `file` is the path shown in diagnostics.
    public static func parse(bytes: [UInt8], file: String, limits: Limits = Limits()) throws(Diagnostic) -> YAMLValue? {
        try compose(bytes, file: file, limits: limits)
    }

    /// Reads and parses the file at `path`; `displayPath` is used in diagnostics.
    public static func load(
        path: String,
        displayPath: String,
        limits: Limits = Limits()
    ) throws(Diagnostic)
        -> YAMLValue?
    {
        try compose(bytes(ofFile: path, displayPath: displayPath, limits: limits), file: displayPath, limits: limits)
    }

    fileprivate static func tooLarge(_ size: Int, limits: Limits, at start: SourceLocation) -> Diagnostic {
        Diagnostic(
            .error,
            .limitExceeded,
            at: start,
            "the file is \(size) bytes, more than the limit of \(limits.maxBytes)",
            hint: "split it into several files"
        )
    }
}

/// Builds ``YAMLValue``s from libyaml's events, with every node's mark, and bounds what aliases may copy.
private struct EventComposer {
    let file: String
    let limits: YAMLDocument.Limits
    /// Each anchor's value and how many nodes it holds (aliases inside it included).
    private var anchors: [String: (value: YAMLValue, nodes: Int)] = [:]
    /// Nodes copied by aliases so far in this document.
    private var aliasExpansion = 0
    /// When set, the top-level entries are handed to `stream` as they complete, and the items of the top-level list
    /// under `key` one by one, instead of being kept in the tree.
    var streaming: (key: String, stream: YAMLPieceStream)?

    init(file: String, limits: YAMLDocument.Limits) {
        self.file = file
        self.limits = limits
    }

    mutating func compose(_ buffer: UnsafeBufferPointer<UInt8>) throws(Diagnostic) -> YAMLValue? {
        guard buffer.count <= limits.maxBytes else {
            throw YAMLDocument.tooLarge(buffer.count, limits: limits, at: location(line: 0, column: 0))
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw Diagnostic(.error, .yamlSyntax, at: location(line: 0, column: 0), "cannot start the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        // A UTF-8 byte order mark (Windows editors write one) opens the stream, not the document. libyaml skips it
        // only when it detects the encoding itself, which a fixed UTF-8 turns off, and then read it as content.
        let input =
            buffer.starts(with: [0xEF, 0xBB, 0xBF]) ? UnsafeBufferPointer(rebasing: buffer.dropFirst(3)) : buffer
        yaml_parser_set_input_string(&parser, input.baseAddress, input.count)

        var event = try next(&parser)  // stream start
        yaml_event_delete(&event)
        event = try next(&parser)
        if event.type == YAML_STREAM_END_EVENT {
            yaml_event_delete(&event)
            return nil
        }
        // A document start.
        yaml_event_delete(&event)
        event = try next(&parser)
        let (root, _) = try node(from: &event, parser: &parser, depth: 0)
        event = try next(&parser)  // document end
        yaml_event_delete(&event)
        event = try next(&parser)
        if event.type != YAML_STREAM_END_EVENT {
            let at = location(line: event.start_mark.line, column: event.start_mark.column)
            yaml_event_delete(&event)
            throw Diagnostic(
                .error,
                .yamlSyntax,
                at: at,
                "the file holds more than one YAML document",
                hint: "remove the `---` separator: a file is one scenario, suite or library"
            )
        }
        yaml_event_delete(&event)
        return root
    }

    /// The next event, or the parser's error as a located diagnostic.
    private func next(_ parser: inout yaml_parser_t) throws(Diagnostic) -> yaml_event_t {
        var event = yaml_event_t()
        guard yaml_parser_parse(&parser, &event) == 1 else { throw diagnostic(for: parser) }
        return event
    }

    /// Composes the node starting with `event` (which this function deletes), returning it and its node count.
    private mutating func node(
        from event: inout yaml_event_t,
        parser: inout yaml_parser_t,
        depth: Int
    ) throws(Diagnostic) -> (YAMLValue, Int) {
        let here = location(line: event.start_mark.line, column: event.start_mark.column)
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            yaml_event_delete(&event)
            guard let anchor = anchors[name] else {
                throw Diagnostic(
                    .error,
                    .yamlSyntax,
                    at: here,
                    "alias *\(name) refers to no anchor defined before it",
                    hint: "define the anchor (&\(name)) on a value earlier in the file"
                )
            }
            aliasExpansion += anchor.nodes
            guard aliasExpansion <= limits.maxAliasExpansion else {
                throw Diagnostic(
                    .error,
                    .limitExceeded,
                    at: here,
                    "aliases expand to more than \(limits.maxAliasExpansion) nodes",
                    hint: "each *alias copies the whole anchored value; this file copies too much (an alias bomb?)"
                )
            }
            return (anchor.value, anchor.nodes)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)),
                as: UTF8.self
            )
            let style: YAMLValue.ScalarStyle
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: style = .block
            default: style = .plain
            }
            let anchor = scalar.anchor.map { String(cString: $0) }
            yaml_event_delete(&event)
            // A plain null is empty, `~`, or four bytes starting with n or N: other scalars (nearly all, keys
            // such as `send` and `data` included) skip the string comparisons.
            var isNull = false
            if style == .plain {
                switch text.utf8.count {
                case 0: isNull = true
                case 1: isNull = text == "~"
                case 4 where text.utf8.first == UInt8(ascii: "n") || text.utf8.first == UInt8(ascii: "N"):
                    isNull = text == "null" || text == "Null" || text == "NULL"
                default: break
                }
            }
            let value = YAMLValue(kind: isNull ? .null : .scalar(text), location: here, scalarStyle: style)
            if let anchor { anchors[anchor] = (value, 1) }
            return (value, 1)
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            yaml_event_delete(&event)
            var items: [YAMLValue] = []
            var nodes = 1
            try forEachItem(parser: &parser, depth: depth + 1) { item, count in
                items.append(item)
                nodes += count
            }
            let value = YAMLValue(kind: .sequence(items.trimmed()), location: here)
            if let anchor { anchors[anchor] = (value, nodes) }
            return (value, nodes)
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            yaml_event_delete(&event)
            var entries: [YAMLMapping.Entry] = []
            // Duplicate keys: a scan while the mapping is small (nearly all are), an index once it is not.
            var index: [String: SourceLocation]?
            var nodes = 1
            while true {
                var keyEvent = try next(&parser)
                if keyEvent.type == YAML_MAPPING_END_EVENT {
                    yaml_event_delete(&keyEvent)
                    break
                }
                let (key, keyCount) = try node(from: &keyEvent, parser: &parser, depth: depth + 1)
                var valueEvent = try next(&parser)
                // The streamed list's items go to the stream; the entry keeps a null value in their place.
                let streamed =
                    depth == 0
                    && streaming.map { streaming in
                        key.scalar == streaming.key && !entries.contains { $0.key == streaming.key }
                            && valueEvent.type == YAML_SEQUENCE_START_EVENT
                            && valueEvent.data.sequence_start.anchor == nil
                    } == true
                let (value, valueCount) =
                    streamed
                    ? try streamList(from: &valueEvent, parser: &parser, keyLocation: key.location, rootLocation: here)
                    : try node(from: &valueEvent, parser: &parser, depth: depth + 1)
                guard case .scalar(let name) = key.kind else {
                    throw Diagnostic(
                        .error,
                        .wrongType,
                        at: key.location,
                        "mapping keys must be plain strings",
                        hint: "write the key as a word, e.g. `name:`"
                    )
                }
                let earlier = index.map { $0[name] } ?? entries.index(ofKey: name).map { entries[$0].keyLocation }
                if let first = earlier {
                    throw Diagnostic(
                        .error,
                        .yamlSyntax,
                        at: key.location,
                        "duplicate key '\(name)' in mapping (first at \(first.line):\(first.column))",
                        hint: "each key may appear once in a mapping"
                    )
                }
                entries.append(YAMLMapping.Entry(key: name, keyLocation: key.location, value: value))
                if depth == 0, !streamed, let streaming, !streaming.stream.put(.entry(entries[entries.count - 1])) {
                    throw Self.cancelled
                }
                if index != nil {
                    index?[name] = key.location
                } else if entries.count == 16 {
                    index = Dictionary(
                        entries.map { ($0.key, $0.keyLocation) },
                        uniquingKeysWith: { first, _ in first }
                    )
                }
                nodes += keyCount + valueCount
            }
            let value = YAMLValue(
                kind: .mapping(YAMLMapping(entries: entries.trimmed(), location: here)),
                location: here
            )
            if let anchor { anchors[anchor] = (value, nodes) }
            return (value, nodes)
        default:
            yaml_event_delete(&event)
            throw Diagnostic(.error, .yamlSyntax, at: here, "unexpected YAML event")
        }
    }

    /// Thrown to unwind the composer once the consumer of a stream has stopped reading; never shown.
    static let cancelled = Diagnostic(
        .error,
        .yamlSyntax,
        at: SourceLocation(file: "", line: 1, column: 1),
        "cancelled"
    )

    /// Hands the items of the list starting with `event` to the stream one by one (each counted against the
    /// limits like any node), after a ``YAMLPiece/listStart(_:listLocation:rootLocation:)`` naming its key; returns
    /// the null value its entry keeps, and the items' node count.
    private mutating func streamList(
        from event: inout yaml_event_t,
        parser: inout yaml_parser_t,
        keyLocation: SourceLocation,
        rootLocation: SourceLocation
    ) throws(Diagnostic) -> (YAMLValue, Int) {
        guard let (key, stream) = streaming else { return try node(from: &event, parser: &parser, depth: 1) }
        let listLocation = location(line: event.start_mark.line, column: event.start_mark.column)
        yaml_event_delete(&event)
        let placeholder = YAMLValue(kind: .null, location: listLocation)
        let entry = YAMLMapping.Entry(key: key, keyLocation: keyLocation, value: placeholder)
        guard stream.put(.listStart(entry, listLocation: listLocation, rootLocation: rootLocation)) else {
            throw Self.cancelled
        }
        var nodes = 1
        try forEachItem(parser: &parser, depth: 2) { item, count throws(Diagnostic) in
            nodes += count
            guard stream.put(.item(item)) else { throw Self.cancelled }
        }
        guard stream.put(.listEnd) else { throw Self.cancelled }
        return (placeholder, nodes)
    }

    /// Composes the items of a sequence whose start event was read, up to its end event, handing each with its
    /// node count to `body`: the tree keeps them, a stream hands them on.
    private mutating func forEachItem(
        parser: inout yaml_parser_t,
        depth: Int,
        _ body: (YAMLValue, Int) throws(Diagnostic) -> Void
    ) throws(Diagnostic) {
        while true {
            var inner = try next(&parser)
            if inner.type == YAML_SEQUENCE_END_EVENT {
                yaml_event_delete(&inner)
                return
            }
            let (item, count) = try node(from: &inner, parser: &parser, depth: depth)
            try body(item, count)
        }
    }

    private func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line + 1, column: column + 1)
    }

    /// The character at `mark` in the parser's input, found by its line and column (libyaml counts characters, not
    /// bytes, and breaks lines at LF, CR LF and CR); nil when it cannot be found.
    private static func character(at mark: yaml_mark_t, in parser: yaml_parser_t) -> Unicode.Scalar? {
        guard let start = parser.input.string.start, let end = parser.input.string.end else { return nil }
        let bytes = UnsafeBufferPointer(start: start, count: end - start)
        var line = 0
        var index = 0
        while line < mark.line, index < bytes.count {
            if bytes[index] == 0x0A || bytes[index] == 0x0D && (index + 1 == bytes.count || bytes[index + 1] != 0x0A) {
                line += 1
            }
            index += 1
        }
        guard line == mark.line else { return nil }
        let rest = String(
            decoding: UnsafeBufferPointer(rebasing: bytes[index...]).prefix(4 * (mark.column + 1)),
            as: UTF8.self
        )
        let scalars = Array(rest.unicodeScalars.prefix(mark.column + 1))
        return scalars.count == mark.column + 1 ? scalars[mark.column] : nil
    }

    private func diagnostic(for parser: yaml_parser_t) -> Diagnostic {
        let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
        switch parser.error {
        case YAML_READER_ERROR:
            return Diagnostic(
                .error,
                .yamlSyntax,
                at: location(line: 0, column: 0),
                "unreadable YAML: \(problem) at byte \(parser.problem_offset)"
            )
        case YAML_MEMORY_ERROR:
            return Diagnostic(.error, .yamlSyntax, at: location(line: 0, column: 0), "YAML parser out of memory")
        default:
            let at = location(line: parser.problem_mark.line, column: parser.problem_mark.column)
            if problem.hasPrefix("Maximum nesting level reached") {
                return Diagnostic(
                    .error,
                    .limitExceeded,
                    at: at,
                    "YAML nesting deeper than 1000 levels",
                    hint: "a scenario needs only a few levels; is a bracket left open?"
                )
            }
            var message = "invalid YAML: \(problem)"
            if let context = parser.context.map({ String(cString: $0) }) {
                message += " (\(context) at \(parser.context_mark.line + 1):\(parser.context_mark.column + 1))"
            }
            var hint =
                "check indentation and quoting; a value containing ': ' or starting with '{', '[', '*' or '&' needs quotes"
            if problem.contains("tab character") {
                hint = "YAML indents with spaces only: replace the tab with spaces"
            } else if problem == "found character that cannot start any token" {
                switch Self.character(at: parser.problem_mark, in: parser) {
                case "\t": hint = "that is a tab: YAML indents with spaces only, so replace it with spaces"
                case "@", "`": hint = "a value starting with '@' or '`' needs quotes"
                default: break
                }
            }
            return Diagnostic(.error, .yamlSyntax, at: at, message, hint: hint)
        }
    }
}

extension Array {
    /// The same elements in storage sized to their count. A parsed document lives as long as its compilation,
    /// and arrays grown by appending keep up to half their room empty (a mapping entry is over 100 bytes).
    fileprivate func trimmed() -> [Element] {
        guard capacity > count else { return self }
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = buffer.initialize(fromContentsOf: self)
        }
    }
}
