import Foundation
import LocatedYAML

/// What the command line and environment contribute to compiling.
public struct CompileOptions: Sendable {
    /// `--var NAME=VALUE`, which override file `vars`.
    public var variables: [String: String] = [:]
    /// `--secret NAME=VALUE`: like `--var`, and the value is masked in every output.
    public var secrets: [String: String] = [:]
    /// What `${env.NAME}` reads.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// `--timeout`: the per-reply timeout for steps, scenarios and suites that set none.
    public var defaultTimeout: Duration?
    /// The directory paths are shown relative to.
    public var workingDirectory: String = FileManager.default.currentDirectoryPath

    /// The defaults: no variables, the process environment, 30 s timeouts.
    public init() {}
}

/// The outcome of compiling one file: the file when it has no errors, and every diagnostic either way.
public struct FileCompilation: Sendable {
    /// The compiled file; nil when there were errors.
    public let file: ScenarioFile?
    /// The path as shown in diagnostics.
    public let displayPath: String
    /// Errors and warnings, in source order.
    public let diagnostics: [Diagnostic]

    /// Whether the file has errors.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Compiles scenario files (YAML) into checked ``ScenarioFile`` plans, reporting every problem with its location.
public enum ScenarioCompiler {
    /// The per-reply timeout when nothing sets one.
    public static let fallbackTimeout: Duration = .seconds(30)
    /// The connect timeout when nothing sets one.
    public static let fallbackConnectTimeout: Duration = .seconds(10)

    /// Compiles the file at `path`.
    public static func compile(path: String, options: CompileOptions) -> FileCompilation {
        let display = displayPath(for: path, workingDirectory: options.workingDirectory)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            let root = try YAMLDocument.load(path: path, displayPath: display)
            return compile(root: root, displayPath: display, directory: directory, options: options)
        } catch {
            return FileCompilation(file: nil, displayPath: display, diagnostics: [error])
        }
    }

    /// Compiles YAML text; `displayPath` names it in diagnostics and `directory` anchors relative paths.
    public static func compile(
        source: String,
        displayPath: String,
        directory: String? = nil,
        options: CompileOptions
    ) -> FileCompilation {
        do {
            let root = try YAMLDocument.parse(source, file: displayPath)
            return compile(
                root: root,
                displayPath: displayPath,
                directory: directory ?? options.workingDirectory,
                options: options
            )
        } catch {
            return FileCompilation(file: nil, displayPath: displayPath, diagnostics: [error])
        }
    }

    private static func compile(
        root: YAMLValue?,
        displayPath: String,
        directory: String,
        options: CompileOptions
    ) -> FileCompilation {
        var compiler = FileCompiler(displayPath: displayPath, directory: directory, options: options)
        let file = compiler.compileRoot(root)
        let redactor = Redactor(secrets: Array(compiler.secretValues))
        let diagnostics = compiler.diagnostics.all.sorted { $0.location < $1.location }.map {
            $0.mapText(redactor.mask)
        }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return FileCompilation(file: hasErrors ? nil : file, displayPath: displayPath, diagnostics: diagnostics)
    }

    /// `path` relative to `workingDirectory` when it lies below it, else as given.
    public static func displayPath(for path: String, workingDirectory: String) -> String {
        let absolute = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true))
            .standardized.path
        let base = URL(fileURLWithPath: workingDirectory).standardized.path
        let prefix = base.hasSuffix("/") ? base : base + "/"
        if absolute.hasPrefix(prefix) { return String(absolute.dropFirst(prefix.count)) }
        return path
    }
}
