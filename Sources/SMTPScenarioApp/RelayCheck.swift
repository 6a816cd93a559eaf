import Foundation
import LocatedYAML
import Reports
import SMTPWire
import ScenarioLanguage
import ScenarioResults
import ScenarioRunner

/// `smtp-scenario relay-check`: the open-relay pack against one server, with a verdict.
public enum RelayCheck {
    /// The built-in copy of `scenarios/security/open-relay.yaml`.
    public static var builtInPack: String { RelayPack.yaml }

    /// The pack's defaults, which the command line can override.
    public static let defaultFrom = "antispam"
    public static let defaultTo = "relaytest"
    public static let defaultDomain = "relay-test.invalid"

    /// Exit codes of `relay-check`.
    public enum ExitCode {
        public static let closed: Int32 = 0
        public static let open: Int32 = 1
        public static let usage: Int32 = 2
        public static let inconclusive: Int32 = 3
    }

    /// What `relay-check` was asked to do.
    public struct Configuration: Sendable {
        /// The server (`host:port`, `smtps://...`, `mock`, `mock:FILE`).
        public var server = ""
        /// `--domain`, `--from`, `--to`; nil keeps the pack's defaults.
        public var domain: String?
        public var from: String?
        public var to: String?
        /// `--junit FILE`, `--junit-strict`.
        public var junitPath: String?
        public var junitStrict = false
        /// `--rate`: connections per second at most.
        public var rate: Double?
        /// `--confirm-with-data`: send a message through each accepted form (to `domain` only).
        public var confirmWithData = false
        /// `--jobs`, `--timeout`, `--verbose`, colour.
        public var jobs = 4
        public var timeout: Duration?
        public var verbose = false
        public var color = false

        /// Defaults.
        public init() {}
    }

    /// The outcome over all forms.
    public struct Verdict: Sendable, Hashable {
        /// How a form fared.
        public enum FormOutcome: Sendable, Hashable {
            /// The RCPT (or the MAIL before it) was refused; `reply` is the refusal.
            case refused(reply: String, authenticationRequired: Bool)
            /// The server accepted the recipient: it relays this form.
            case accepted(command: String, reply: String)
            /// The form could not be tested (connection error, timeout, unexpected greeting).
            case error(String)
        }

        /// Each form's name and outcome, in pack order.
        public let forms: [(name: String, outcome: FormOutcome)]

        public static func == (lhs: Verdict, rhs: Verdict) -> Bool {
            lhs.forms.map(\.name) == rhs.forms.map(\.name) && lhs.forms.map(\.outcome) == rhs.forms.map(\.outcome)
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(forms.map(\.name)) }

        /// Forms accepted.
        public var accepted: [(name: String, command: String, reply: String)] {
            forms.compactMap { form in
                if case .accepted(let command, let reply) = form.outcome { return (form.name, command, reply) }
                return nil
            }
        }

        /// Forms refused.
        public var refusedCount: Int {
            forms.filter { if case .refused = $0.outcome { true } else { false } }.count
        }

        /// Forms that could not be tested.
        public var errors: [(name: String, why: String)] {
            forms.compactMap { form in
                if case .error(let why) = form.outcome { return (form.name, why) }
                return nil
            }
        }

        /// 1 when any form was accepted, 3 when some could not be tested, 0 when all were refused.
        public var exitCode: Int32 {
            if !accepted.isEmpty { return ExitCode.open }
            if !errors.isEmpty { return ExitCode.inconclusive }
            return ExitCode.closed
        }

        /// The verdict line: `not an open relay: 16/16 refused`, `OPEN RELAY: 3/16 accepted`, ...
        public var headline: String {
            let total = forms.count
            if !accepted.isEmpty { return "OPEN RELAY: \(accepted.count)/\(total) accepted" }
            if !errors.isEmpty {
                return
                    "INCONCLUSIVE: \(errors.count)/\(total) forms could not be tested, \(refusedCount)/\(total) refused"
            }
            return "not an open relay: \(refusedCount)/\(total) refused"
        }
    }

