import Foundation

/// Runs `../shared/junit/validate.sh` on a JUnit file.
public enum JUnitValidation {
    /// Validates `file` against the compat schema (or `schema`, e.g. `xunit`); returns the validator's output
    /// and whether it passed.
    public static func validate(_ file: URL, schema: String? = nil) async throws -> (ok: Bool, output: String) {
        var arguments: [String] = []
        if let schema { arguments += ["--schema", schema] }
        arguments.append(file.path)
        let result = try await ProcessRunner.run(
            "/bin/bash",
            [Paths.junitValidator.path] + arguments,
            timeout: .seconds(60)
        )
        return (result.status == 0, result.stdout + result.stderr)
    }
}
