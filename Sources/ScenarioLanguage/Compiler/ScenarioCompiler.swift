import Foundation
import LocatedYAML
import Synchronization

/// What the command line and environment contribute to compiling.
public struct CompileOptions: Sendable {
    /// `--var NAME=VALUE`, which override file `vars`.
    public var variables: [String: String] = [:]
    /// `--secret NAME=VALUE`: like `--var`, and the value is masked in every output.
    public var secrets: [String: String] = [:]
    /// What `${env.NAME}` reads.
    public var environment: [String: String] = Self.processEnvironment
    /// `--timeout`: the per-reply timeout for steps, scenarios and suites that set none.
    public var defaultTimeout: Duration?
    /// The directory paths are shown relative to.
    public var workingDirectory: String = FileManager.default.currentDirectoryPath
    /// Files of at least this many bytes are composed on a second thread while their scenarios compile (see
    /// ``FileCompiler/compileStreamed(_:)``); smaller ones are not worth the thread. Tests set 0 to stream every file.
    var streamingThreshold = 256 * 1024

    /// The defaults: no variables, the process environment, 30 s timeouts.
    public init() {}

    /// The process environment, read once: ArgumentParser creates the options three times while it parses a
    /// command line, and each read of `ProcessInfo`'s environment built the dictionary anew (350,000 instructions).
    private static let processEnvironment = ProcessInfo.processInfo.environment
}

/// The outcome of compiling one file: the file when it has no errors, and every diagnostic either way.
public struct FileCompilation: Sendable {
    /// What kind of file it is.
    public enum Kind: Sendable, Hashable {
        /// A scenario or a suite.
        case scenarios
        /// A library (`groups:` only): checked, but nothing of it runs.
        case library
    }

