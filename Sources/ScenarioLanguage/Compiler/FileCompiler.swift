import Foundation
import LocatedYAML
import SMTPWire
import ScenarioResults

/// Settings a suite passes down to its scenarios.
struct SuiteDefaults {
    var server: ServerRef?
    /// `servers:` names and their addresses.
    var servers: [String: ServerTarget] = [:]
    var timeout: Duration?
    var connectTimeout: Duration?
    var tls = TLSOptions()
    var secretNames: [String] = []
    var scope: VariableScope
}

/// What a file compiled to.
enum CompiledRoot {
    /// A scenario or a suite (nil when it had errors).
    case scenarios(ScenarioFile?)
    /// A library of groups: nothing to run.
    case library
}

/// Compiles one file, collecting diagnostics instead of stopping at the first problem.
struct FileCompiler {
    static let scenarioKeys = [
        "name", "description", "tags", "server", "greeting", "timeout", "connect-timeout", "vars", "secrets", "tls",
        "skip", "steps", "matrix", "xfail", "connect",
    ]
    static let suiteKeys = [
        "suite", "description", "server", "servers", "vars", "secrets", "tls", "timeout", "connect-timeout",
        "scenarios", "import", "groups",
    ]
    static let libraryKeys = ["description", "import", "vars", "secrets", "groups"]
    static let tlsKeys = [
        "verify", "ca", "pin-sha256", "server-name", "min-version", "max-version", "client-certificate", "client-key",
    ]
    static let groupKeys = ["description", "params", "export", "steps"]
    /// The most leaf steps one scenario may run (repeats multiplied).
    static let maxExpandedSteps = 100_000

    /// The file being compiled.
    let unit: SourceUnit
    let options: CompileOptions
    /// Libraries shared by every file of the compilation.
    let loader: LibraryLoader
    var diagnostics = Diagnostics()
    /// Every secret value met while compiling (`secrets:` variables, `--secret`, auth passwords and tokens), so
    /// diagnostics that quote them can be masked like every other output.
    var secretValues: Set<String>
    /// Calls compiled so far, for the unique prefix of each call's private captures.
    var callCounter = 0
    /// Expansion budget of the whole file, shared by every scope.
    let budget = ExpansionBudget()
    /// While a matrix scenario's combinations compile: the steps they share (nil otherwise).
    var matrixStepMemo: MatrixStepMemo?

    init(unit: SourceUnit, options: CompileOptions, loader: LibraryLoader) {
        self.unit = unit
        self.options = options
        self.loader = loader
        self.secretValues = Set(options.secrets.values)
    }

    private var fileStart: SourceLocation { SourceLocation(file: unit.displayPath, line: 1, column: 1) }

    /// What a file starts from: the command line's variables and secrets.
    private var rootDefaults: SuiteDefaults {
        var defaults = SuiteDefaults(scope: commandLineScope)
        defaults.secretNames = Array(options.secrets.keys)
        return defaults
    }

    /// A scope holding only the command line and the environment.
    var commandLineScope: VariableScope {
        var commandLine = options.variables
        for (name, value) in options.secrets { commandLine[name] = value }
        return VariableScope(commandLine: commandLine, environment: options.environment, budget: budget)
    }