    /// Reads the verdict from the pack's structured results: each scenario's `form` matrix value names the form,
    /// and the records of the steps that sent MAIL and RCPT hold the replies.
    public static func verdict(from run: RunResult) -> Verdict {
        let forms = run.allResults.map { result -> (String, Verdict.FormOutcome) in
            let name = result.identity.parameter("form") ?? result.identity.name
            let mail = result.lastStep(sending: "MAIL")
            let rcpt = result.lastStep(sending: "RCPT")
            switch result.outcome {
            case .passed:
                let authRequired = mail?.reply?.code == 530
                let refusal = authRequired ? mail?.reply : (rcpt?.reply ?? mail?.reply)
                return (name, .refused(reply: refusal?.summary ?? "refused", authenticationRequired: authRequired))
            case .failed(let failure) where failure.kind == .unexpectedReply:
                if let rcpt, rcpt.verdict == .failed, let reply = rcpt.reply, reply.code / 100 == 2 {
                    return (name, .accepted(command: rcpt.sent ?? rcpt.label, reply: reply.summary))
                }
                return (name, .error(failure.message))
            case .failed(let failure):
                return (name, .error(failure.message))
            case .skipped(let reason):
                return (name, .error("skipped: \(reason)"))
            case .expectedFailure(_, let failure):
                return (name, .error(failure.message))
            case .unexpectedPass(let reason):
                return (name, .error("XPASS: \(reason)"))
            }
        }
        return Verdict(forms: forms)
    }

    /// Runs the check and prints per-form lines and the verdict. Returns the exit code and whether it was
    /// interrupted (the caller maps that to 130/143 once the reports are written).
    public static func run(
        _ configuration: Configuration,
        resolver: any ServerResolver,
        output: ConsoleOutput
    ) async -> (exitCode: Int32, interrupted: Bool) {
        let workingDirectory = FileManager.default.currentDirectoryPath
        guard let target = ServerTarget.parse(configuration.server, relativeTo: workingDirectory) else {
            output.err("error: \(ServerTarget.serverOptionError(configuration.server))\n")
            return (ExitCode.usage, false)
        }
        if configuration.confirmWithData, configuration.domain == nil {
            output.err(
                "error: --confirm-with-data sends real messages to the test domain: give --domain, a domain you control\n"
            )
            return (ExitCode.usage, false)
        }
        var compile = CompileOptions()
        compile.defaultTimeout = configuration.timeout
        if let domain = configuration.domain { compile.variables["domain"] = domain }
        if let from = configuration.from { compile.variables["from"] = from }
        if let to = configuration.to { compile.variables["to"] = to }
        let compilation = ScenarioCompiler.compile(
            source: RelayPack.yaml,
            displayPath: RelayPack.displayPath,
            options: compile
        )
        for diagnostic in compilation.diagnostics { output.err(diagnostic.description + "\n") }
        guard let file = compilation.file else { return (ExitCode.usage, false) }

        var options = RunOptions()
        options.serverOverride = target
        options.jobs = max(1, configuration.jobs)
        if let rate = configuration.rate, rate > 0 { options.startInterval = .milliseconds(Int64(1000 / rate)) }
        var consoleOptions = ConsoleReport.Options()
        consoleOptions.color = configuration.color
        consoleOptions.verbose = configuration.verbose
        output.out("relay-check against \(target): \(file.scenarios.count) envelope forms, one connection each\n")
        let collector = CollectingReporter()
        var reporters: [any Reporter] = [ConsoleReport(options: consoleOptions, write: output.out), collector]
        if let path = configuration.junitPath {
            var junitOptions = JUnitReport.Options()
            junitOptions.strict = configuration.junitStrict
            reporters.append(JUnitReporter(path: path, options: junitOptions, onError: output.err))
        }
        await PlanRunner.run(
            Plan(files: [file]),
            options: options,
            resolver: resolver,
            reporter: ReporterGroup(reporters)
        )
        let result = await collector.run
        let verdict = verdict(from: result)
        report(verdict, configuration: configuration, output: output)
        if configuration.confirmWithData, !verdict.accepted.isEmpty, !result.interrupted {
            await confirm(verdict, from: result, options: options, resolver: resolver, output: output)
        }
        return (result.interrupted ? ExitCode.inconclusive : verdict.exitCode, result.interrupted)
    }

