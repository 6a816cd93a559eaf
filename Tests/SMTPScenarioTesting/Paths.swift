import Foundation

/// Where things are when tests run: the repository, the built binary, the shared JUnit tools.
public enum Paths {
    /// The repository root (found from this file's location).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// `scenarios/` of the repository.
    public static var scenarios: URL { repositoryRoot.appendingPathComponent("scenarios") }

    /// The `smtp-scenario` binary built next to the test bundle.
    public static var binary: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("smtp-scenario")
    }

    /// `../shared/junit/validate.sh` next to the repository.
    public static var junitValidator: URL {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/junit/validate.sh")
    }

    /// A fresh temporary directory.
    public static func temporaryDirectory(_ name: String = "smtp-scenario-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(name)-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Whether the tests run in CI (`CI=true`), where a missing server is a failure, not a skip.
    public static var inCI: Bool {
        ["true", "1", "yes"].contains(ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? "")
    }
}
