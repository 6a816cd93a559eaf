import Foundation
import LocatedYAML
import SMTPWire
import ScenarioResults

/// Bounds on what `${...}` expansion may produce (README "Limits").
enum ExpansionLimits {
    /// A variable's value (`vars`, matrix values) after expansion.
    static let maxVariableBytes = 1 << 20
    /// Any one string of a step (`send`, `data`, ...) after expansion.
    static let maxTextBytes = 16 << 20
    /// Everything one file compiles to, summed.
    static let maxFileBytes = 256 << 20

    /// `1 MiB (1048576 bytes)`.
    static func describe(_ bytes: Int) -> String { "\(bytes >> 20) MiB (\(bytes) bytes)" }
}

/// Bytes expanded so far in one file; shared by every copy of its scopes.
final class ExpansionBudget {
    var used = 0
    var reported = false
}

/// The variables visible at one point of a scenario, and the `${...}` parser that uses them.
///
/// Later sources win: suite `vars`, scenario `vars`, `--var`/`--secret`, then captures of earlier steps. A run-time
/// variable is visible under its name but stored under a key: inside a group call the key carries the call's
/// prefix, so a group's own captures never overwrite the caller's variables (only `export` crosses over).
struct VariableScope {
    /// Names the runner provides once connected.
    static let builtinRuntimeNames: Set<String> = ["server.host", "server.port", "server.ip"]

    /// Values defined by files, the command line and matrices; a value may itself hold run-time references
    /// (`"[${server.ip}]"`), which are spliced into every template that uses it.
    private(set) var staticValues: [String: Template]
    /// Variables whose value comes while running (built-ins, captures of earlier steps, repeat indexes), by the
    /// name used in templates, with the key the runner stores them under.
    private(set) var runtimeKeys: [String: String] = Dictionary(
        uniqueKeysWithValues: VariableScope.builtinRuntimeNames.map { ($0, $0) }
    )
    /// Run-time keys standing for a group's required parameters while the group is checked without a call
    /// (a library compiled on its own): fine in any template, never a reason to refuse a static-only field.
    private(set) var placeholderKeys: Set<String> = []
    /// Prefix of the run-time keys of captures made in this scope ("" for a scenario, `call3/` in a group).
    var capturePrefix = ""
    /// In a group body: the caller's keys for the names the group exports, which its captures write to.
    var exportKeys: [String: String] = [:]
    /// Variables whose definition had an error (already reported): uses of them fail without a second message.
    private(set) var failedNames: Set<String> = []
    /// Captures made later in the scenario, to explain a use before its capture.
    var laterCaptures: [String: String] = [:]
    /// Names given on the command line, which file `vars` cannot override.
    let commandLineNames: Set<String>
    let environment: [String: String]
    /// What every copy of this scope has expanded so far in the file, against ``ExpansionLimits/maxFileBytes``.
    let budget: ExpansionBudget

    init(commandLine: [String: String], environment: [String: String], budget: ExpansionBudget = ExpansionBudget()) {
        self.staticValues = commandLine.mapValues { Template(literal: $0) }
        self.commandLineNames = Set(commandLine.keys)
        self.environment = environment
        self.budget = budget
    }

    /// A scope for a group's body: the command line, the environment and `fileValues` (the group's own file's
    /// `vars`); nothing of the caller's.
    func groupScope(fileValues: [String: Template], prefix: String) -> VariableScope {
        var scope = VariableScope(
            commandLine: [:],
            environment: environment,
            budget: budget
        )
        scope.staticValues = fileValues
        scope.capturePrefix = prefix
        return scope
    }

    /// Defines a file variable unless the command line already set it (the command line wins).
    mutating func define(_ name: String, value: Template) {
        guard !commandLineNames.contains(name) else { return }
        staticValues[name] = value
    }

    /// Binds a group parameter: the argument given at the call site (templates of the caller's keys).
    mutating func bind(_ name: String, value: Template) {
        runtimeKeys[name] = nil
        staticValues[name] = value
    }

    /// Binds a required parameter to a placeholder, to check a group without a call.
    mutating func bindPlaceholder(_ name: String) {
        let key = "\u{0}param/" + name
        placeholderKeys.insert(key)
        runtimeKeys[name] = key
        staticValues[name] = nil
    }

    /// Whether `name` is visible now, static or run-time.
    func isVisible(_ name: String) -> Bool { staticValues[name] != nil || runtimeKeys[name] != nil }

    /// The run-time key of visible variable `name`, if it is a run-time variable.
    func runtimeKey(_ name: String) -> String? { runtimeKeys[name] }

    /// Makes `name` a run-time variable stored under `key`; from now on uses of it are resolved while running.
    mutating func makeRuntime(_ name: String, key: String) {
        runtimeKeys[name] = key
        staticValues[name] = nil
        laterCaptures[name] = nil
    }

    /// Makes a run-time variable invisible again (a repeat's index after its body).
    mutating func forget(_ name: String) { runtimeKeys[name] = nil }

