import Foundation
import ScenarioResults

/// The console view: one line per scenario as results come in (plan order), the expected-vs-got and transcript of
/// every failure, and a summary line. Scenarios an interruption kept from starting are counted in one line.
public actor ConsoleReport: Reporter {
    /// What to print and how.
    public struct Options: Sendable {
        /// ANSI colours (only on a terminal unless forced).
        public var color = false
        /// Print every transcript, not only those of failures.
        public var verbose = false

        /// No colour, failures only.
        public init() {}
    }

    private let options: Options
    private let write: @Sendable (String) -> Void
    private var currentFile: String?
    /// Scenarios the run was interrupted before, counted rather than printed.
    private var notStarted = 0

    /// Creates a console report writing through `write` (standard output by default).
    public init(options: Options, write: @escaping @Sendable (String) -> Void = ConsoleReport.standardOutput) {
        self.options = options
        self.write = write
    }

    /// Writes to standard output at once (no buffer), so lines appear as scenarios finish.
    public static let standardOutput: @Sendable (String) -> Void = { text in StandardStream.output.write(text) }

    /// Prints one scenario's line (and its failure detail).
    public func scenarioFinished(_ result: ScenarioResult) {
        if result.interruptedBeforeStart {
            notStarted += 1
            return
        }
        let identity = result.identity
        if identity.file != currentFile {
            currentFile = identity.file
            write(paint(Self.oneLine(identity.file), .bold) + "\n")
        }
        var time = DurationText.short(result.duration)
        if let attempts = result.retriedAttempts { time += ", passed after \(attempts) attempts" }
        let name = Self.oneLine(identity.name)
        var showTranscript = options.verbose
        switch result.outcome {
        case .passed:
            write("  \(paint("PASS ", .green)) \(name) \(paint("(\(time))", .dim))\n")
        case .skipped(let reason):
            write("  \(paint("SKIP ", .yellow)) \(name) \(paint("(\(Self.oneLine(reason)))", .dim))\n")
            return
        case .expectedFailure(let reason, let failure):
            write("  \(paint("XFAIL", .yellow)) \(name) \(paint("(\(Self.oneLine(reason)); \(time))", .dim))\n")
            write(Self.indent(Self.sanitized(Self.failureDetail(failure)), by: 8) + "\n")
        case .unexpectedPass(let reason):
            write("  \(paint("XPASS", .red)) \(name) \(paint("(\(time))", .dim))\n")
            write(
                Self.indent(
                    Self.sanitized(
                        "\(identity.location.fileAndLine): passed although marked xfail (\(reason)); "
                            + "remove xfail, or set strict: false"
                    ),
                    by: 8
                ) + "\n"
            )
            showTranscript = true
        case .failed(let failure):
            let label = failure.kind.isError ? "ERROR" : "FAIL "
            write("  \(paint(label, .red)) \(name) \(paint("(\(time))", .dim))\n")
            write(Self.indent(Self.sanitized(Self.failureDetail(failure)), by: 8) + "\n")
            showTranscript = true
        }
        if showTranscript, !result.transcript.entries.isEmpty {
            write(Self.indent("transcript:", by: 8) + "\n")
            write(Self.indent(Self.sanitized(result.transcript.rendered()), by: 10) + "\n")
        }
    }

    /// Prints the summary line: `N passed, N failed, N skipped` (and xfailed/xpassed) and the time.
    public func runFinished(_ summary: RunSummary) {
        if notStarted > 0 {
            let scenarios = notStarted == 1 ? "1 scenario was" : "\(notStarted) scenarios were"
            write(paint("\(scenarios) not started: the run was interrupted", .red) + "\n")
        }
        let failed = summary.count(.failed) + summary.count(.error)
        var line = "\(summary.count(.passed)) passed, \(failed) failed, \(summary.count(.skipped)) skipped"
        if summary.count(.xfailed) > 0 { line += ", \(summary.count(.xfailed)) xfailed" }
        if summary.count(.xpassed) > 0 { line += ", \(summary.count(.xpassed)) xpassed" }
        if summary.count(.error) > 0 { line += " (\(summary.count(.error)) could not run)" }
        line += " in \(DurationText.short(summary.duration))"
        if let shard = summary.shard { line += " (shard \(shard))" }
        if summary.interrupted { line += " - interrupted" }
        let color: Style = summary.exitCode != 0 || summary.interrupted ? .red : .green
        write(paint(line, color) + "\n")
    }

    /// `path:line: step 3 "RCPT TO:<x>": expected ..., got ...` as a small block.
    static func failureDetail(_ failure: StepFailure) -> String {
        var lines = ["\(failure.location.fileAndLine): \(failure.stepDescription)"]
        if let expected = failure.expected {
            lines.append("  expected \(expected)")
            lines.append("  got      \(failure.actual)")
        } else {
            lines.append("  \(failure.actual)")
        }
        if let attempts = failure.attempts { lines.append("  (after \(attempts) attempts)") }
        return lines.joined(separator: "\n")
    }

    private enum Style: String {
        case green = "32"
        case red = "31"
        case yellow = "33"
        case dim = "2"
        case bold = "1"
    }

    private func paint(_ text: String, _ style: Style) -> String {
        options.color ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// ``sanitized(_:)`` for text that must stay on its line (a name, a reason): line breaks escaped as well.
    static func oneLine(_ text: String) -> String { escaped(text, keepingNewlines: false) }

    /// Text from servers and files may hold control characters; a terminal must never receive them raw
    /// (escape sequences could rewrite the screen). Everything below 0x20 but newline and tab becomes `\xNN`;
    /// bidirectional and invisible format characters (U+202E and friends, which reorder or hide what is shown)
    /// become `\u{202e}`.
    static func sanitized(_ text: String) -> String { escaped(text, keepingNewlines: true) }

    /// One pass over the text, none when it is plain printable ASCII (a line per scenario goes through here: no
    /// Foundation bridging, no formatter).
    private static func escaped(_ text: String, keepingNewlines: Bool) -> String {
        func unsafe(_ scalar: Unicode.Scalar) -> Bool { isUnsafe(scalar) || (!keepingNewlines && scalar == "\n") }
        let needsLook = containsByte(text) { byte in
            !((byte >= 0x20 && byte < 0x7F) || byte == 0x09 || (keepingNewlines && byte == 0x0A))
        }
        guard needsLook, text.unicodeScalars.contains(where: unsafe) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if !unsafe(scalar) {
                out.unicodeScalars.append(scalar)
            } else if scalar.value <= 0x9F {
                out += "\\x" + hexByte(UInt8(scalar.value))
            } else {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    /// Whether a byte of `text`'s UTF-8 satisfies `predicate`, scanned over the contiguous bytes (the generic walk of
    /// `utf8` costs tens of instructions a byte; SMTPWire's `containsUTF8Byte` is the same for the modules above it).
    static func containsByte(_ text: String, where predicate: (UInt8) -> Bool) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { $0.contains(where: predicate) }
            ?? text.utf8.contains(where: predicate)
    }

    /// Two lower-case hex digits.
    static func hexByte(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return byte < 0x10 ? "0" + digits : digits
    }

    /// Control characters (but newline and tab), and the bidirectional and invisible format characters behind
    /// "Trojan Source" tricks: U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF.
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: return false
        case 0x00..<0x20, 0x7F, 0x80...0x9F: return true
        case 0x061C, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2069, 0xFEFF: return true
        default: return false
        }
    }

    static func indent(_ text: String, by count: Int) -> String {
        let pad = String(repeating: " ", count: count)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 }.joined(separator: "\n")
    }
}