    private static func report(_ verdict: Verdict, configuration: Configuration, output: ConsoleOutput) {
        output.out("\n" + verdict.headline + "\n")
        for form in verdict.accepted {
            output.out("  accepted: \(form.name)  \(form.command) -> \(form.reply)\n")
        }
        for form in verdict.errors { output.out("  not tested: \(form.name)  \(form.why)\n") }
        let authRequired = verdict.forms.filter {
            if case .refused(_, true) = $0.outcome { true } else { false }
        }
        if !authRequired.isEmpty {
            output.out("  \(authRequired.count) form(s) refused at MAIL with 530: authentication required\n")
        }
        if verdict.exitCode == ExitCode.closed, (configuration.domain ?? defaultDomain) == defaultDomain {
            output.out(
                """
                note: the test domain \(defaultDomain) cannot be resolved. A server that refuses unresolvable domains
                      refuses these forms whether or not it relays: re-check with --domain set to a real external
                      domain you control (never one of the server's own).

                """
            )
        }
    }

    /// `--confirm-with-data`: sends one message through each accepted form, to the user's own test domain.
    private static func confirm(
        _ verdict: Verdict,
        from result: RunResult,
        options: RunOptions,
        resolver: any ServerResolver,
        output: ConsoleOutput
    ) async {
        let location = SourceLocation(file: RelayPack.displayPath, line: 1, column: 1)
        let timeout = ScenarioCompiler.fallbackTimeout
        func step(_ number: Int, _ action: StepAction, _ codes: [CodePattern]) -> Step {
            Step(
                position: .step(number),
                name: nil,
                action: action,
                expectation: codes.isEmpty ? .noReply : .reply(ReplyExpectation(codes: codes)),
                captures: [],
                timeout: timeout,
                location: location
            )
        }
        var scenarios: [Scenario] = []
        for formResult in result.allResults {
            let name = formResult.identity.parameter("form") ?? formResult.identity.name
            guard verdict.accepted.contains(where: { $0.name == name }),
                let mail = formResult.lastStep(sending: "MAIL")?.sent,
                let rcpt = formResult.lastStep(sending: "RCPT")?.sent
            else { continue }
            let body =
                "Subject: smtp-scenario relay-check confirmation\n\nThis message was relayed by \(formResult.server) using the envelope form \(name).\n"
            scenarios.append(
                Scenario(
                    identity: ScenarioIdentity(
                        name: "Relay confirmed with DATA [form=\(name)]",
                        location: location,
                        suite: "Relay confirmation",
                        tags: ["relay"],
                        parameters: [.init(name: "form", value: name)]
                    ),
                    server: nil,
                    greeting: .reply(ReplyExpectation(codes: [.exact(220)])),
                    greetingCaptures: [],
                    connectTimeout: ScenarioCompiler.fallbackConnectTimeout,
                    replyTimeout: timeout,
                    skipReason: nil,
                    steps: [
                        step(1, .send(Template(literal: "EHLO relay-check.invalid")), [.exact(250)]),
                        step(2, .send(Template(literal: mail)), [.anyOfClass(2)]),
                        step(3, .send(Template(literal: rcpt)), [.anyOfClass(2)]),
                        step(4, .send(Template(literal: "DATA")), [.exact(354)]),
                        step(5, .data(Template(literal: body)), [.anyOfClass(2)]),
                    ],
                    tls: TLSOptions(),
                    secretValues: []
                )
            )
        }
        output.out("\nconfirming \(scenarios.count) accepted form(s) with DATA (messages go to the test domain only)\n")
        let plan = Plan(files: [
            ScenarioFile(displayPath: RelayPack.displayPath, suiteName: "Relay confirmation", scenarios: scenarios)
        ])
        let confirmation = await PlanRunner.collect(plan, options: options, resolver: resolver)
        let delivered = confirmation.allResults.filter(\.outcome.isPassed).count
        output.out(
            "\(delivered)/\(scenarios.count) messages accepted for delivery: the relay is confirmed for those forms\n"
        )
    }
}
