import Foundation
import LocatedYAML
import ScenarioResults

/// A server a scenario (or a `connect` step) names: an address, possibly reached through a `servers:` name that
/// `--server NAME=ADDR` can override.
public struct ServerRef: Sendable, Hashable, CustomStringConvertible {
    /// The `servers:` name, when the file used one.
    public let name: String?
    /// The address the file gives.
    public let target: ServerTarget

    /// Creates a reference.
    public init(name: String? = nil, target: ServerTarget) {
        self.name = name
        self.target = target
    }

    /// `submission (127.0.0.1:587)` or the address.
    public var description: String { name.map { "\($0) (\(target))" } ?? target.description }
}

/// `xfail:` on a scenario: it is expected to fail.
public struct ExpectedFailure: Sendable, Hashable {
    /// Why (a known bug, say).
    public let reason: String
    /// The failure message must match this for the failure to count as expected.
    public let match: TextMatch?
    /// Whether a pass fails the scenario (XPASS); `strict: false` reports a pass instead.
    public let strict: Bool

    /// Creates the expectation.
    public init(reason: String, match: TextMatch?, strict: Bool) {
        self.reason = reason
        self.match = match
        self.strict = strict
    }
}

/// One compiled scenario: a connection, its greeting check and its steps.
public struct Scenario: Sendable, Hashable {
    /// Name, location, suite, tags, matrix values: what results report.
    @inlinable public var identity: ScenarioIdentity { fields.value.identity }
    /// Where to connect; nil means "the run's default" (`--server`, else the embedded mock).
    @inlinable public var server: ServerRef? { fields.value.server }
    /// Whether the runner connects before the first step (`connect: false` leaves it to a `connect` step).
    @inlinable public var connectsAtStart: Bool { fields.value.connectsAtStart }
    /// The greeting's expectation (default 220).
    @inlinable public var greeting: Expectation { fields.value.greeting }
    /// Captures from the greeting.
    @inlinable public var greetingCaptures: [Capture] { fields.value.greetingCaptures }
    /// How long to wait for the TCP connection.
    @inlinable public var connectTimeout: Duration { fields.value.connectTimeout }
    /// The per-reply timeout of the greeting (the scenario's, suite's, `--timeout`, or 30 s).
    @inlinable public var replyTimeout: Duration { fields.value.replyTimeout }
    /// Why the scenario is skipped, when it is.
    @inlinable public var skipReason: String? { fields.value.skipReason }
    /// `xfail:`, when the scenario is expected to fail.
    @inlinable public var expectedFailure: ExpectedFailure? { fields.value.expectedFailure }
    /// The steps in order.
    @inlinable public var steps: [Step] { fields.value.steps }
    /// TLS settings.
    @inlinable public var tls: TLSOptions { fields.value.tls }
    /// Values that must never appear in any output (passwords, tokens, `secrets:` variables, `--secret`).
    @inlinable public var secretValues: [String] { fields.value.secretValues }

    @usableFromInline
    struct Fields: Sendable, Hashable {
        @usableFromInline let identity: ScenarioIdentity
        @usableFromInline let server: ServerRef?
        @usableFromInline let connectsAtStart: Bool
        @usableFromInline let greeting: Expectation
        @usableFromInline let greetingCaptures: [Capture]
        @usableFromInline let connectTimeout: Duration
        @usableFromInline let replyTimeout: Duration
        @usableFromInline let skipReason: String?
        @usableFromInline let expectedFailure: ExpectedFailure?
        @usableFromInline let steps: [Step]
        @usableFromInline let tls: TLSOptions
        @usableFromInline let secretValues: [String]
    }

    /// Shared by every copy: a scenario is copied into the task that runs it, and by plan selection.
    @usableFromInline
    let fields: SharedFields<Fields>

