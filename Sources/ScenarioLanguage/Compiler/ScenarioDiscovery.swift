import Foundation

/// Finds scenario files: files given by name, and `*.yaml`/`*.yml` below folders, in a stable order.
public enum ScenarioDiscovery {
    /// A path that is neither a file nor a folder.
    public struct MissingPath: Error, Sendable, CustomStringConvertible {
        /// The path as given.
        public let path: String
        public var description: String { "no such file or folder: \(path)" }
    }

    /// Expands `paths`: files are kept as given (any extension, and any kind: `run <(generate)` reads a pipe),
    /// folders are searched recursively for regular files (or links to them) named `*.yaml`/`*.yml`, sorted by
    /// path. Duplicates are dropped, keeping the first.
    public static func files(in paths: [String]) throws(MissingPath) -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        let fileManager = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else { throw MissingPath(path: path) }
            var found: [String] = []
            if isDirectory.boolValue {
                let base = path.hasSuffix("/") ? String(path.dropLast()) : path
                let enumerator = fileManager.enumerator(atPath: path)
                while let relative = enumerator?.nextObject() as? String {
                    guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
                    let full = base + "/" + relative
                    if isRegularFile(full) { found.append(full) }
                }
                found.sort()
            } else {
                found = [path]
            }
            for file in found {
                let key = URL(fileURLWithPath: file, isDirectory: false).standardized.path
                if seen.insert(key).inserted { result.append(file) }
            }
        }
        return result
    }

    /// Whether `path` is a regular file, a link followed. A named pipe or a device found in a folder is not read:
    /// opening a pipe waits for a writer that may never come, and a device may never end.
    private static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }
}