    /// Records that a step captures `name`: stored under this scope's prefix, visible from now on.
    @discardableResult
    mutating func capture(_ name: String) -> String {
        let key = exportKeys[name] ?? runtimeKeys[name] ?? capturePrefix + name
        makeRuntime(name, key: key)
        return key
    }

    /// Records that `name`'s definition failed, so its uses are not reported again as undefined.
    mutating func markFailed(_ name: String) { failedNames.insert(name) }

    /// The value of a static variable when it holds no run-time reference.
    func staticValue(_ name: String) -> String? { staticValues[name]?.staticText }

    /// Every name known now, for suggestions.
    var knownNames: [String] { Array(staticValues.keys) + Array(runtimeKeys.keys) }

    /// Parses `${NAME}` references in `text`, substituting what is known now.
    ///
    /// `$${` is a literal `${`. `${env.NAME}` reads the environment, `${env.NAME:-default}` with a default.
    /// Unknown names are located errors, and so is a result longer than `limit` bytes: the size is checked while
    /// the text is built, so a chain of variables that doubles at each step never grows past the limit.
    func template(
        _ value: YAMLValue,
        text: String,
        limit: Int = ExpansionLimits.maxTextBytes,
        into diagnostics: inout Diagnostics
    ) -> Template? {
        // Most text holds no reference at all: one literal, no scanning by scalar.
        if !text.containsUTF8Byte(where: { $0 == UInt8(ascii: "$") }) {
            let size = text.utf8.count
            if size > limit {
                reportTooLong(value, at: 0, limit: limit, into: &diagnostics)
                return nil
            }
            return account(size, at: value, into: &diagnostics) ? Template(parts: [.literal(text)]) : nil
        }
        // Byte-wise: `$`, `{` and `}` are ASCII, so they never fall inside a multi-byte character, and the text
        // between references is copied in runs (a matrix of 10,000 instances builds 10,000 such templates).
        var parts: [Template.Part] = []
        var literal = ""
        var size = 0
        var failed = false
        let bytes = Array(text.utf8)
        var index = 0
        var runStart = 0
        // Columns count characters, not bytes: the offset of byte `index`, for error locations only. Counted
        // forward from the last error, since errors come left to right: a text of many bad references stays linear.
        var counted = (byte: 0, scalars: 0)
        var referenceErrors = 0
        func scalarOffset(_ index: Int) -> Int {
            if index < counted.byte { counted = (0, 0) }
            while counted.byte < index {
                if bytes[counted.byte] & 0xC0 != 0x80 { counted.scalars += 1 }
                counted.byte += 1
            }
            return counted.scalars
        }
        func tooLong(at byte: Int) -> Template? {
            reportTooLong(value, at: scalarOffset(byte), limit: limit, into: &diagnostics)
            return nil
        }
        func endRun(at end: Int) {
            guard runStart < end else { return }
            literal += String(decoding: bytes[runStart..<end], as: UTF8.self)
            size += end - runStart
        }
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "$") else {
                index += 1
                continue
            }
            if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "$"), bytes[index + 2] == UInt8(ascii: "{") {
                endRun(at: index)
                literal += "${"
                size += 2
                index += 3
                runStart = index
                continue
            }
            guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") else {
                index += 1
                continue
            }
            endRun(at: index)
            let start = index
            guard let close = bytes[(index + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                diagnostics.error(
                    .badValue,
                    at: Self.location(of: scalarOffset(start), in: value),
                    "unterminated `${` in \"\(Abbreviation.text(text))\"",
                    hint: "close the reference with `}`, or write `$${` for a literal `${`"
                )
                return nil
            }
            let reference = String(decoding: bytes[(index + 2)..<close], as: UTF8.self)
            index = close + 1
            runStart = index
            switch resolve(reference) {
            case .value(let text):
                size += text.utf8.count
                if size > limit { return tooLong(at: start) }
                literal += text
            case .runtime(let name):
                parts.append(.literal(literal))
                literal = ""
                parts.append(.variable(name))
            case .template(let template):
                size += template.literalByteCount
                if size > limit { return tooLong(at: start) }
                parts.append(.literal(literal))
                literal = ""
                parts.append(contentsOf: template.parts)
            case .failure(let message, let hint):
                diagnostics.error(
                    .undefinedVariable,
                    at: Self.location(of: scalarOffset(start), in: value),
                    message,
                    hint: hint
                )
                failed = true
                // A text of thousands of bad references would list them all, each located by a look at the text.
                referenceErrors += 1
                if referenceErrors == Self.maxReferenceErrorsPerText { return nil }
            case .alreadyReported:
                failed = true
            }
        }
        endRun(at: bytes.count)
        if size > limit { return tooLong(at: 0) }
        guard !failed, account(size, at: value, into: &diagnostics) else { return nil }
        parts.append(.literal(literal))
        return Template(parts: parts)
    }

    private func reportTooLong(_ value: YAMLValue, at offset: Int, limit: Int, into diagnostics: inout Diagnostics) {
        diagnostics.error(
            .limitExceeded,
            at: Self.location(of: offset, in: value),
            "this value expands to more than \(ExpansionLimits.describe(limit))",
            hint: limit == ExpansionLimits.maxVariableBytes
                ? "a variable's value may be at most \(ExpansionLimits.describe(limit)) once its references are expanded"
                : "a step's text may be at most \(ExpansionLimits.describe(limit)) once its variables are expanded"
        )
    }

    /// Counts `size` bytes against the file's budget; false (reported once) when the file passes it.
    private func account(_ size: Int, at value: YAMLValue, into diagnostics: inout Diagnostics) -> Bool {
        budget.used += size
        guard budget.used > ExpansionLimits.maxFileBytes else { return true }
        if !budget.reported {
            budget.reported = true
            diagnostics.error(
                .limitExceeded,
                at: value.location,
                "the file's text expands to more than \(ExpansionLimits.describe(ExpansionLimits.maxFileBytes)) in all",
                hint: "variables, matrices and repeats multiply text; split the file or use fewer copies"
            )
        }
        return false
    }

    /// Substitutes static values only; for places that must be fully known at compile time (TLS file paths).
    func staticString(_ value: YAMLValue, text: String, what: String, into diagnostics: inout Diagnostics) -> String? {
        guard let template = template(value, text: text, into: &diagnostics) else { return nil }
        if let resolved = template.staticText { return resolved }
        // A group checked without a call: its required parameters are unknown, which is no error here.
        if template.variableNames.allSatisfy(placeholderKeys.contains) { return nil }
        let names = template.variableNames.filter { !placeholderKeys.contains($0) }.map { key in
            runtimeKeys.first { $0.value == key }?.key ?? key
        }
        diagnostics.error(
            .badValue,
            at: value.location,
            "\(what) cannot use run-time variables (\(names.map { "${\($0)}" }.joined(separator: ", ")))",
            hint: "use vars, --var or ${env.NAME} here"
        )
        return nil
    }

    private enum Resolution {
        case value(String)
        case runtime(String)
        case template(Template)
        case failure(String, hint: String?)
        case alreadyReported
    }

    /// Undefined references reported in one text before the rest of it is left unread.
    static let maxReferenceErrorsPerText = 20

    private func resolve(_ reference: String) -> Resolution {
        let name = String(reference.trimmingWhitespace())
        if name.hasPrefix("env.") {
            var variable = String(name.dropFirst(4))
            var fallback: String?
            if let range = variable.range(of: ":-") {
                fallback = String(variable[range.upperBound...])
                variable = String(variable[..<range.lowerBound])
            }
            guard !variable.isEmpty else {
                return .failure("empty environment variable name in ${\(reference)}", hint: nil)
            }
            if let value = environment[variable] { return .value(value) }
            if let fallback { return .value(fallback) }
            return .failure(
                "environment variable \(variable) is not set (used as ${\(reference)})",
                hint: "set it, or give a default: ${env.\(variable):-default}"
            )
        }
        guard !name.isEmpty else { return .failure("empty variable reference ${}", hint: "write ${NAME}") }
        if let key = runtimeKeys[name] { return .runtime(key) }
        if failedNames.contains(name) { return .alreadyReported }
        // A value without run-time references (a matrix value, most `vars`) is text: spliced into the literal
        // being built rather than added as pieces to merge.
        if let value = staticValues[name] { return value.staticText.map { .value($0) } ?? .template(value) }
        if let step = laterCaptures[name] {
            return .failure(
                "variable '\(name)' is used before it is captured (it is captured by \(step))",
                hint: "move this use after the step that captures it"
            )
        }
        let hint = Suggestion.closest(to: name, among: knownNames).map { "did you mean '${\($0)}'?" }
        return .failure(
            "undefined variable '\(name)'",
            hint: hint ?? "define it under vars:, pass --var \(name)=VALUE, or capture it in an earlier step"
        )
    }

    /// The location of the scalar at `offset` within `value`, exact for single-line plain and quoted scalars.
    static func location(of offset: Int, in value: YAMLValue) -> SourceLocation {
        // Byte checks: a text with many errors is looked at once per error.
        guard let text = value.scalar, !text.utf8.contains(UInt8(ascii: "\n")) else { return value.location }
        switch value.scalarStyle {
        case .plain:
            return SourceLocation(
                file: value.location.file,
                line: value.location.line,
                column: value.location.column + offset
            )
        case .singleQuoted where !text.utf8.contains(UInt8(ascii: "'")),
            .doubleQuoted
        where !text.utf8.contains(UInt8(ascii: "\\")) && !text.utf8.contains(UInt8(ascii: "\"")):
            return SourceLocation(
                file: value.location.file,
                line: value.location.line,
                column: value.location.column + 1 + offset
            )
        default:
            return value.location
        }
    }
}
