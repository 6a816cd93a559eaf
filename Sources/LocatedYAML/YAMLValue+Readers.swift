import Foundation

/// Typed readers that record a located diagnostic, naming what was expected, when a value has the wrong shape.
extension YAMLValue {
    /// A scalar as text. Numbers and booleans are accepted as their source text.
    public func string(_ what: String, into diagnostics: inout Diagnostics) -> String? {
        if let scalar { return scalar }
        diagnostics.error(.wrongType, at: location, "\(what) must be a string, found \(kindDescription)")
        return nil
    }

    /// A non-empty scalar.
    public func nonEmptyString(_ what: String, into diagnostics: inout Diagnostics) -> String? {
        guard let text = string(what, into: &diagnostics) else { return nil }
        if text.isEmpty {
            diagnostics.error(.badValue, at: location, "\(what) must not be empty")
            return nil
        }
        return text
    }

    /// `true`/`false` (also `yes`/`no`, `on`/`off`).
    public func bool(_ what: String, into diagnostics: inout Diagnostics) -> Bool? {
        switch scalar?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            diagnostics.error(.wrongType, at: location, "\(what) must be true or false, found \(kindDescription)")
            return nil
        }
    }

    /// A whole number within `range`.
    public func integer(_ what: String, in range: ClosedRange<Int>, into diagnostics: inout Diagnostics) -> Int? {
        guard let text = scalar, let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            diagnostics.error(.wrongType, at: location, "\(what) must be a whole number, found \(kindDescription)")
            return nil
        }
        guard range.contains(value) else {
            diagnostics.error(
                .badValue,
                at: location,
                "\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(value)"
            )
            return nil
        }
        return value
    }

    /// A duration: `500ms`, `5s`, `2m`, `1h`, `14d` or a bare number of seconds, at most ``DurationSyntax/maximum``.
    public func duration(_ what: String, into diagnostics: inout Diagnostics) -> Duration? {
        switch scalar.map(DurationSyntax.read) {
        case .valid(let duration)?:
            return duration
        case .tooLong?:
            diagnostics.error(
                .limitExceeded,
                at: location,
                "\(what) is longer than the largest duration accepted, \(DurationSyntax.format(DurationSyntax.maximum))",
                hint: "durations go up to \(DurationSyntax.format(DurationSyntax.maximum)) (10 years)"
            )
            return nil
        case .invalid?, nil:
            diagnostics.error(
                .badDuration,
                at: location,
                "\(what) is not a duration: \(kindDescription)",
                hint: "accepted forms: \(DurationSyntax.acceptedForms)"
            )
            return nil
        }
    }

    /// A duration that must be longer than zero: a timeout of 0 would end every wait before it starts.
    public func positiveDuration(_ what: String, into diagnostics: inout Diagnostics) -> Duration? {
        guard let duration = duration(what, into: &diagnostics) else { return nil }
        guard duration > .zero else {
            diagnostics.error(
                .badDuration,
                at: location,
                "\(what) must be longer than 0: a zero \(what) ends every wait at once",
                hint: "for example 30s"
            )
            return nil
        }
        return duration
    }

    /// A size in bytes: a number, or with a unit KB, MB, GB (powers of 1024), up to 2 GiB.
    public func byteSize(_ what: String, into diagnostics: inout Diagnostics) -> Int? {
        guard let text = scalar?.uppercased().replacingOccurrences(of: " ", with: "") else {
            diagnostics.error(.wrongType, at: location, "\(what) must be a size such as 10MB")
            return nil
        }
        let units: [(String, Int)] = [
            ("KB", 1024), ("MB", 1024 * 1024), ("GB", 1024 * 1024 * 1024), ("K", 1024), ("M", 1024 * 1024), ("B", 1),
        ]
        var number = Substring(text)
        var factor = 1
        for (suffix, multiplier) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            factor = multiplier
            break
        }
        guard let amount = Int(number), amount > 0, amount <= Int(Int32.max) / factor else {
            diagnostics.error(
                .badValue,
                at: location,
                "\(what) is not a size: \"\(Abbreviation.text(scalar ?? ""))\"",
                hint: "bytes (1048576) or with a unit: 512KB, 10MB, 1GB"
            )
            return nil
        }
        return amount * factor
    }

    /// The mapping, or an error naming what was expected.
    public func mapping(_ what: String, into diagnostics: inout Diagnostics) -> YAMLMapping? {
        if let mapping { return mapping }
        diagnostics.error(.wrongType, at: location, "\(what) must be a mapping (key: value), found \(kindDescription)")
        return nil
    }

    /// A list, or an error naming what was expected. A null value reads as an empty list.
    public func list(_ what: String, into diagnostics: inout Diagnostics) -> [YAMLValue]? {
        if let sequence { return sequence }
        if isNull { return [] }
        diagnostics.error(.wrongType, at: location, "\(what) must be a list, found \(kindDescription)")
        return nil
    }

    /// A list of strings; a single string is accepted as a list of one.
    public func stringList(_ what: String, into diagnostics: inout Diagnostics) -> [String]? {
        if let scalar { return [scalar] }
        guard let items = list(what, into: &diagnostics) else { return nil }
        var strings: [String] = []
        for item in items {
            guard let text = item.string("each entry of \(what)", into: &diagnostics) else { return nil }
            strings.append(text)
        }
        return strings
    }
}

/// The duration syntax shared by every file format: `500ms`, `5s`, `2m`, `1h`, `14d`, or bare seconds.
public enum DurationSyntax {
    /// The accepted forms, for hints.
    public static let acceptedForms = "500ms, 5s, 2m, 1h, 14d, or a bare number of seconds such as 1.5"

    /// The longest duration any file or option may give: 3650 days. Longer values are refused, so no later
    /// conversion (to nanoseconds, to milliseconds) can overflow.
    public static let maximum: Duration = .seconds(3650 * 86_400)

    /// What reading a duration produced.
    public enum Reading: Sendable, Hashable {
        /// A duration within ``maximum``.
        case valid(Duration)
        /// Not one of the accepted forms (or negative).
        case invalid
        /// Well formed, but longer than ``maximum``.
        case tooLong
    }

    /// Reads a duration, telling a malformed one from one that is too long.
    public static func read(_ text: String) -> Reading {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var number = Substring(trimmed)
        var scale = 1.0
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            scale = factor
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value >= 0
        else { return .invalid }
        let seconds = value * scale
        let maximumSeconds = Double(maximum.components.seconds)
        guard seconds.isFinite, seconds <= maximumSeconds else { return .tooLong }
        return .valid(.milliseconds(Int64((seconds * 1000).rounded())))
    }

    /// Parses a duration; nil when the text is not one of the accepted forms, is negative, or is longer than
    /// ``maximum``.
    public static func parse(_ text: String) -> Duration? {
        if case .valid(let duration) = read(text) { return duration }
        return nil
    }

    /// Formats a duration compactly for reports: `500ms`, `5s`, `2m`, `1.5s`.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 86_400_000 == 0, ms >= 86_400_000 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0, ms >= 3_600_000 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms >= 60_000 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms < 1000 { return "\(ms)ms" }
        return "\(Double(ms) / 1000)s"
    }
}
