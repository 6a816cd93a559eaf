import Foundation
import Yams

/// Reads a YAML file into located values, turning every libyaml complaint into a located ``Diagnostic``.
public enum YAMLDocument {
    /// Parses `text`; `file` is the path shown in diagnostics. Returns nil for an empty document.
    public static func parse(_ text: String, file: String) throws(Diagnostic) -> YAMLValue? {
        let start = SourceLocation(file: file, line: 1, column: 1)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw diagnostic(for: error, file: file)
        } catch {
            throw Diagnostic(.error, .yamlSyntax, at: start, "cannot parse YAML: \(error)")
        }
        guard let node else { return nil }
        return try YAMLValue(node, file: file, fallback: start)
    }

    /// Reads and parses the file at `path`; `displayPath` is used in diagnostics.
    public static func load(path: String, displayPath: String) throws(Diagnostic) -> YAMLValue? {
        let start = SourceLocation(file: displayPath, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Diagnostic(.error, .unreadableFile, at: start, "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Diagnostic(.error, .unreadableFile, at: start, "the file is not valid UTF-8")
        }
        return try parse(text, file: displayPath)
    }

    private static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
            return Diagnostic(
                .error,
                .yamlSyntax,
                at: at(mark),
                message,
                hint:
                    "check indentation and quoting; a value containing ': ' or starting with '{', '[', '*' or '&' needs quotes"
            )
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(
                .error,
                .yamlSyntax,
                at: at(context.mark),
                "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in mapping",
                hint: "each key may appear once in a mapping"
            )
        case .reader(let problem, let offset, _, _):
            return Diagnostic(
                .error,
                .yamlSyntax,
                at: SourceLocation(file: file, line: 1, column: 1),
                "unreadable YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")"
            )
        default:
            return Diagnostic(.error, .yamlSyntax, at: SourceLocation(file: file, line: 1, column: 1), "\(error)")
        }
    }
}
