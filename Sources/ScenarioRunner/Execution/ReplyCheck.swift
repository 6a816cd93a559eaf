import Foundation
import LocatedYAML
import SMTPWire
import ScenarioLanguage
import ScenarioResults

/// Compares replies with expectations and says, in words and as data, what differs.
enum ReplyCheck {
    /// A reply that did not meet its expectation: the failed check and the words for it.
    struct Failure {
        /// `code`, `enhanced`, `text`, `not-text`, `advertises`, `lacks`, `single-line`.
        let check: String
        /// What was wrong, for people.
        let description: String
    }

    /// The expectation as reports show it: `250 (requested action completed)`, `4xx or 5xx, enhanced 5.7.1`.
    static func describe(_ expectation: ReplyExpectation) -> String {
        var text = expectation.description
        if expectation.codes.count == 1, case .exact(let code) = expectation.codes[0] {
            text = text.replacingOccurrences(
                of: "\(code)",
                with: "\(code) (\(StatusCodeRegistry.meaning(of: code)))",
                options: [.anchored]
            )
        }
        return text
    }

    /// A reply as reports show it: its lines joined, then the meanings of its code and enhanced code.
    static func describe(_ reply: Reply) -> String {
        var meaning = "\(reply.code) = \(StatusCodeRegistry.meaning(of: reply.code))"
        if let enhanced = reply.enhancedCode {
            meaning += "; \(enhanced) = \(StatusCodeRegistry.meaning(of: enhanced))"
        }
        return "\(reply.summary) (\(meaning))"
    }

    /// The expectation's checks as data, keyed as the language writes them.
    static func checks(of expectation: ReplyExpectation, lookup: (String) -> String?) -> [String: String] {
        var checks: [String: String] = [:]
        if let enhanced = expectation.enhanced { checks["enhanced"] = enhanced.description }
        if let text = expectation.text { checks["text"] = describeMatch(text, lookup: lookup) }
        if let text = expectation.notText { checks["not-text"] = describeMatch(text, lookup: lookup) }
        if !expectation.advertises.isEmpty {
            checks["advertises"] = expectation.advertises.map { $0.resolve(lookup) }.joined(separator: ", ")
        }
        if !expectation.lacks.isEmpty {
            checks["lacks"] = expectation.lacks.map { $0.resolve(lookup) }.joined(separator: ", ")
        }
        if expectation.singleLine { checks["single-line"] = "true" }
        return checks
    }

    /// Nil when `reply` meets `expectation`; otherwise the failed check and what is wrong.
    static func mismatch(
        of reply: Reply,
        against expectation: ReplyExpectation,
        lookup: (String) -> String?
    ) -> Failure? {
        guard expectation.codes.contains(where: { $0.matches(reply.code) }) else {
            return Failure(check: "code", description: describe(reply))
        }
        if let enhanced = expectation.enhanced {
            guard let actual = reply.enhancedCode else {
                return Failure(
                    check: "enhanced",
                    description: "\(describe(reply)), which has no enhanced status code (expected \(enhanced))"
                )
            }
            guard actual == enhanced else {
                return Failure(
                    check: "enhanced",
                    description: "\(describe(reply)), enhanced status \(actual) instead of \(enhanced)"
                )
            }
        }
        if let match = expectation.text, !textMatches(match, reply.text, lookup: lookup) {
            return Failure(
                check: "text",
                description: "\(describe(reply)), which does not have \(describeMatch(match, lookup: lookup))"
            )
        }
        if let match = expectation.notText, textMatches(match, reply.text, lookup: lookup) {
            return Failure(
                check: "not-text",
                description: "\(describe(reply)), which has \(describeMatch(match, lookup: lookup)) (it must not)"
            )
        }
        if expectation.singleLine, reply.rawLines.count > 1 {
            return Failure(
                check: "single-line",
                description: "\(describe(reply)), a reply of \(reply.rawLines.count) lines (expected a single line)"
            )
        }
        if !expectation.advertises.isEmpty || !expectation.lacks.isEmpty {
            let capabilities = EHLOCapabilities(reply: reply)
            let missing = expectation.advertises.map { $0.resolve(lookup) }.filter { !capabilities.advertises($0) }
            if !missing.isEmpty {
                let listed = capabilities.keywords.isEmpty ? "nothing" : capabilities.keywords.joined(separator: ", ")
                return Failure(
                    check: "advertises",
                    description:
                        "a reply that does not advertise \(missing.joined(separator: ", ")) (it advertises \(listed))"
                )
            }
            let present = expectation.lacks.map { $0.resolve(lookup) }.filter { capabilities.advertises($0) }
            if !present.isEmpty {
                return Failure(
                    check: "lacks",
                    description: "a reply that advertises \(present.joined(separator: ", ")), which it must not"
                )
            }
        }
        return nil
    }

    static func textMatches(_ match: TextMatch, _ text: String, lookup: (String) -> String?) -> Bool {
        switch match {
        case .substring(let template):
            return text.range(of: template.resolve(lookup), options: [.caseInsensitive]) != nil
        case .regex(let regex):
            return regex.matches(text)
        case .dynamicRegex(let pattern, let insensitive):
            let escaped = pattern.resolve { lookup($0).map(NSRegularExpression.escapedPattern(for:)) }
            return (try? PatternRegex.shared(pattern: escaped, caseInsensitive: insensitive))?.matches(text) ?? false
        }
    }

    static func describeMatch(_ match: TextMatch, lookup: (String) -> String?) -> String {
        switch match {
        case .substring(let template): return "text containing \"\(template.resolve(lookup))\""
        case .regex(let regex): return "text matching \(regex)"
        case .dynamicRegex(let pattern, let insensitive):
            return "text matching /\(pattern.resolve(lookup))/" + (insensitive ? "i" : "")
        }
    }
}
