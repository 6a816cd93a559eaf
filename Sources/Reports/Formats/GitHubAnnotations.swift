import Foundation
import ScenarioResults

/// GitHub Actions workflow commands: each failure also prints `::error file=F,line=L,title=T::message`, so it
/// appears on the pull request's diff. Used when `GITHUB_ACTIONS=true` (or `--annotations github`).
public struct GitHubAnnotations: Reporter {
    private let write: @Sendable (String) -> Void

    /// Annotations written through `write` (standard output in CI).
    public init(write: @escaping @Sendable (String) -> Void) { self.write = write }

    public func scenarioFinished(_ result: ScenarioResult) async {
        if let line = Self.annotation(for: result) { write(line + "\n") }
    }

    public func runFinished(_ summary: RunSummary) async {}

    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {
        for failure in failures {
            write(
                Self.command(
                    "error",
                    file: failure.file,
                    line: failure.line,
                    title: "smtp-scenario: \(failure.file) does not compile",
                    message: failure.text
                ) + "\n"
            )
        }
    }

    /// The annotation of one result, or nil when there is nothing to say (passes, skips, expected failures, and
    /// scenarios an interruption kept from starting: nothing about them belongs on a line of the diff).
    static func annotation(for result: ScenarioResult) -> String? {
        if result.interruptedBeforeStart { return nil }
        let identity = result.identity
        switch result.outcome {
        case .failed(let failure):
            return command(
                "error",
                file: failure.location.file,
                line: failure.location.line,
                title: "smtp-scenario: \(identity.name)",
                message: failure.message
            )
        case .unexpectedPass(let reason):
            return command(
                "error",
                file: identity.file,
                line: identity.location.line,
                title: "smtp-scenario: \(identity.name)",
                message: "XPASS: passed although expected to fail (\(reason))"
            )
        case .passed, .skipped, .expectedFailure:
            return nil
        }
    }

    /// `::KIND file=F,line=L,title=T::MESSAGE`, escaped as GitHub's toolkit does: `%`, CR and LF in the message;
    /// also `:` and `,` in properties.
    static func command(_ kind: String, file: String, line: Int, title: String, message: String) -> String {
        "::\(kind) file=\(property(file)),line=\(line),title=\(property(title))::\(data(message))"
    }

    static func data(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    static func property(_ text: String) -> String {
        data(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
