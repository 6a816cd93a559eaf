import Foundation
import LocatedYAML
import SMTPWire

/// Settings a suite passes down to its scenarios.
struct SuiteDefaults {
    var server: ServerTarget?
    var timeout: Duration?
    var connectTimeout: Duration?
    var tls = TLSOptions()
    var secretNames: [String] = []
    var scope: VariableScope
}

/// Compiles one file, collecting diagnostics instead of stopping at the first problem.
struct FileCompiler {
    static let scenarioKeys = [
        "name", "description", "tags", "server", "greeting", "timeout", "connect-timeout", "vars", "secrets", "tls",
        "skip", "steps", "matrix",
    ]
    static let suiteKeys = [
        "suite", "description", "server", "vars", "secrets", "tls", "timeout", "connect-timeout", "scenarios",
    ]
    static let tlsKeys = [
        "verify", "ca", "pin-sha256", "server-name", "min-version", "max-version", "client-certificate", "client-key",
    ]

    let displayPath: String
    let directory: String
    let options: CompileOptions
    var diagnostics = Diagnostics()
    /// Every secret value met while compiling (`secrets:` variables, `--secret`, auth passwords and tokens), so
    /// diagnostics that quote them can be masked like every other output.
    var secretValues: Set<String>

    init(displayPath: String, directory: String, options: CompileOptions) {
        self.displayPath = displayPath
        self.directory = directory
        self.options = options
        self.secretValues = Set(options.secrets.values)
    }

    private var fileStart: SourceLocation { SourceLocation(file: displayPath, line: 1, column: 1) }

