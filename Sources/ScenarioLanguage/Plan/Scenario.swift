import Foundation
import LocatedYAML

/// One compiled scenario: a connection, its greeting check and its steps.
public struct Scenario: Sendable, Hashable {
    /// The scenario's name, unique within its file (matrix entries carry their values: `name [rcpt=bob]`).
    public let name: String
    /// Its `description`.
    public let description: String?
    /// Its `tags`.
    public let tags: [String]
    /// Where the scenario starts (its `name:` key).
    public let location: SourceLocation
    /// Where to connect; nil means "the run's default" (`--server`, else the embedded mock).
    public let server: ServerTarget?
    /// The greeting's expectation (default 220).
    public let greeting: Expectation
    /// Captures from the greeting.
    public let greetingCaptures: [Capture]
    /// How long to wait for the TCP connection.
    public let connectTimeout: Duration
    /// The per-reply timeout of the greeting (the scenario's, suite's, `--timeout`, or 30 s).
    public let replyTimeout: Duration
    /// Why the scenario is skipped, when it is.
    public let skipReason: String?
    /// The steps in order.
    public let steps: [Step]
    /// TLS settings.
    public let tls: TLSOptions
    /// Values that must never appear in any output (passwords, tokens, `secrets:` variables, `--secret`).
    public let secretValues: [String]

    /// Creates a scenario.
    public init(
        name: String,
        description: String?,
        tags: [String],
        location: SourceLocation,
        server: ServerTarget?,
        greeting: Expectation,
        greetingCaptures: [Capture],
        connectTimeout: Duration,
        replyTimeout: Duration,
        skipReason: String?,
        steps: [Step],
        tls: TLSOptions,
        secretValues: [String]
    ) {
        self.name = name
        self.description = description
        self.tags = tags
        self.location = location
        self.server = server
        self.greeting = greeting
        self.greetingCaptures = greetingCaptures
        self.connectTimeout = connectTimeout
        self.replyTimeout = replyTimeout
        self.skipReason = skipReason
        self.steps = steps
        self.tls = tls
        self.secretValues = secretValues
    }
}

/// A compiled scenario file: a suite (named or named after the file) and its scenarios.
public struct ScenarioFile: Sendable, Hashable {
    /// The path as shown to the user (relative to the working directory when below it).
    public let displayPath: String
    /// The `suite:` name, if the file gave one.
    public let suiteName: String?
    /// The scenarios in file order.
    public let scenarios: [Scenario]

    /// Creates a file.
    public init(displayPath: String, suiteName: String?, scenarios: [Scenario]) {
        self.displayPath = displayPath
        self.suiteName = suiteName
        self.scenarios = scenarios
    }

    /// The name reports use: the suite name, else the path with `/` as `.` and no extension
    /// (`scenarios/security/open-relay.yaml` -> `scenarios.security.open-relay`).
    public var reportName: String { suiteName ?? Self.reportName(forPath: displayPath) }

    /// The dotted report name of a path.
    public static func reportName(forPath path: String) -> String {
        var trimmed = path
        while trimmed.hasPrefix("./") { trimmed.removeFirst(2) }
        if let dot = trimmed.lastIndex(of: "."), !trimmed[dot...].contains("/") { trimmed = String(trimmed[..<dot]) }
        return trimmed.replacingOccurrences(of: "/", with: ".")
    }
}

/// Everything a run executes, files in the order given.
public struct Plan: Sendable, Hashable {
    /// The compiled files.
    public let files: [ScenarioFile]

    /// Creates a plan.
    public init(files: [ScenarioFile]) { self.files = files }

    /// The number of scenarios in all files.
    public var scenarioCount: Int { files.reduce(0) { $0 + $1.scenarios.count } }
}
