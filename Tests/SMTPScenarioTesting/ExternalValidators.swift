import Foundation
import Testing

/// The real consumers the report formats are checked with: a JSON Schema validator, Perl's `prove` and a
/// headless Chromium. Missing ones skip the test loudly, or fail it under `CI=true`.
public enum ExternalValidators {
    /// The program's path, or a skip (a failure in CI) naming what installs it.
    public static func tool(_ name: String, installedBy package: String) throws -> String {
        if let path = ProcessRunner.which(name) { return path }
        if Paths.inCI { throw FixtureError(description: "CI=true but \(name) is not installed (\(package))") }
        try Test.cancel("\(name) is not installed (scripts/install-test-deps installs \(package))")
    }

    /// Validates JSON `files` against `schemas/NAME` with python3-jsonschema (`scripts/validate-json`).
    public static func validateJSON(_ files: [URL], schema: String) async throws -> (ok: Bool, output: String) {
        let python = try tool("python3", installedBy: "python3-jsonschema")
        let result = try await ProcessRunner.run(
            "/usr/bin/python3",
            [
                Paths.repositoryRoot.appendingPathComponent("scripts/validate-json").path,
                Paths.repositoryRoot.appendingPathComponent("schemas/\(schema)").path,
            ] + files.map(\.path),
            timeout: .seconds(60)
        )
        _ = python
        return (result.status == 0, result.stdout + result.stderr)
    }

    /// Runs `prove` on a TAP file (prove runs `cat FILE` and parses what it prints).
    public static func prove(_ file: URL) async throws -> ProcessResult {
        let prove = try tool("prove", installedBy: "perl")
        return try await ProcessRunner.run(prove, ["--exec", "/bin/cat", file.path], timeout: .seconds(60))
    }

    /// What a page looked like in a headless Chromium after its scripts ran.
    public struct Page: Sendable {
        /// The DOM, serialized.
        public let dom: String
        /// Console messages the page logged as errors, uncaught exceptions included.
        public let consoleErrors: [String]
    }

    /// Loads `file` in headless Chromium: its DOM after the scripts ran and its console errors.
    public static func loadInBrowser(_ file: URL) async throws -> Page {
        let chromium = try tool("chromium", installedBy: "chromium")
        let result = try await ProcessRunner.run(
            chromium,
            Self.browserFlags + ["--enable-logging=stderr", "--v=0", "--dump-dom", file.absoluteString],
            timeout: .seconds(90)
        )
        let errors = result.stderr.split(separator: "\n").filter {
            $0.contains(":CONSOLE") && ($0.contains("Uncaught") || $0.contains("rror"))
        }.map(String.init)
        return Page(dom: result.stdout, consoleErrors: errors)
    }

    /// Saves a screenshot of `file` as `png`.
    public static func screenshot(_ file: URL, to png: URL, width: Int = 1280, height: Int = 1600) async throws {
        let chromium = try tool("chromium", installedBy: "chromium")
        try FileManager.default.createDirectory(
            at: png.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        _ = try await ProcessRunner.run(
            chromium,
            Self.browserFlags + ["--screenshot=\(png.path)", "--window-size=\(width),\(height)", file.absoluteString],
            timeout: .seconds(90)
        )
    }

    /// Headless, offline, and able to run as root in a container.
    private static let browserFlags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--user-data-dir=/tmp/smtp-scenario-chromium",
    ]

    /// Where tests keep artefacts for people (`.build/test-artifacts/`), such as the HTML report screenshot.
    public static var artifacts: URL {
        Paths.repositoryRoot.appendingPathComponent(".build/test-artifacts")
    }
}
