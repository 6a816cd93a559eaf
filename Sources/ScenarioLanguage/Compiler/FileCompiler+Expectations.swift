import Foundation
import LocatedYAML
import SMTPWire
import ScenarioResults

/// Reading `expect`, `greeting` and `capture` values.
extension FileCompiler {
    static let codeForms =
        "250, \"2xx\"/\"3xx\"/\"4xx\"/\"5xx\", a list such as [250, 251], positive, any, closed, nothing, or a mapping with code/enhanced/text/advertises/lacks/single-line"
    static let expectKeys = ["code", "enhanced", "text", "not-text", "advertises", "lacks", "tls", "single-line"]

    /// Compiles an `expect` value. `defaultCodes` applies when a mapping gives no `code`.
    mutating func expectation(
        _ value: YAMLValue,
        defaultCodes: [CodePattern],
        allowsNothing: Bool,
        scope: VariableScope
    ) -> Expectation? {
        // The common case first: `expect: 250`, without lower-casing it or allocating its list.
        if let text = value.scalar, let pattern = CodePattern(text) {
            return .reply(ReplyExpectation(codes: CodePattern.list(pattern)))
        }
        switch value.scalar?.lowercased() {
        case "closed":
            return .closed
        case "positive":
            return .reply(.positive)
        case "any":
            return .reply(.anyReply)
        case "nothing":
            guard allowsNothing else {
                diagnostics.error(.badValue, at: value.location, "`expect: nothing` is not possible here")
                return nil
            }
            return .nothing
        default:
            break
        }
        if let mapping = value.mapping {
            return replyMapping(mapping, defaultCodes: defaultCodes, scope: scope).map(Expectation.reply)
        }
        return codes(value).map { .reply(ReplyExpectation(codes: $0)) }
    }

    /// `250`, `"5xx"`, `positive`, `any`, or a list of those.
    mutating func codes(_ value: YAMLValue) -> [CodePattern]? {
        if let text = value.scalar, let pattern = CodePattern(text) { return CodePattern.list(pattern) }
        switch value.scalar?.lowercased() {
        case "positive": return ReplyExpectation.positive.codes
        case "any": return [.any]
        default: break
        }
        let items = value.sequence ?? [value]
        if items.isEmpty {
            diagnostics.error(.badReply, at: value.location, "an empty list of reply codes", hint: Self.codeForms)
            return nil
        }
        var patterns: [CodePattern] = []
        patterns.reserveCapacity(items.count)
        for item in items {
            guard let text = item.scalar, let pattern = CodePattern(text) else {
                diagnostics.error(
                    .badReply,
                    at: item.location,
                    "not a reply code: \(item.kindDescription)",
                    hint: "a code is three digits 200-599 or a class \"2xx\"-\"5xx\"; expect accepts \(Self.codeForms)"
                )
                return nil
            }
            patterns.append(pattern)
        }
        return patterns
    }

    private mutating func replyMapping(
        _ mapping: YAMLMapping,
        defaultCodes: [CodePattern],
        scope: VariableScope
    ) -> ReplyExpectation? {
        mapping.checkKeys(allowed: Self.expectKeys, context: "expect", into: &diagnostics)
        let before = diagnostics.errorCount
        var expectation = ReplyExpectation(codes: defaultCodes)
        if let code = mapping["code"], let codes = codes(code) { expectation.codes = codes }
        if let enhanced = mapping["enhanced"] {
            if let text = enhanced.string("enhanced", into: &diagnostics) {
                if let code = EnhancedStatusCode(text) {
                    expectation.enhanced = code
                } else {
                    diagnostics.error(
                        .badEnhancedStatus,
                        at: enhanced.location,
                        "not an enhanced status code: \"\(text)\"",
                        hint:
                            "RFC 3463 form class.subject.detail, class 2, 4 or 5, e.g. 5.7.1 (quote it if YAML reads a number)"
                    )
                }
            }
        }
        if let text = mapping["text"] { expectation.text = textMatch(text, scope: scope) }
        if let text = mapping["not-text"] { expectation.notText = textMatch(text, scope: scope) }
        if let advertises = mapping["advertises"] {
            expectation.advertises = templateList(advertises, "advertises", scope: scope)
        }
        if let lacks = mapping["lacks"] { expectation.lacks = templateList(lacks, "lacks", scope: scope) }
        if let tls = mapping["tls"] { expectation.tls = tlsExpectation(tls, scope: scope) }
        if let singleLine = mapping["single-line"] {
            expectation.singleLine = singleLine.bool("single-line", into: &diagnostics) ?? false
        }
        return diagnostics.errorCount == before ? expectation : nil
    }

    /// A list of strings (or one string), each with `${...}` references.
    mutating func templateList(_ value: YAMLValue, _ what: String, scope: VariableScope) -> [Template] {
        let items = value.scalar != nil ? [value] : (value.list(what, into: &diagnostics) ?? [])
        return items.compactMap { item in
            guard let text = item.string("each entry of \(what)", into: &diagnostics) else { return nil }
            return scope.template(item, text: text, into: &diagnostics)
        }
    }