    /// Creates a scenario.
    public init(
        identity: ScenarioIdentity,
        server: ServerRef?,
        connectsAtStart: Bool = true,
        greeting: Expectation,
        greetingCaptures: [Capture],
        connectTimeout: Duration,
        replyTimeout: Duration,
        skipReason: String?,
        expectedFailure: ExpectedFailure? = nil,
        steps: [Step],
        tls: TLSOptions,
        secretValues: [String]
    ) {
        fields = SharedFields(
            Fields(
                identity: identity,
                server: server,
                connectsAtStart: connectsAtStart,
                greeting: greeting,
                greetingCaptures: greetingCaptures,
                connectTimeout: connectTimeout,
                replyTimeout: replyTimeout,
                skipReason: skipReason,
                expectedFailure: expectedFailure,
                steps: steps,
                tls: tls,
                secretValues: secretValues
            )
        )
    }

    /// The scenario's name.
    public var name: String { identity.name }
    /// Where it is written.
    public var location: SourceLocation { identity.location }
    /// Its tags.
    public var tags: [String] { identity.tags }
}

/// A compiled scenario file: a suite (named or named after the file) and its scenarios.
public struct ScenarioFile: Sendable, Hashable {
    /// The path as shown to the user (relative to the working directory when below it).
    public let displayPath: String
    /// The `suite:` name, if the file gave one.
    public let suiteName: String?
    /// The scenarios in file order.
    public let scenarios: [Scenario]
    /// The names its `servers:` defines.
    public let serverNames: Set<String>

    /// Creates a file.
    public init(displayPath: String, suiteName: String?, scenarios: [Scenario], serverNames: Set<String> = []) {
        self.displayPath = displayPath
        self.suiteName = suiteName
        self.scenarios = scenarios
        self.serverNames = serverNames
    }

    /// The name reports use: the suite name, else the path with `/` as `.` and no extension
    /// (`scenarios/security/open-relay.yaml` -> `scenarios.security.open-relay`).
    public var reportName: String { suiteName ?? Self.reportName(forPath: displayPath) }

    /// The dotted report name of a path. The slashes become dots byte by byte (both are ASCII, so the UTF-8 stays
    /// whole): Foundation's `replacingOccurrences` bridged through `NSString` for 690,000 instructions, a thirtieth
    /// of a one-scenario run's start.
    public static func reportName(forPath path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.hasPrefix("./") { trimmed.removeFirst(2) }
        if let dot = trimmed.lastIndex(of: "."), !trimmed[dot...].contains("/") { trimmed = trimmed[..<dot] }
        return String(decoding: trimmed.utf8.map { $0 == UInt8(ascii: "/") ? UInt8(ascii: ".") : $0 }, as: UTF8.self)
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

    /// Every scenario in plan order. A plan of one file shares that file's array rather than copy each scenario
    /// into a new one.
    public var scenarios: [Scenario] { files.count == 1 ? files[0].scenarios : files.flatMap(\.scenarios) }

    /// Every `servers:` name the files define.
    public var serverNames: Set<String> { files.reduce(into: Set()) { $0.formUnion($1.serverNames) } }
}

extension Scenario {
    /// Whether a `delivered` step looks into the embedded mock's store (one without `maildir`).
    public var checksMockDelivery: Bool {
        func checks(_ steps: [Step]) -> Bool {
            steps.contains { step in
                switch step.action {
                case .delivered(let check): return check.maildir == nil
                case .call(let call): return checks(call.steps)
                case .repeatSteps(let loop): return checks(loop.steps)
                case .retry(let retry): return checks(retry.steps)
                default: return false
                }
            }
        }
        return checks(steps)
    }

    /// Every address the scenario names: its server and the servers of its `connect` steps. Collected into one array
    /// (none when there is nothing to collect), not an array a step joined up.
    public var serverTargets: [ServerTarget] {
        var targets: [ServerTarget] = []
        if let server { targets.append(server.target) }
        func collect(_ steps: [Step]) {
            for step in steps {
                switch step.action {
                case .connect(let action): if let server = action.server { targets.append(server.target) }
                case .call(let call): collect(call.steps)
                case .repeatSteps(let loop): collect(loop.steps)
                case .retry(let retry): collect(retry.steps)
                default: break
                }
            }
        }
        collect(steps)
        return targets
    }
}
