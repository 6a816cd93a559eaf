import SMTPWire

/// `smtp-scenario explain 550 5.7.1 Relay access denied`: what a reply code and an enhanced status code mean, in
/// the RFCs' words, and what to check for the common ones. The table is the one failure messages use.
public enum ExplainPipeline {
    /// Explains `input` on `output.out`; 0 when it starts with a code, 2 otherwise.
    public static func run(_ input: String, output: ConsoleOutput) -> Int32 {
        guard let explanation = StatusCodeRegistry.explain(input) else {
            // Quoted with control bytes escaped and at most 80 bytes of it: the text is often pasted from a log.
            let bytes = Array(input.utf8)
            let quoted =
                ByteEscaping.escaped(bytes.prefix(80))
                + (bytes.count > 80 ? "... (\(bytes.count) bytes)" : "")
            output.err(
                "error: \"\(quoted)\" starts with neither a reply code (200-599) nor an enhanced status code (such as 5.7.1)\n"
            )
            return ExitCode.usage
        }
        output.out(render(explanation))
        return ExitCode.success
    }

    /// The explanation as text.
    public static func render(_ explanation: StatusExplanation) -> String {
        var lines: [String] = []
        if let code = explanation.code {
            if let entry = explanation.reply {
                lines.append("\(code)  \(entry.meaning)")
                lines.append("     \(entry.reference): \"\(entry.text)\"")
            } else {
                lines.append("\(code)  no RFC defines this code; its class: \(StatusCodeRegistry.meaning(of: code))")
            }
        }
        if let enhanced = explanation.enhanced {
            if let detail = explanation.detailEntry {
                lines.append("\(enhanced)  \(detail.summary) (\(detail.reference))")
                lines.append("     \(detail.description)")
            } else {
                lines.append("\(enhanced)  not in the IANA registry of enhanced status codes")
            }
            if let entry = explanation.classEntry {
                lines.append("     class \(enhanced.statusClass): \(entry.summary). \(entry.description)")
            }
            if let entry = explanation.subjectEntry {
                lines.append("     subject \(enhanced.subject): \(entry.summary). \(entry.description)")
            }
        }
        if let text = explanation.text { lines.append("the server said: \(text)") }
        if let check = explanation.reply?.check { lines.append("what to check: \(check)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
