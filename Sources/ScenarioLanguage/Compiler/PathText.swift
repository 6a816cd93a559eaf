import Foundation

/// File paths worked out as text: made absolute, with `.` and `..` removed lexically (no link followed), as
/// `URL.standardized` was asked to do.
///
/// Foundation's URL got a relative path wrong: `URL(fileURLWithPath: "../x/s.yaml", relativeTo: cwd).standardized`
/// drops the `..` before resolving, so a file given as `../x/s.yaml` was placed in the working folder and its
/// imports were looked for there. It was also slow: about 250,000 instructions for each file of a run.
enum PathText {
    /// An absolute `path` as written (its `..` after a symbolic link is the kernel's to resolve), a relative one made
    /// absolute against `directory` as `absolute(_:in:)` does: how a file a scenario names (a policy file, a maildir,
    /// a TLS file) is kept.
    static func anchored(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : absolute(path, in: directory)
    }

    /// `path` made absolute against `directory` (itself taken from the working folder when relative) and
    /// standardized.
    static func absolute(_ path: String, in directory: String) -> String {
        if path.hasPrefix("/") { return standardized(path) }
        let base = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        return standardized(base + "/" + path)
    }

    /// An absolute path without `.`, `..`, repeated or trailing slashes; `..` at the root stays at the root.
    static func standardized(_ path: String) -> String {
        // Most paths arrive standard already (a run standardizes each file's path six times): one look, no copy.
        if isStandard(path) { return path }
        // By bytes: `/` and `.` are ASCII, and splitting the String by Characters cost 50,000 instructions a file.
        let bytes = Array(path.utf8)
        var components: [ArraySlice<UInt8>] = []
        for component in bytes.split(separator: UInt8(ascii: "/")) {
            if component.elementsEqual([UInt8(ascii: ".")]) { continue }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                _ = components.popLast()
                continue
            }
            components.append(component)
        }
        guard !components.isEmpty else { return "/" }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 1)
        for component in components {
            result.append(UInt8(ascii: "/"))
            result.append(contentsOf: component)
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Whether `path` is `/`, or starts with `/` and has no empty, `.` or `..` component (so no `//` and no trailing
    /// `/`): what `standardized` would return unchanged.
    static func isStandard(_ path: String) -> Bool {
        var utf8 = path.utf8.makeIterator()
        guard utf8.next() == UInt8(ascii: "/") else { return false }
        var length = 0
        var dots = 0
        var components = 0
        while let byte = utf8.next() {
            if byte == UInt8(ascii: "/") {
                if length == 0 || (length == dots && dots <= 2) { return false }
                components += 1
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        if length == 0 { return components == 0 }  // "/" alone; otherwise a trailing slash
        return !(length == dots && dots <= 2)
    }

    /// The folder holding `path` (absolute and standardized): `/a/b.yaml` -> `/a`, `/b.yaml` -> `/`.
    static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), slash != path.utf8.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