    /// A `text` or `issuer` matcher: `/regex/flags` or a case-insensitive substring. The slashes may come from a
    /// variable (`not-text: ${version_pattern}`).
    mutating func textMatch(_ value: YAMLValue, scope: VariableScope) -> TextMatch? {
        guard let raw = value.string("text", into: &diagnostics),
            let template = scope.template(value, text: raw, into: &diagnostics)
        else { return nil }
        if let staticText = template.staticText {
            guard staticText.hasPrefix("/") else { return .substring(template) }
            guard let (pattern, flags) = PatternRegex.split(staticText) else {
                diagnostics.error(
                    .badRegex,
                    at: value.location,
                    "a regular expression must be written /pattern/ or /pattern/i",
                    hint: "for a substring that starts with '/', use a regex such as /\\/path/"
                )
                return nil
            }
            return compileRegex(pattern, insensitive: !flags.isEmpty, at: value.location).map(TextMatch.regex)
        }
        guard raw.hasPrefix("/"), let (_, flags) = PatternRegex.split(raw) else { return .substring(template) }
        // Run-time variables inside a regex: strip the slashes from the literal ends, check with placeholders now.
        var parts = template.parts
        if case .literal(let first)? = parts.first { parts[0] = .literal(String(first.dropFirst())) }
        if case .literal(let last)? = parts.last {
            parts[parts.count - 1] = .literal(String(last.dropLast(flags.count + 1)))
        }
        let pattern = Template(parts: parts)
        let insensitive = !flags.isEmpty
        guard compileRegex(pattern.resolve { _ in "x" }, insensitive: insensitive, at: value.location) != nil else {
            return nil
        }
        return .dynamicRegex(pattern: pattern, caseInsensitive: insensitive)
    }

    mutating func compileRegex(_ pattern: String, insensitive: Bool, at location: SourceLocation) -> PatternRegex? {
        do {
            return try PatternRegex.shared(pattern: pattern, caseInsensitive: insensitive)
        } catch {
            diagnostics.error(
                .badRegex,
                at: location,
                "invalid regular expression /\(pattern)/",
                hint: "patterns use ICU syntax (NSRegularExpression); escape ( ) [ ] . * + ? with a backslash"
            )
            return nil
        }
    }

    /// `capture: {NAME: '/regex with (group)/'}`.
    mutating func captures(_ value: YAMLValue, scope: inout VariableScope) -> [Capture] {
        guard let mapping = value.mapping("capture", into: &diagnostics) else { return [] }
        var captures: [Capture] = []
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
            guard let text = entry.value.string("capture pattern", into: &diagnostics) else { continue }
            guard let (pattern, flags) = PatternRegex.split(text) else {
                diagnostics.error(
                    .badRegex,
                    at: entry.value.location,
                    "a capture must be a regular expression written '/pattern (group)/'",
                    hint: "for example queue_id: '/queued as ([A-Z0-9]+)/'"
                )
                continue
            }
            guard let regex = compileRegex(pattern, insensitive: !flags.isEmpty, at: entry.value.location) else {
                continue
            }
            guard regex.groupCount >= 1 else {
                diagnostics.error(
                    .badRegex,
                    at: entry.value.location,
                    "capture pattern /\(pattern)/ has no group",
                    hint: "wrap the part to capture in parentheses, e.g. /queued as ([A-Z0-9]+)/"
                )
                continue
            }
            let key = scope.capture(entry.key)
            captures.append(Capture(name: entry.key, key: key, regex: regex, location: entry.keyLocation))
        }
        return captures
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || $0 == "-" || $0.properties.isAlphabetic || ("0"..."9").contains($0)
        }
    }

    private mutating func tlsExpectation(_ value: YAMLValue, scope: VariableScope) -> TLSExpectation? {
        guard let mapping = value.mapping("tls", into: &diagnostics) else { return nil }
        mapping.checkKeys(allowed: ["handshake", "version", "certificate"], context: "expect.tls", into: &diagnostics)
        var expectation = TLSExpectation()
        if let handshake = mapping["handshake"], let text = handshake.string("handshake", into: &diagnostics) {
            switch text {
            case "failed": expectation.handshakeMustFail = true
            case "succeeded": expectation.handshakeMustFail = false
            default:
                diagnostics.error(
                    .badValue,
                    at: handshake.location,
                    "handshake must be succeeded or failed, found \"\(text)\""
                )
            }
        }
        if let version = mapping["version"], let text = version.string("version", into: &diagnostics) {
            let atLeast = text.hasPrefix(">=")
            let number = atLeast ? String(text.dropFirst(2)).trimmingCharacters(in: .whitespaces) : text
            if let parsed = TLSVersion(rawValue: number) {
                expectation.version = atLeast ? .atLeast(parsed) : .exactly(parsed)
            } else {
                diagnostics.error(
                    .badValue,
                    at: version.location,
                    "not a TLS version requirement: \"\(text)\"",
                    hint:
                        "\"1.2\", \"1.3\" or \">=1.2\" (quote it: YAML reads 1.2 as a number, which is fine, but >= needs quotes)"
                )
            }
        }
        if let certificate = mapping["certificate"], let cert = certificate.mapping("certificate", into: &diagnostics) {
            cert.checkKeys(
                allowed: ["names", "valid-for-at-least", "issuer"],
                context: "expect.tls.certificate",
                into: &diagnostics
            )
            if let names = cert["names"] {
                expectation.certificateNames = templateList(names, "names", scope: scope)
            }
            if let validity = cert["valid-for-at-least"] {
                expectation.validForAtLeast = validity.duration("valid-for-at-least", into: &diagnostics)
            }
            if let issuer = cert["issuer"] { expectation.issuer = textMatch(issuer, scope: scope) }
        }
        return expectation
    }
}