    /// The compiled file; nil when there were errors, and for a library.
    public let file: ScenarioFile?
    /// Scenarios or library.
    public let kind: Kind
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
        compile(paths: [path], options: options)[0]
    }

    /// Compiles several files, reading each library they import once.
    ///
    /// Files are compiled on every core, each worker with its own library cache (a library imported by files on
    /// two workers is read twice; its diagnostics are the same either way). Results keep the order of `paths`.
    public static func compile(paths: [String], options: CompileOptions) -> [FileCompilation] {
        // One file needs no count of the cores (Foundation's reads the cgroup's CPU quota: 570,000 instructions).
        let workers = paths.count < 2 ? paths.count : min(paths.count, ProcessInfo.processInfo.activeProcessorCount, 16)
        guard workers > 1 else {
            let loader = LibraryLoader(options: options)
            return paths.map { compileFile($0, options: options, loader: loader) }
        }
        let results = UnsafeMutableBufferPointer<FileCompilation?>.allocate(capacity: paths.count)
        results.initialize(repeating: nil)
        defer {
            // The compilations are copied out below: release the buffer's references before freeing it.
            _ = results.deinitialize()
            results.deallocate()
        }
        let next = Atomic<Int>(0)
        // Each index is written by exactly one worker, and read after all of them have finished.
        nonisolated(unsafe) let output = results
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let loader = LibraryLoader(options: options)
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < paths.count else { return }
                output[index] = compileFile(paths[index], options: options, loader: loader)
            }
        }
        return results.map { $0! }
    }

    private static func compileFile(_ path: String, options: CompileOptions, loader: LibraryLoader) -> FileCompilation {
        let display = displayPath(for: path, workingDirectory: options.workingDirectory)
        let absolute = absolutePath(path, workingDirectory: options.workingDirectory)
        do throws(Diagnostic) {
            let bytes = try YAMLDocument.bytes(ofFile: path, displayPath: display)
            return compile(bytes: bytes, options: options, loader: loader) {
                SourceUnit(
                    displayPath: display,
                    directory: PathText.directory(of: absolute),
                    identity: absolute
                )
            }
        } catch {
            return FileCompilation(file: nil, kind: .scenarios, displayPath: display, diagnostics: [error])
        }
    }

    /// Compiles YAML text; `displayPath` names it in diagnostics and `directory` anchors relative paths.
    public static func compile(
        source: String,
        displayPath: String,
        directory: String? = nil,
        options: CompileOptions
    ) -> FileCompilation {
        let folder = directory ?? options.workingDirectory
        return compile(bytes: Array(source.utf8), options: options, loader: LibraryLoader(options: options)) {
            SourceUnit(
                displayPath: displayPath,
                directory: folder,
                identity: PathText.absolute(displayPath, in: folder)
            )
        }
    }

    /// Compiles a file's bytes: streamed when the file is large (``CompileOptions/streamingThreshold``), else (or
    /// when streaming cannot apply) from the whole tree. `makeUnit` gives a fresh unit for each attempt.
    private static func compile(
        bytes: [UInt8],
        options: CompileOptions,
        loader: LibraryLoader,
        makeUnit: () -> SourceUnit
    ) -> FileCompilation {
        var unit = makeUnit()
        do throws(Diagnostic) {
            guard bytes.count >= options.streamingThreshold else {
                return compile(
                    root: try YAMLDocument.parse(bytes: bytes, file: unit.displayPath),
                    unit: unit,
                    options: options,
                    loader: loader
                )
            }
            let stream = YAMLDocument.stream(bytes, file: unit.displayPath, list: "scenarios")
            defer { stream.cancel() }
            var compiler = FileCompiler(unit: unit, options: options, loader: loader)
            var streamed = FileCompiler.StreamedRoot.keyAfterScenarios
            loader.within(identity: unit.identity, display: unit.displayPath) {
                streamed = compiler.compileStreamed(stream)
            }
            switch streamed {
            case .compiled(let compiled):
                return result(of: compiler, compiled: compiled, unit: unit)
            case .whole(let root):
                // Nothing was compiled yet: the same unit serves.
                return compile(root: root, unit: unit, options: options, loader: loader)
            case .failed(let diagnostic):
                throw diagnostic
            case .keyAfterScenarios:
                unit = makeUnit()
                return compile(
                    root: try YAMLDocument.parse(bytes: bytes, file: unit.displayPath),
                    unit: unit,
                    options: options,
                    loader: loader
                )
            }
        } catch {
            return FileCompilation(file: nil, kind: .scenarios, displayPath: unit.displayPath, diagnostics: [error])
        }
    }

    private static func compile(
        root: consuming YAMLValue?,
        unit: SourceUnit,
        options: CompileOptions,
        loader: LibraryLoader
    ) -> FileCompilation {
        var compiler = FileCompiler(unit: unit, options: options, loader: loader)
        var compiled: CompiledRoot = .scenarios(nil)
        var source = consume root
        loader.within(identity: unit.identity, display: unit.displayPath) {
            compiled = compiler.compileRoot(&source)
            if case .library = compiled { compiler.checkUncalledGroups() }
        }
        return result(of: compiler, compiled: compiled, unit: unit)
    }

    private static func result(of compiler: FileCompiler, compiled: CompiledRoot, unit: SourceUnit) -> FileCompilation {
        let diagnostics = finished(compiler)
        let hasErrors = diagnostics.contains { $0.severity == .error }
        switch compiled {
        case .library:
            return FileCompilation(file: nil, kind: .library, displayPath: unit.displayPath, diagnostics: diagnostics)
        case .scenarios(let file):
            return FileCompilation(
                file: hasErrors ? nil : file,
                kind: .scenarios,
                displayPath: unit.displayPath,
                diagnostics: diagnostics
            )
        }
    }

    /// A compiler's diagnostics, each reported once, in source order, with every secret masked.
    private static func finished(_ compiler: FileCompiler) -> [Diagnostic] {
        var diagnostics = compiler.diagnostics
        diagnostics.removeDuplicates()
        let redactor = Redactor(secrets: Array(compiler.secretValues))
        return diagnostics.all.sorted { $0.location < $1.location }.map { $0.mapText(redactor.mask) }
    }

    /// Loads a library imported by another file (`path` absolute and standardized, as the import resolved it); nil
    /// unit (and no diagnostics) when the file has scenarios.
    static func loadLibrary(
        path: String,
        display: String,
        options: CompileOptions,
        loader: LibraryLoader
    ) -> LibraryLoader.Loaded {
        var root: YAMLValue?
        do {
            root = try YAMLDocument.load(path: path, displayPath: display)
        } catch {
            return LibraryLoader.Loaded(unit: nil, diagnostics: [error])
        }
        if let mapping = root?.mapping, mapping["scenarios"] != nil || mapping["name"] != nil || mapping["steps"] != nil
        {
            return LibraryLoader.Loaded(unit: nil, diagnostics: [])
        }
        let unit = SourceUnit(
            displayPath: display,
            directory: PathText.directory(of: path),
            identity: path
        )
        var compiler = FileCompiler(unit: unit, options: options, loader: loader)
        _ = compiler.compileRoot(&root)
        return LibraryLoader.Loaded(unit: unit, diagnostics: finished(compiler))
    }

    /// `path` relative to `workingDirectory` when it lies below it, else as given.
    public static func displayPath(for path: String, workingDirectory: String) -> String {
        let absolute = absolutePath(path, workingDirectory: workingDirectory)
        let base = PathText.standardized(workingDirectory)
        let prefix = base.hasSuffix("/") ? base : base + "/"
        if absolute.hasPrefix(prefix) { return String(absolute.dropFirst(prefix.count)) }
        return path
    }

    static func absolutePath(_ path: String, workingDirectory: String) -> String {
        PathText.absolute(path, in: PathText.standardized(workingDirectory))
    }
}
