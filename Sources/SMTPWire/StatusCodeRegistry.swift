/// A basic reply code's meaning: a short phrase for failure messages, the defining RFC's wording, and what to
/// check when a server answers with it.
public struct ReplyCodeEntry: Sendable, Hashable {
    /// `mailbox unavailable`.
    public let meaning: String
    /// The RFC's wording: `Requested action not taken: mailbox unavailable (...)`.
    public let text: String
    /// `RFC 5321 4.2.3`.
    public let reference: String
    /// What to look at, for the codes people meet most.
    public let check: String?
}

/// An enhanced status code's (or sub-code's) entry in the IANA registry.
public struct EnhancedCodeEntry: Sendable, Hashable {
    /// The registered summary: `Bad destination mailbox address`.
    public let summary: String
    /// What it means.
    public let description: String
    /// `RFC 3463`.
    public let reference: String
}

/// What `explain` says of a reply (or of a code alone).
public struct StatusExplanation: Sendable, Hashable {
    /// The basic code, if one was given, and its entry when the RFCs define it.
    public let code: Int?
    public let reply: ReplyCodeEntry?
    /// The enhanced code, if one was given.
    public let enhanced: EnhancedStatusCode?
    /// The registry's entries for its class, subject and detail (the detail only when registered).
    public let classEntry: EnhancedCodeEntry?
    public let subjectEntry: EnhancedCodeEntry?
    public let detailEntry: EnhancedCodeEntry?
    /// The reply text after the codes, if any.
    public let text: String?
}

/// The meanings of SMTP reply codes and enhanced status codes, from RFC 5321, RFC 4954, RFC 3207, RFC 7504 and the
/// IANA registry of enhanced status codes (`scripts/status-codes/`, generated into `StatusCodeRegistry+Data`).
/// `explain` and the runner's failure messages both read it, so they never disagree.
public enum StatusCodeRegistry {
    /// The entry of a basic code the RFCs define.
    public static func reply(_ code: Int) -> ReplyCodeEntry? { replyCodes[code] }

    /// A short meaning of `code`, or of its class when the code has no entry of its own.
    public static func meaning(of code: Int) -> String {
        if let entry = replyCodes[code] { return entry.meaning }
        switch code / 100 {
        case 2: return "success"
        case 3: return "intermediate, more input expected"
        case 4: return "temporary failure"
        case 5: return "permanent failure"
        default: return "unknown code"
        }
    }

    /// The registry's entries for `code`: class, subject, and detail when registered.
    public static func entries(
        for code: EnhancedStatusCode
    ) -> (class: EnhancedCodeEntry?, subject: EnhancedCodeEntry?, detail: EnhancedCodeEntry?) {
        (
            enhancedCodes["\(code.statusClass).X.X"],
            enhancedCodes["X.\(code.subject).X"],
            enhancedCodes["X.\(code.subject).\(code.detail)"]
        )
    }

    /// A short meaning of an enhanced code: its registered summary, else its subject's, lower-cased.
    public static func meaning(of code: EnhancedStatusCode) -> String {
        let found = entries(for: code)
        return (found.detail ?? found.subject)?.summary.lowercased() ?? "unregistered status"
    }

    /// `mailbox unavailable; bad destination mailbox address`: the meanings of a reply's code and enhanced code,
    /// as failure messages and `record` show them.
    public static func meaning(of code: Int, enhanced: EnhancedStatusCode?) -> String {
        var text = meaning(of: code)
        if let enhanced { text += "; " + meaning(of: enhanced) }
        return text
    }

    /// Explains any leading part of a reply line: `550`, `5.7.1`, `550 5.7.1`, `550-5.7.1 Relay access denied`.
    /// Nil when it starts with neither a reply code nor an enhanced code.
    public static func explain(_ input: String) -> StatusExplanation? {
        var rest = Substring(input).drop { $0 == " " || $0 == "\t" }
        var code: Int?
        let digits = rest.prefix(3)
        if digits.count == 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits),
            (200...599).contains(value),
            rest.count == 3 || [" ", "-"].contains(rest[rest.index(rest.startIndex, offsetBy: 3)])
        {
            code = value
            rest = rest.dropFirst(3).drop { $0 == " " || $0 == "-" }
        }
        var enhanced: EnhancedStatusCode?
        if let parsed = EnhancedStatusCode(prefixOf: String(rest)) {
            enhanced = parsed
            rest = rest.drop { $0 != " " }.drop { $0 == " " }
        }
        guard code != nil || enhanced != nil else { return nil }
        let found = enhanced.map(entries(for:))
        return StatusExplanation(
            code: code,
            reply: code.flatMap(reply),
            enhanced: enhanced,
            classEntry: found?.class,
            subjectEntry: found?.subject,
            detailEntry: found?.detail,
            text: rest.isEmpty ? nil : String(rest)
        )
    }
}