    mutating func compileRoot(_ root: YAMLValue?) -> ScenarioFile? {
        guard let root else {
            diagnostics.error(
                .emptyDocument,
                at: fileStart,
                "the file is empty",
                hint: "a scenario needs `name:` and `steps:`; a suite needs `scenarios:`"
            )
            return nil
        }
        guard let mapping = root.mapping("the top level of a scenario file", into: &diagnostics) else { return nil }
        var commandLine = options.variables
        for (name, value) in options.secrets { commandLine[name] = value }
        let scope = VariableScope(commandLine: commandLine, environment: options.environment)
        var defaults = SuiteDefaults(scope: scope)
        defaults.secretNames = Array(options.secrets.keys)

        if mapping["scenarios"] != nil || mapping["suite"] != nil {
            mapping.checkKeys(allowed: Self.suiteKeys, context: "a suite", into: &diagnostics)
            return compileSuite(mapping, defaults: defaults)
        }
        guard mapping["name"] != nil || mapping["steps"] != nil else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "this is neither a scenario nor a suite",
                hint: "a scenario has `name:` and `steps:`; a suite has `scenarios:` (a list of scenarios)"
            )
            return nil
        }
        let scenarios = compileScenarioEntry(mapping, defaults: defaults)
        return ScenarioFile(displayPath: displayPath, suiteName: nil, scenarios: scenarios)
    }

    private mutating func compileSuite(_ mapping: YAMLMapping, defaults base: SuiteDefaults) -> ScenarioFile? {
        var defaults = base
        let suiteName = mapping["suite"].flatMap { $0.nonEmptyString("suite", into: &diagnostics) }
        readShared(mapping, into: &defaults)
        guard let scenariosValue = mapping["scenarios"] else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "a suite needs `scenarios:`",
                hint: "list the scenarios under `scenarios:`, each with `name:` and `steps:`"
            )
            return nil
        }
        guard let items = scenariosValue.list("scenarios", into: &diagnostics) else { return nil }
        if items.isEmpty {
            diagnostics.error(.noScenarios, at: scenariosValue.location, "the suite has no scenarios")
        }
        var scenarios: [Scenario] = []
        var seen: [String: SourceLocation] = [:]
        for item in items {
            guard let scenarioMapping = item.mapping("each entry of scenarios", into: &diagnostics) else { continue }
            for scenario in compileScenarioEntry(scenarioMapping, defaults: defaults) {
                if let first = seen[scenario.name] {
                    diagnostics.error(
                        .duplicateName,
                        at: scenario.location,
                        "another scenario in this file is already named \"\(scenario.name)\" (at \(first.fileAndLine))",
                        hint: "scenario names must be unique in a file: reports identify scenarios by name"
                    )
                }
                seen[scenario.name] = scenario.location
                scenarios.append(scenario)
            }
        }
        return ScenarioFile(displayPath: displayPath, suiteName: suiteName, scenarios: scenarios)
    }

    /// Reads the keys suites and scenarios share: server, timeouts, vars, secrets, tls.
    private mutating func readShared(_ mapping: YAMLMapping, into defaults: inout SuiteDefaults) {
        if let vars = mapping["vars"] { defineVariables(vars, in: &defaults.scope) }
        if let server = mapping["server"] {
            defaults.server = serverTarget(server, scope: defaults.scope) ?? defaults.server
        }
        if let timeout = mapping["timeout"] { defaults.timeout = timeout.duration("timeout", into: &diagnostics) }
        if let connect = mapping["connect-timeout"] {
            defaults.connectTimeout = connect.duration("connect-timeout", into: &diagnostics)
        }
        if let secrets = mapping["secrets"], let names = secrets.stringList("secrets", into: &diagnostics) {
            for name in names where defaults.scope.staticValues[name] == nil {
                diagnostics.error(
                    .undefinedVariable,
                    at: secrets.location,
                    "secret '\(name)' is not a variable defined in vars or on the command line",
                    hint:
                        "secrets lists variable names whose values are masked, e.g. vars: {password: ${env.SMTP_PASSWORD}}"
                )
            }
            defaults.secretNames += names
            for name in names {
                if let value = defaults.scope.staticValues[name] { secretValues.insert(value.resolve { _ in "" }) }
            }
        }
        if let tls = mapping["tls"] { defaults.tls = tlsOptions(tls, base: defaults.tls, scope: defaults.scope) }
    }

    private mutating func defineVariables(_ value: YAMLValue, in scope: inout VariableScope) {
        guard let mapping = value.mapping("vars", into: &diagnostics) else { return }
        for entry in mapping.entries {
            guard Self.isVariableName(entry.key) else {
                diagnostics.error(
                    .badValue,
                    at: entry.keyLocation,
                    "'\(entry.key)' is not a valid variable name",
                    hint: "use letters, digits, '_' and '-', starting with a letter or '_'"
                )
                continue
            }
            guard let text = entry.value.string("variable '\(entry.key)'", into: &diagnostics),
                let template = scope.template(
                    entry.value,
                    text: text,
                    limit: ExpansionLimits.maxVariableBytes,
                    into: &diagnostics
                )
            else {
                scope.markFailed(entry.key)
                continue
            }
            scope.define(entry.key, value: template)
        }
    }

    mutating func serverTarget(_ value: YAMLValue, scope: VariableScope) -> ServerTarget? {
        guard let raw = value.string("server", into: &diagnostics),
            let text = scope.staticString(value, text: raw, what: "server", into: &diagnostics)
        else { return nil }
        guard let target = ServerTarget.parse(text, relativeTo: directory) else {
            diagnostics.error(
                .badServer,
                at: value.location,
                "not a server address: \"\(text)\"",
                hint: "accepted forms: \(ServerTarget.acceptedForms)"
            )
            return nil
        }
        return target
    }

    /// A scenario mapping, expanded by its `matrix` when it has one.
    private mutating func compileScenarioEntry(_ mapping: YAMLMapping, defaults: SuiteDefaults) -> [Scenario] {
        mapping.checkKeys(allowed: Self.scenarioKeys, context: "a scenario", into: &diagnostics)
        guard let matrix = mapping["matrix"] else {
            return compileScenario(mapping, defaults: defaults, matrix: nil).map { [$0] } ?? []
        }
        guard let combinations = matrixCombinations(matrix) else { return [] }
        var scenarios: [Scenario] = []
        let before = diagnostics
        var collected = Diagnostics()
        for combination in combinations {
            diagnostics = Diagnostics()
            if let scenario = compileScenario(mapping, defaults: defaults, matrix: combination) {
                scenarios.append(scenario)
            }
            // Each combination compiles the same source: report each located problem once.
            for diagnostic in diagnostics.all where !collected.all.contains(diagnostic) {
                collected.append(diagnostic)
            }
        }
        diagnostics = before
        diagnostics.append(contentsOf: collected)
        return scenarios
    }

    private mutating func compileScenario(
        _ mapping: YAMLMapping,
        defaults suite: SuiteDefaults,
        matrix: MatrixCombination?
    ) -> Scenario? {
        let errorsBefore = diagnostics.errors.count
        guard let nameValue = mapping["name"] else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "a scenario needs a `name:`",
                hint: "name it after what it checks, e.g. name: Unknown user is refused"
            )
            return nil
        }
        guard var name = nameValue.nonEmptyString("name", into: &diagnostics) else { return nil }
        var defaults = suite
        if let matrix {
            name += " [\(matrix.label)]"
            // Matrix values may name the greeting's captures (the server's name, say), known only while running.
            var valueScope = defaults.scope
            for capture in Self.greetingCaptureNames(mapping) { valueScope.capture(capture) }
            for (variable, raw) in matrix.values {
                guard let text = raw.string("matrix value", into: &diagnostics),
                    let template = valueScope.template(
                        raw,
                        text: text,
                        limit: ExpansionLimits.maxVariableBytes,
                        into: &diagnostics
                    )
                else { continue }
                defaults.scope.define(variable, value: template)
            }
        }
        readShared(mapping, into: &defaults)
        let description = mapping["description"].flatMap { $0.string("description", into: &diagnostics) }
        let tags = mapping["tags"].flatMap { $0.stringList("tags", into: &diagnostics) } ?? []
        var skipReason: String?
        if let skip = mapping["skip"] {
            if let flag = skip.scalar?.lowercased(), ["true", "yes"].contains(flag) {
                skipReason = "skipped"
            } else if let flag = skip.scalar?.lowercased(), ["false", "no"].contains(flag) {
                skipReason = nil
            } else {
                skipReason = skip.nonEmptyString("skip (a reason)", into: &diagnostics)
            }
        }
        let replyTimeout = defaults.timeout ?? options.defaultTimeout ?? ScenarioCompiler.fallbackTimeout
        var scope = defaults.scope

        // The greeting: any expect form, or {expect: ..., capture: {...}}.
        var greeting = Expectation.reply(ReplyExpectation(codes: [.exact(220)]))
        var greetingCaptures: [Capture] = []
        if let value = mapping["greeting"] {
            if let greetingMapping = value.mapping,
                greetingMapping["expect"] != nil || greetingMapping["capture"] != nil
            {
                greetingMapping.checkKeys(allowed: ["expect", "capture"], context: "greeting", into: &diagnostics)
                if let expect = greetingMapping["expect"] {
                    greeting =
                        expectation(expect, defaultCodes: [.exact(220)], allowsNothing: false, scope: scope) ?? greeting
                }
                if let capture = greetingMapping["capture"] { greetingCaptures = captures(capture) }
            } else {
                greeting =
                    expectation(value, defaultCodes: [.exact(220)], allowsNothing: false, scope: scope) ?? greeting
            }
        }
        for capture in greetingCaptures { scope.capture(capture.name) }

        var steps: [Step] = []
        if let stepsValue = mapping["steps"] {
            if let items = stepsValue.list("steps", into: &diagnostics) {
                var context = StepContext(replyTimeout: replyTimeout, greeting: greeting)
                steps = compileSteps(items, scope: &scope, context: &context, numberPrefix: "")
            }
        } else {
            diagnostics.error(
                .missingKey,
                at: nameValue.location,
                "scenario \"\(name)\" has no `steps:`",
                hint: "write `steps: []` for a scenario that only checks the greeting"
            )
        }
        var secretValues: [String] = []
        for secretName in defaults.secretNames {
            if let value = defaults.scope.staticValues[secretName] {
                secretValues.append(value.resolve { _ in "" })
            }
        }
        secretValues += Self.authSecrets(in: steps)
        guard diagnostics.errors.count == errorsBefore else { return nil }
        return Scenario(
            name: name,
            description: description,
            tags: tags,
            location: nameValue.location,
            server: defaults.server,
            greeting: greeting,
            greetingCaptures: greetingCaptures,
            connectTimeout: defaults.connectTimeout ?? ScenarioCompiler.fallbackConnectTimeout,
            replyTimeout: replyTimeout,
            skipReason: skipReason,
            steps: steps,
            tls: defaults.tls,
            secretValues: Array(Set(secretValues.filter { !$0.isEmpty })).sorted()
        )
    }

    /// The names a scenario's `greeting: {capture: ...}` defines, read before the greeting is compiled.
    private static func greetingCaptureNames(_ mapping: YAMLMapping) -> [String] {
        mapping["greeting"]?.mapping?["capture"]?.mapping?.keys ?? []
    }

    /// Static passwords and tokens of `auth` steps, which are always masked.
    private static func authSecrets(in steps: [Step]) -> [String] {
        steps.flatMap { step -> [String] in
            switch step.action {
            case .auth(let auth): return auth.secret.staticText.map { [$0] } ?? []
            case .pipeline(let inner): return authSecrets(in: inner)
            default: return []
            }
        }
    }

    /// `tls:` options, merged over `base` key by key.
    private mutating func tlsOptions(_ value: YAMLValue, base: TLSOptions, scope: VariableScope) -> TLSOptions {
        guard let mapping = value.mapping("tls", into: &diagnostics) else { return base }
        mapping.checkKeys(allowed: Self.tlsKeys, context: "tls", into: &diagnostics)
        var options = base
        /// A string option; one that resolves to "" (an unset `${env.X:-}`) counts as not given.
        func text(_ key: String) -> (String, YAMLValue)? {
            guard let value = mapping[key], let raw = value.string(key, into: &diagnostics),
                let resolved = scope.staticString(value, text: raw, what: key, into: &diagnostics),
                !resolved.isEmpty
            else { return nil }
            return (resolved, value)
        }
        if let verify = mapping["verify"] {
            options.verify = verify.bool("verify", into: &diagnostics) ?? options.verify
        }
        if let (path, _) = text("ca") { options.caFile = absolutePath(path) }
        if let (path, _) = text("client-certificate") { options.clientCertificate = absolutePath(path) }
        if let (path, _) = text("client-key") { options.clientKey = absolutePath(path) }
        if let (name, _) = text("server-name") { options.serverName = name }
        if let (pin, pinValue) = text("pin-sha256") {
            if let bytes = Self.fingerprint(pin) {
                options.pinSHA256 = bytes
            } else {
                diagnostics.error(
                    .badValue,
                    at: pinValue.location,
                    "pin-sha256 is not a SHA-256 fingerprint",
                    hint:
                        "64 hex digits (colons allowed), as `openssl x509 -noout -fingerprint -sha256` prints, or base64"
                )
            }
        }
        for key in ["min-version", "max-version"] {
            guard let (version, versionValue) = text(key) else { continue }
            guard let parsed = TLSVersion(rawValue: version) else {
                diagnostics.error(
                    .badValue,
                    at: versionValue.location,
                    "\(key) must be 1.0, 1.1, 1.2 or 1.3, found \"\(version)\""
                )
                continue
            }
            if key == "min-version" { options.minVersion = parsed } else { options.maxVersion = parsed }
        }
        if let low = options.minVersion, let high = options.maxVersion, low > high,
            let entry = mapping.entry("max-version") ?? mapping.entry("min-version")
        {
            diagnostics.error(
                .conflictingKeys,
                at: entry.keyLocation,
                "min-version \(low.rawValue) is above max-version \(high.rawValue): no TLS version is left",
                hint: "swap them, or drop one"
            )
        }
        if (options.clientCertificate == nil) != (options.clientKey == nil) {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "client-certificate and client-key go together",
                hint: "give both PEM files, or neither"
            )
        }
        return options
    }

    private func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardized.path
    }

    /// 32 bytes from hex (with or without colons) or base64.
    static func fingerprint(_ text: String) -> [UInt8]? {
        var cleaned = text.replacingOccurrences(of: ":", with: "").lowercased()
        if cleaned.hasPrefix("sha256//") { cleaned.removeFirst(8) }
        if cleaned.utf8.count == 64, let bytes = HexBytes.decode(cleaned), bytes.count == 32 { return bytes }
        var base64 = text
        if base64.hasPrefix("sha256//") { base64.removeFirst(8) }
        if let data = Data(base64Encoded: base64), data.count == 32 { return Array(data) }
        return nil
    }
}
