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
        let workingDirectory = fileManager.currentDirectoryPath
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else { throw MissingPath(path: path) }
            var found: [String] = []
            if isDirectory.boolValue {
                let base = path.hasSuffix("/") ? String(path.dropLast()) : path
                collectScenarioFiles(in: base, into: &found)
                found.sort()
            } else {
                found = [path]
            }
            for file in found {
                let key = PathText.absolute(file, in: workingDirectory)
                if seen.insert(key).inserted { result.append(file) }
            }
        }
        return result
    }

    /// Adds the `*.yaml`/`*.yml` regular files (or links to them) below `folder`, descending into folders but not
    /// into links to folders, hidden ones included, as FileManager's enumerator did. Read with readdir:
    /// the enumerator cost 70,000 instructions a file found.
    private static func collectScenarioFiles(in folder: String, into found: inout [String]) {
        guard let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            let full = folder + "/" + name
            var isFolder = Int32(entry.pointee.d_type) == DT_DIR
            if Int32(entry.pointee.d_type) == DT_UNKNOWN {
                // Some file systems do not say: ask, without following a link.
                var status = stat()
                isFolder = lstat(full, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
            }
            if isFolder {
                collectScenarioFiles(in: full, into: &found)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml"),
                Int32(entry.pointee.d_type) == DT_REG || isRegularFile(full)
            {
                // A regular entry is one already; a link, or an entry of unknown type, is asked with stat.
                found.append(full)
            }
        }
    }

    /// Whether `path` is a regular file, a link followed. A named pipe or a device found in a folder is not read:
    /// opening a pipe waits for a writer that may never come, and a device may never end.
    private static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }
}
