import ArgumentParser
import Foundation
import LocatedYAML
import SMTPScenarioApp
import ScenarioLanguage
import ScenarioRunner

/// Options shared by the commands that compile scenario files.
struct CompileArguments: ParsableArguments {
    @Option(
        name: .customLong("var"),
        help: ArgumentHelp("Set a variable (repeatable): --var NAME=VALUE.", valueName: "NAME=VALUE")
    )
    var variables: [String] = []

    @Option(
        name: .customLong("secret"),
        help: ArgumentHelp("Like --var, and the value is masked as *** in every output.", valueName: "NAME=VALUE")
    )
    var secrets: [String] = []

    @Option(
        help: ArgumentHelp(
            "Default per-reply timeout for steps without their own (500ms, 5s, 2m).",
            valueName: "DURATION"
        )
    )
    var timeout: String?

    /// Checks `--var`, `--secret` and `--timeout` while parsing, so a bad one is a usage error like the others.
    func validate() throws { _ = try compileOptions() }

    /// The compile options, or a validation error naming the bad argument.
    func compileOptions() throws -> CompileOptions {
        var options = CompileOptions()
        options.variables = try Self.pairs(variables, option: "--var")
        options.secrets = try Self.pairs(secrets, option: "--secret")
        options.defaultTimeout = try timeout.map(Self.duration)
        return options
    }

    /// A positive `--timeout` duration, or a validation error listing the accepted forms.
    static func duration(_ text: String) throws -> Duration {
        guard let duration = DurationSyntax.parse(text) else {
            throw ValidationError("--timeout \(text) is not a duration (\(DurationSyntax.acceptedForms))")
        }
        guard duration > .zero else {
            throw ValidationError("--timeout \(text) must be longer than 0: a zero timeout ends every wait at once")
        }
        return duration
    }

    static func pairs(_ values: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
                throw ValidationError("\(option) \(value): expected NAME=VALUE")
            }
            result[String(value[..<equals])] = String(value[value.index(after: equals)...])
        }
        return result
    }
}

/// `--dns-server IP[:PORT]`: where `mx:` targets are looked up.
struct DNSArguments: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Send every DNS query of an mx: target (MX, A/AAAA, the no-MX fallback) to this server instead of the system's.",
            valueName: "IP[:PORT]"
        )
    )
    var dnsServer: String?

    func validate() throws { _ = try server() }

    /// The parsed server, or a validation error.
    func server() throws -> DNSServer? {
        guard let dnsServer else { return nil }
        guard let parsed = DNSServer(dnsServer) else {
            throw ValidationError(
                "--dns-server \(dnsServer): expected an IPv4 address with an optional port, e.g. 127.0.0.1:5353"
            )
        }
        return parsed
    }
}

/// An option's value chosen among an enum's raw values, with argument-parser's help members spelled out.
///
/// The library's defaults for these members are generic: they build key paths at run time, and each first use looks
/// the enum's conformances up by scanning every conformance record in the binary (about 255,000 instructions a scan).
/// Spelled out here they are plain calls; the help text they give is the same.
protocol ArgumentChoice: ExpressibleByArgument, CaseIterable, RawRepresentable where RawValue == String {}

extension ArgumentChoice {
    static var allValueStrings: [String] { allCases.map { $0.rawValue } }
    static var allValueDescriptions: [String: String] { [:] }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
    var defaultValueDescription: String { rawValue }
}

/// `--color auto|always|never`, honouring NO_COLOR.
enum ColorChoice: String, ArgumentChoice {
    case auto, always, never

    var enabled: Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto:
            if let noColor = environmentValue("NO_COLOR"), !noColor.isEmpty { return false }
            return isatty(STDOUT_FILENO) == 1 && environmentValue("TERM") != "dumb"
        }
    }
}

/// `--annotations github|none`; without it, GitHub annotations when `GITHUB_ACTIONS=true`.
enum AnnotationChoice: String, ArgumentChoice {
    case github, none

    /// What to use when `--annotations` is not given.
    static var detected: AnnotationChoice {
        environmentValue("GITHUB_ACTIONS") == "true" ? .github : .none
    }
}

/// One environment variable's value, read with getenv: `ProcessInfo`'s environment builds a dictionary of all of
/// them on every read (330,000 instructions of every run's start for `GITHUB_ACTIONS` alone).
func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// Runs a pipeline with the embedded mock available, stops the mock, and exits with the pipeline's code, or with
/// 128 + the signal when SIGINT/SIGTERM interrupted it, 141 when standard output's reader went away, 74 when standard
/// output could not be written (its reports are written by then).
func runWithEmbeddedMock(
    dnsServer: DNSServer? = nil,
    _ body: @escaping @Sendable (EmbeddedMockResolver) async -> (exitCode: Int32, interrupted: Bool)
) async throws -> Never {
    let resolver = EmbeddedMockResolver(dnsServer: dnsServer)
    let outcome = await Interruption.run { await body(resolver) }
    await resolver.shutdown()
    if let cause = outcome.cause { throw ExitCode(cause.exitStatus) }
    throw ExitCode(outcome.value.exitCode)
}

/// The usage error for a report path of `-`, which would be a file named `-` in the current folder: it says how to
/// get the report on standard output instead (after the console's lines).
func dashReportPath(_ option: String, note: String = "") -> ValidationError {
    ValidationError(
        "\(option) - would write a file named '-'; for the report on standard output, after the console's lines, "
            + "use \(option) /dev/stdout\(note)"
    )
}