    /// Compiles a file's document. `source` is moved out (left nil): the compiler then holds the only copy of the
    /// YAML tree, and frees each scenario's part of it once that scenario is compiled.
    mutating func compileRoot(_ source: inout YAMLValue?) -> CompiledRoot {
        guard source != nil else {
            diagnostics.error(
                .emptyDocument,
                at: fileStart,
                "the file is empty",
                hint: "a scenario needs `name:` and `steps:`; a suite needs `scenarios:`; a library needs `groups:`"
            )
            return .scenarios(nil)
        }
        guard source?.mapping("the top level of a scenario file", into: &diagnostics) != nil,
            var mapping = source?.takeMapping()
        else { return .scenarios(nil) }
        source = nil
        var defaults = rootDefaults

        if mapping["scenarios"] != nil || mapping["suite"] != nil {
            mapping.checkKeys(allowed: Self.suiteKeys, context: "a suite", into: &diagnostics)
            return .scenarios(compileSuite(&mapping, defaults: defaults))
        }
        if mapping["name"] == nil, mapping["steps"] == nil, mapping["groups"] != nil {
            mapping.checkKeys(allowed: Self.libraryKeys, context: "a library", into: &diagnostics)
            compileLibrary(mapping, defaults: defaults)
            return .library
        }
        guard mapping["name"] != nil || mapping["steps"] != nil else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "this is neither a scenario, a suite nor a library",
                hint:
                    "a scenario has `name:` and `steps:`; a suite has `scenarios:` (a list of scenarios); a library has `groups:`"
            )
            return .scenarios(nil)
        }
        mapping.checkKeys(
            allowed: Self.scenarioKeys + ["import", "groups", "servers"],
            context: "a scenario",
            into: &diagnostics
        )
        readImports(mapping)
        // A single-scenario file's top-level vars are also its file vars, which its own groups see.
        var fileScope = defaults.scope
        if let vars = mapping["vars"] {
            var ignored = Diagnostics()
            swap(&ignored, &diagnostics)
            defineVariables(vars, in: &fileScope)
            swap(&ignored, &diagnostics)
        }
        unit.fileValues = fileScope.staticValues
        readGroups(mapping)
        if let servers = mapping["servers"] { defaults.servers = namedServers(servers, scope: defaults.scope) }
        let scenarios = compileScenarioEntry(
            mapping,
            defaults: defaults,
            suite: ScenarioFile.reportName(forPath: unit.displayPath)
        )
        checkUncalledGroups()
        return .scenarios(
            ScenarioFile(
                displayPath: unit.displayPath,
                suiteName: nil,
                scenarios: scenarios,
                serverNames: Set(defaults.servers.keys)
            )
        )
    }

    /// `mapping` loses its scenarios: each entry is freed once compiled, so that the scenarios' YAML and their plan
    /// are not both whole at the peak (at 10,000 scenarios, about a third of the memory).
    private mutating func compileSuite(_ mapping: inout YAMLMapping, defaults: SuiteDefaults) -> ScenarioFile? {
        var suite = beginSuite(mapping, defaults: defaults)
        guard var scenariosValue = mapping.takeValue("scenarios") else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "a suite needs `scenarios:`",
                hint: "list the scenarios under `scenarios:`, each with `name:` and `steps:`"
            )
            return nil
        }
        guard var items = scenariosValue.takeSequence() ?? scenariosValue.list("scenarios", into: &diagnostics) else {
            return nil
        }
        if items.isEmpty {
            diagnostics.error(.noScenarios, at: scenariosValue.location, "the suite has no scenarios")
        }
        // One scenario per entry unless a matrix expands it: sized once, not doubled (a Scenario is 480 bytes).
        suite.scenarios.reserveCapacity(items.count)
        for index in items.indices {
            let item = items[index]
            items[index] = YAMLValue(kind: .null, location: item.location)
            compileSuiteEntry(item, into: &suite)
        }
        return finishSuite(suite)
    }

    /// A suite being compiled: its settings and the scenarios so far.
    struct SuiteProgress {
        var defaults: SuiteDefaults
        let suiteName: String?
        let reportName: String
        var scenarios: [Scenario] = []
        /// Each scenario name and where it was first defined.
        var seen: [String: SourceLocation] = [:]
    }

    /// Reads a suite's settings (all its keys but `scenarios`), which its scenarios compile with.
    private mutating func beginSuite(_ mapping: YAMLMapping, defaults base: SuiteDefaults) -> SuiteProgress {
        var defaults = base
        let suiteName = mapping["suite"].flatMap { $0.nonEmptyString("suite", into: &diagnostics) }
        readImports(mapping)
        readShared(mapping, into: &defaults)
        unit.fileValues = defaults.scope.staticValues
        readGroups(mapping)
        if let servers = mapping["servers"] { defaults.servers = namedServers(servers, scope: defaults.scope) }
        return SuiteProgress(
            defaults: defaults,
            suiteName: suiteName,
            reportName: suiteName ?? ScenarioFile.reportName(forPath: unit.displayPath)
        )
    }

    /// Compiles one entry of `scenarios:` (several scenarios when it has a matrix).
    private mutating func compileSuiteEntry(_ item: YAMLValue, into suite: inout SuiteProgress) {
        guard let scenarioMapping = item.mapping("each entry of scenarios", into: &diagnostics) else { return }
        scenarioMapping.checkKeys(allowed: Self.scenarioKeys, context: "a scenario", into: &diagnostics)
        for scenario in compileScenarioEntry(scenarioMapping, defaults: suite.defaults, suite: suite.reportName) {
            if let first = suite.seen[scenario.name] {
                diagnostics.error(
                    .duplicateName,
                    at: scenario.location,
                    "another scenario in this file is already named \"\(scenario.name)\" (at \(first.fileAndLine))",
                    hint: "scenario names must be unique in a file: reports identify scenarios by name"
                )
            }
            suite.seen[scenario.name] = scenario.location
            suite.scenarios.append(scenario)
        }
    }

    private mutating func finishSuite(_ suite: SuiteProgress) -> ScenarioFile {
        checkUncalledGroups()
        return ScenarioFile(
            displayPath: unit.displayPath,
            suiteName: suite.suiteName,
            scenarios: suite.scenarios,
            serverNames: Set(suite.defaults.servers.keys)
        )
    }

    /// What compiling a streamed document came to.
    enum StreamedRoot {
        /// A suite, compiled while its YAML was read.
        case compiled(CompiledRoot)
        /// Not a suite with a `scenarios:` list: the whole document, to compile as usual.
        case whole(YAMLValue?)
        /// A top-level key follows `scenarios:`, and its settings may apply to the scenarios compiled already: the
        /// file must be compiled again from the start (suites are written with `scenarios:` last, nearly always).
        case keyAfterScenarios
        /// Not valid YAML; what was compiled before the error is dropped, as when the whole file is read first.
        case failed(Diagnostic)
    }

    /// Compiles a suite while its YAML is composed on another thread (``YAMLDocument/stream(_:file:limits:list:)``):
    /// its settings first, then each entry of `scenarios:` as it arrives. The diagnostics are those of compiling
    /// the whole tree: a suite's settings come before its scenarios, and the keys are checked once all are read.
    mutating func compileStreamed(_ stream: YAMLPieceStream) -> StreamedRoot {
        var entries: [YAMLMapping.Entry] = []
        var suite: SuiteProgress?
        var rootLocation = fileStart
        var listLocation = fileStart
        var items = 0
        var listEnded = false
        while true {
            switch stream.next() {
            case .entry(let entry):
                if listEnded { return .keyAfterScenarios }
                entries.append(entry)
            case .listStart(let entry, let list, let root):
                entries.append(entry)
                rootLocation = root
                listLocation = list
                suite = beginSuite(YAMLMapping(entries: entries, location: root), defaults: rootDefaults)
            case .item(let item):
                items += 1
                compileSuiteEntry(item, into: &suite!)
            case .listEnd:
                listEnded = true
                if items == 0 { diagnostics.error(.noScenarios, at: listLocation, "the suite has no scenarios") }
            case .end(let root):
                guard let suite else { return .whole(root) }
                YAMLMapping(entries: entries, location: rootLocation)
                    .checkKeys(allowed: Self.suiteKeys, context: "a suite", into: &diagnostics)
                return .compiled(.scenarios(finishSuite(suite)))
            case .failed(let diagnostic):
                return .failed(diagnostic)
            }
        }
    }

    /// A library (`groups:` and no scenarios): its imports, vars and groups, each group checked on its own.
    private mutating func compileLibrary(_ mapping: YAMLMapping, defaults base: SuiteDefaults) {
        var defaults = base
        readImports(mapping)
        readShared(mapping, into: &defaults)
        unit.fileValues = defaults.scope.staticValues
        unit.secretValues = secretValues
        readGroups(mapping)
    }

    /// Reads the keys suites and scenarios share: server, timeouts, vars, secrets, tls.
    private mutating func readShared(_ mapping: YAMLMapping, into defaults: inout SuiteDefaults) {
        if let vars = mapping["vars"] { defineVariables(vars, in: &defaults.scope) }
        if let server = mapping["server"] {
            defaults.server = serverRef(server, scope: defaults.scope, servers: defaults.servers) ?? defaults.server
        }
        if let timeout = mapping["timeout"] {
            defaults.timeout = timeout.positiveDuration("timeout", into: &diagnostics)
        }
        if let connect = mapping["connect-timeout"] {
            defaults.connectTimeout = connect.positiveDuration("connect-timeout", into: &diagnostics)
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

    mutating func defineVariables(_ value: YAMLValue, in scope: inout VariableScope) {
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

    // MARK: - Servers

    /// A `server:` value: a `servers:` name, or an address.
    mutating func serverRef(_ value: YAMLValue, scope: VariableScope, servers: [String: ServerTarget]) -> ServerRef? {
        guard let raw = value.string("server", into: &diagnostics),
            let text = scope.staticString(value, text: raw, what: "server", into: &diagnostics)
        else { return nil }
        if let named = servers[text] { return ServerRef(name: text, target: named) }
        return serverTarget(text, at: value.location).map { ServerRef(target: $0) }
    }

    private mutating func serverTarget(_ text: String, at location: SourceLocation) -> ServerTarget? {
        guard let target = ServerTarget.parse(text, relativeTo: unit.directory) else {
            diagnostics.error(
                .badServer,
                at: location,
                "not a server address: \"\(text)\"",
                hint: ServerTarget.problem(with: text, alsoAccepted: "a name under servers:")
            )
            return nil
        }
        return target
    }

    /// `servers: {mx: 127.0.0.1:25, submission: 127.0.0.1:587}`.
    private mutating func namedServers(_ value: YAMLValue, scope: VariableScope) -> [String: ServerTarget] {
        guard let mapping = value.mapping("servers", into: &diagnostics) else { return [:] }
        var servers: [String: ServerTarget] = [:]
        for entry in mapping.entries {
            guard Self.isGroupName(entry.key) else {
                diagnostics.error(
                    .badValue,
                    at: entry.keyLocation,
                    "'\(entry.key)' is not a valid server name",
                    hint: "use letters, digits, '-' and '_'"
                )
                continue
            }
            guard let raw = entry.value.string("server '\(entry.key)'", into: &diagnostics),
                let text = scope.staticString(entry.value, text: raw, what: "server", into: &diagnostics),
                let target = serverTarget(text, at: entry.value.location)
            else { continue }
            servers[entry.key] = target
        }
        return servers
    }

    // MARK: - Imports and groups

    /// `import: {alias: path}`: each library loaded (once per compilation), cycles and non-libraries refused.
    private mutating func readImports(_ mapping: YAMLMapping) {
        guard let value = mapping["import"], let imports = value.mapping("import", into: &diagnostics) else { return }
        for entry in imports.entries {
            guard Self.isGroupName(entry.key) else {
                diagnostics.error(
                    .badImport,
                    at: entry.keyLocation,
                    "'\(entry.key)' is not a valid import alias",
                    hint: "use letters, digits, '-' and '_'"
                )
                continue
            }
            guard let path = entry.value.nonEmptyString("import path", into: &diagnostics) else { continue }
            if path.contains("${") {
                diagnostics.error(
                    .badImport,
                    at: entry.value.location,
                    "an import path cannot use variables",
                    hint: "imports are resolved before any variable; write the path relative to this file"
                )
                continue
            }
            let absolute = PathText.absolute(path, in: unit.directory)
            let display = ScenarioCompiler.displayPath(for: absolute, workingDirectory: options.workingDirectory)
            if let cycle = loader.cycle(to: absolute, display: display) {
                diagnostics.error(
                    .importCycle,
                    at: entry.keyLocation,
                    "import cycle: \(cycle)",
                    hint: "libraries may import each other only one way"
                )
                continue
            }
            let loaded = loader.library(identity: absolute, display: display) {
                ScenarioCompiler.loadLibrary(path: absolute, display: display, options: options, loader: loader)
            }
            let note = "imported from \(entry.keyLocation)"
            for diagnostic in loaded.diagnostics { diagnostics.append(diagnostic.adding(notes: [note])) }
            guard let library = loaded.unit else {
                if loaded.diagnostics.isEmpty {
                    diagnostics.error(
                        .badImport,
                        at: entry.keyLocation,
                        "\(display) is not a library: it has scenarios",
                        hint: "only a file with `groups:` and no `name`, `steps` or `scenarios` can be imported"
                    )
                }
                continue
            }
            secretValues.formUnion(library.secretValues)
            unit.imports[entry.key] = library
        }
    }

    /// `groups: {NAME: {params, export, steps}}`.
    private mutating func readGroups(_ mapping: YAMLMapping) {
        guard let value = mapping["groups"], let groups = value.mapping("groups", into: &diagnostics) else { return }
        for entry in groups.entries {
            guard Self.isGroupName(entry.key) else {
                diagnostics.error(
                    .badValue,
                    at: entry.keyLocation,
                    "'\(entry.key)' is not a valid group name",
                    hint: "use letters, digits, '-' and '_' (a call is NAME, or ALIAS.NAME for an imported group)"
                )
                continue
            }
            guard let body = entry.value.mapping("group '\(entry.key)'", into: &diagnostics) else { continue }
            body.checkKeys(allowed: Self.groupKeys, context: "group '\(entry.key)'", into: &diagnostics)
            var parameters: [GroupDefinition.Parameter] = []
            if let params = body["params"], let list = params.mapping("params", into: &diagnostics) {
                for param in list.entries {
                    guard Self.isVariableName(param.key) else {
                        diagnostics.error(
                            .badValue,
                            at: param.keyLocation,
                            "'\(param.key)' is not a valid parameter name",
                            hint: "use letters, digits, '_' and '-', starting with a letter or '_'"
                        )
                        continue
                    }
                    if !param.value.isNull, param.value.scalar == nil {
                        diagnostics.error(
                            .wrongType,
                            at: param.value.location,
                            "a parameter's default must be a string, found \(param.value.kindDescription)",
                            hint: "null (or nothing) makes the parameter required"
                        )
                        continue
                    }
                    parameters.append(
                        .init(
                            name: param.key,
                            defaultValue: param.value.isNull ? nil : param.value,
                            location: param.keyLocation
                        )
                    )
                }
            }
            var exports: [(String, SourceLocation)] = []
            if let export = body["export"], let items = export.list("export", into: &diagnostics) {
                for item in items {
                    guard let name = item.string("each entry of export", into: &diagnostics) else { continue }
                    guard Self.isVariableName(name) else {
                        diagnostics.error(.badValue, at: item.location, "'\(name)' is not a valid variable name")
                        continue
                    }
                    exports.append((name, item.location))
                }
            }
            guard let stepsValue = body["steps"] else {
                diagnostics.error(
                    .missingKey,
                    at: entry.keyLocation,
                    "group '\(entry.key)' has no `steps:`",
                    hint: "a group is a list of steps that calls run"
                )
                continue
            }
            guard let steps = stepsValue.list("steps", into: &diagnostics) else { continue }
            unit.groups[entry.key] = GroupDefinition(
                name: entry.key,
                location: entry.keyLocation,
                parameters: parameters,
                exports: exports,
                steps: steps,
                stepsLocation: stepsValue.location
            )
            unit.groupOrder.append(entry.key)
        }
    }

    /// Checks every group of this file that no scenario called, with its required parameters unknown, so a
    /// library's problems are found even before anything calls it.
    mutating func checkUncalledGroups() {
        for name in unit.groupOrder where !unit.calledGroups.contains(name) {
            guard let group = unit.groups[name] else { continue }
            var scope = commandLineScope.groupScope(fileValues: unit.fileValues, prefix: "check/\(name)/")
            for parameter in group.parameters {
                if let value = parameter.defaultValue, let text = value.scalar,
                    let template = scope.template(value, text: text, into: &diagnostics)
                {
                    scope.bind(parameter.name, value: template)
                } else {
                    scope.bindPlaceholder(parameter.name)
                }
            }
            for export in group.exports { scope.exportKeys[export.name] = "check/\(name)/" + export.name }
            var context = StepContext(
                replyTimeout: ScenarioCompiler.fallbackTimeout,
                greeting: .reply(ReplyExpectation(codes: [.exact(220)])),
                connected: true,
                unit: unit,
                servers: [:]
            )
            context.callStack = [CallFrame(key: unit.identity + "#" + name, display: name, site: group.location)]
            context.pathText = "group \(name) > "
            _ = compileSteps(group.steps, scope: &scope, context: &context)
            checkExports(group, captured: scope)
        }
    }

    /// Every exported name must be captured by the group's steps.
    mutating func checkExports(_ group: GroupDefinition, captured scope: VariableScope) {
        for export in group.exports where scope.runtimeKey(export.name) == nil {
            diagnostics.error(
                .badValue,
                at: export.location,
                "group '\(group.name)' exports '\(export.name)', which none of its steps captures",
                hint: "capture it in a step (capture: {\(export.name): '/(...)/'}) or remove it from export"
            )
        }
    }

    // MARK: - Scenarios

    /// A scenario mapping, expanded by its `matrix` when it has one.
    private mutating func compileScenarioEntry(
        _ mapping: YAMLMapping,
        defaults: SuiteDefaults,
        suite: String
    ) -> [Scenario] {
        guard let matrix = mapping["matrix"] else {
            return compileScenario(mapping, defaults: defaults, suite: suite, matrix: nil).map { [$0] } ?? []
        }
        guard let combinations = matrixCombinations(matrix) else { return [] }
        var scenarios: [Scenario] = []
        let before = diagnostics.count
        matrixStepMemo = MatrixStepMemo()
        defer { matrixStepMemo = nil }
        for combination in combinations {
            if let scenario = compileScenario(mapping, defaults: defaults, suite: suite, matrix: combination) {
                scenarios.append(scenario)
            }
        }
        // Each combination compiles the same source: report each located problem once.
        diagnostics.removeDuplicates(from: before)
        return scenarios
    }

    private mutating func compileScenario(
        _ mapping: YAMLMapping,
        defaults suite: SuiteDefaults,
        suite reportName: String,
        matrix: MatrixCombination?
    ) -> Scenario? {
        let errorsBefore = diagnostics.errorCount
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
        var parameters: [ScenarioIdentity.Parameter] = []
        if let matrix {
            name += " [\(matrix.label)]"
            parameters = matrix.shown
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
        var connectsAtStart = true
        if let connect = mapping["connect"] {
            connectsAtStart = connect.bool("connect", into: &diagnostics) ?? true
        }
        let replyTimeout = defaults.timeout ?? options.defaultTimeout ?? ScenarioCompiler.fallbackTimeout
        var scope = defaults.scope
        let expectedFailure = mapping["xfail"].flatMap { xfail($0, scope: scope) }

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
                if let capture = greetingMapping["capture"] { greetingCaptures = captures(capture, scope: &scope) }
            } else {
                greeting =
                    expectation(value, defaultCodes: [.exact(220)], allowsNothing: false, scope: scope) ?? greeting
            }
        }

        var steps: [Step] = []
        if let stepsValue = mapping["steps"] {
            if let items = stepsValue.list("steps", into: &diagnostics) {
                var context = StepContext(
                    replyTimeout: replyTimeout,
                    greeting: greeting,
                    connected: connectsAtStart,
                    unit: unit,
                    servers: defaults.servers
                )
                context.scenarioServer = defaults.server
                steps = compileSteps(items, scope: &scope, context: &context)
                checkConnections(steps, connected: connectsAtStart)
                let expanded = steps.reduce(0) { $0 + $1.expandedCount }
                if expanded > Self.maxExpandedSteps {
                    diagnostics.error(
                        .limitExceeded,
                        at: stepsValue.location,
                        "scenario \"\(name)\" runs more than \(Self.maxExpandedSteps) steps once its repeats are expanded",
                        hint: "lower the repeat counts, or split the scenario"
                    )
                }
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
        secretValues += self.secretValues.filter { !$0.isEmpty }
        guard diagnostics.errorCount == errorsBefore else { return nil }
        return Scenario(
            identity: ScenarioIdentity(
                name: name,
                location: nameValue.location,
                suite: reportName,
                tags: tags,
                description: description,
                parameters: parameters
            ),
            server: defaults.server,
            connectsAtStart: connectsAtStart,
            greeting: greeting,
            greetingCaptures: greetingCaptures,
            connectTimeout: defaults.connectTimeout ?? ScenarioCompiler.fallbackConnectTimeout,
            replyTimeout: replyTimeout,
            skipReason: skipReason,
            expectedFailure: expectedFailure,
            steps: steps,
            tls: defaults.tls,
            secretValues: Array(Set(secretValues.filter { !$0.isEmpty })).sorted()
        )
    }

    /// `xfail: REASON` or `xfail: {reason, match, strict}`.
    private mutating func xfail(_ value: YAMLValue, scope: VariableScope) -> ExpectedFailure? {
        if let reason = value.scalar {
            guard !reason.isEmpty else {
                diagnostics.error(.badValue, at: value.location, "xfail needs a reason")
                return nil
            }
            return ExpectedFailure(reason: reason, match: nil, strict: true)
        }
        guard let mapping = value.mapping("xfail", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["reason", "match", "strict"], context: "xfail", into: &diagnostics)
        guard let reasonValue = mapping["reason"] else {
            diagnostics.error(
                .missingKey,
                at: mapping.location,
                "xfail needs a `reason:`",
                hint: "say why it is expected to fail, e.g. reason: \"known bug 123\""
            )
            return nil
        }
        guard let reason = reasonValue.nonEmptyString("reason", into: &diagnostics) else { return nil }
        let match = mapping["match"].flatMap { textMatch($0, scope: scope) }
        let strict = mapping["strict"].flatMap { $0.bool("strict", into: &diagnostics) } ?? true
        return ExpectedFailure(reason: reason, match: match, strict: strict)
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
            case .pipeline(let pipeline): return authSecrets(in: pipeline.steps)
            case .call(let call): return authSecrets(in: call.steps)
            case .repeatSteps(let loop): return authSecrets(in: loop.steps)
            case .retry(let retry): return authSecrets(in: retry.steps)
            default: return []
            }
        }
    }

    /// Group names and import aliases: letters, digits, `-` and `_`.
    static func isGroupName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy {
                $0 == "_" || $0 == "-" || ("a"..."z").contains($0) || ("A"..."Z").contains($0)
                    || ("0"..."9").contains($0)
            }
    }

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
        PathText.anchored(path, in: unit.directory)
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
