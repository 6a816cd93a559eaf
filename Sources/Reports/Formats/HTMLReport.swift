import Foundation
import ScenarioResults

/// One self-contained HTML page (`--html FILE`): summary, filters by outcome and tag, each scenario with its
/// failure and transcript (`C:` and `S:` coloured, notes greyed), `file:line` links. No network access and no
/// external files: the style and the filter script are inline.
public struct HTMLReport: Sendable {
    /// Options of the page.
    public struct Options: Sendable {
        /// `smtp-scenario`'s version, in the footer.
        public var toolVersion = "unknown"
        /// Transcripts longer than this are cut, with a note.
        public var maxTranscriptBytes = 256 * 1024

        /// The defaults.
        public init() {}
    }

    let options: Options

    /// Creates a writer.
    public init(options: Options = Options()) { self.options = options }

    /// The page of a collected run.
    public func render(_ run: RunResult) -> String {
        let document = HTMLDocument(options: options)
        for result in run.allResults { document.add(result) }
        return document.rendered(summary: run.summary)
    }
}

/// Streams the page; written atomically when the run finishes.
public actor HTMLReporter: Reporter {
    private let path: String
    private let document: HTMLDocument
    private let onError: ReportErrorSink

    /// A reporter writing `path`.
    public init(path: String, options: HTMLReport.Options, onError: @escaping ReportErrorSink) {
        self.path = path
        self.document = HTMLDocument(options: options)
        self.onError = onError
    }

    public func scenarioFinished(_ result: ScenarioResult) async { document.add(result) }

    public func runFinished(_ summary: RunSummary) async {
        if let problem = AtomicFile(path: path).write({ document.write(summary: summary, to: $0) }) {
            onError("error: HTML report: \(problem)\n")
        }
    }

    public func compilationFailed(_ failures: [CompileFailure], at date: Date) async {
        document.compileFailures = failures
        if let problem = AtomicFile(path: path).write({ document.write(summary: RunSummary(startedAt: date), to: $0) })
        {
            onError("error: HTML report: \(problem)\n")
        }
    }
}

/// The page being built: scenario sections spill to a buffer; the head (with counts and tags) comes at the end.
final class HTMLDocument {
    let options: HTMLReport.Options
    private let sections = SpillBuffer()
    private var tags = Set<String>()
    private var currentFile: String?
    var compileFailures: [CompileFailure] = []

    init(options: HTMLReport.Options) { self.options = options }

    private static func text(_ value: String) -> String { XMLEscaping.text(value) }
    private static func attribute(_ value: String) -> String { XMLEscaping.attribute(value) }

    func add(_ result: ScenarioResult) {
        let identity = result.identity
        tags.formUnion(identity.tags)
        var html = ""
        if identity.file != currentFile {
            currentFile = identity.file
            html += "<h2 class=\"file\">\(Self.text(identity.suite)) <small>\(Self.text(identity.file))</small></h2>\n"
        }
        let category = result.outcome.category
        let open = result.outcome.isFailing ? " open" : ""
        let tagList = identity.tags.joined(separator: " ")
        html += "<details class=\"scenario \(category.rawValue)\" data-outcome=\"\(category.rawValue)\""
        html += " data-tags=\"\(Self.attribute(tagList))\"\(open)>\n<summary>"
        html += "<span class=\"badge \(category.rawValue)\">\(Self.label(category))</span> "
        html += "<span class=\"name\">\(Self.text(identity.name))</span> "
        html +=
            "<a class=\"where\" href=\"\(Self.attribute(identity.file))\">\(Self.text(identity.location.fileAndLine))</a> "
        var timing = DurationText.short(result.duration)
        if let attempts = result.retriedAttempts { timing += ", passed after \(attempts) attempts" }
        html += "<span class=\"time\">\(Self.text(timing))</span>"
        for tag in identity.tags { html += " <span class=\"tag\">\(Self.text(tag))</span>" }
        html += "</summary>\n"
        switch result.outcome {
        case .passed:
            break
        case .skipped(let reason):
            html += "<p class=\"reason\">skipped: \(Self.text(reason))</p>\n"
        case .expectedFailure(let reason, let failure):
            html += "<p class=\"reason\">expected to fail: \(Self.text(reason))</p>\n" + Self.failure(failure)
        case .unexpectedPass(let reason):
            html += "<p class=\"failure\">XPASS: passed although expected to fail (\(Self.text(reason)))</p>\n"
        case .failed(let failure):
            html += Self.failure(failure)
        }
        if !result.transcript.entries.isEmpty {
            html += "<pre class=\"transcript\">"
            var size = 0
            for entry in result.transcript.entries {
                size += entry.text.utf8.count
                guard size <= options.maxTranscriptBytes else {
                    html += "<span class=\"n\"># transcript cut at \(options.maxTranscriptBytes / 1024) KiB</span>\n"
                    break
                }
                let kind = entry.direction == .client ? "c" : entry.direction == .server ? "s" : "n"
                let marker = entry.direction == .note ? "#" : entry.direction.rawValue + ":"
                html +=
                    "<span class=\"\(kind)\">[\(entry.elapsedMilliseconds) ms] \(marker) \(Self.text(entry.text))</span>\n"
            }
            if result.transcript.droppedLines > 0 {
                html += "<span class=\"n\"># \(result.transcript.droppedLines) more lines not kept</span>\n"
            }
            html += "</pre>\n"
        }
        html += "</details>\n"
        sections.append(html)
    }

    private static func failure(_ failure: StepFailure) -> String {
        var html =
            "<div class=\"failure\"><div>\(text(failure.location.fileAndLine)): \(text(failure.stepDescription))</div>"
        if let expected = failure.expected {
            html += "<div>expected \(text(expected))</div><div>got \(text(failure.actual))</div>"
        } else {
            html += "<div>\(text(failure.actual))</div>"
        }
        if let attempts = failure.attempts { html += "<div>after \(attempts) attempts</div>" }
        return html + "</div>\n"
    }

    private static func label(_ category: ScenarioOutcome.Category) -> String {
        switch category {
        case .passed: return "PASS"
        case .failed: return "FAIL"
        case .error: return "ERROR"
        case .skipped: return "SKIP"
        case .xfailed: return "XFAIL"
        case .xpassed: return "XPASS"
        }
    }

    func write(summary: RunSummary, to sink: (Data) -> Void) {
        var head = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>smtp-scenario report</title>
            <style>\(Self.style)</style></head>
            <body data-ready="0">
            <header><h1>smtp-scenario report</h1>
            <p class="meta">started \(Self.text(JSONValue.timestamp(summary.startedAt).text.replacingOccurrences(of: "\"", with: ""))), \(DurationText.short(summary.duration))
            """
        if let shard = summary.shard { head += ", shard \(Self.text(shard))" }
        if summary.interrupted { head += ", <strong>interrupted</strong>" }
        head += "</p>\n<p class=\"counts\">"
        for category in ScenarioOutcome.Category.allCases {
            head += "<span class=\"badge \(category.rawValue)\">\(Self.label(category))</span> "
            head += "<span id=\"count-\(category.rawValue)\" data-count=\"\(summary.count(category))\">"
            head += "\(summary.count(category))</span> "
        }
        head += "</p>\n<form id=\"filters\">show: "
        for (value, text) in [("failed", "failed"), ("passed", "passed"), ("skipped", "skipped")] {
            head += "<label><input type=\"checkbox\" name=\"outcome\" value=\"\(value)\" checked> \(text)</label> "
        }
        head += "| <label>tag <select id=\"tag\"><option value=\"\">any</option>"
        for tag in tags.sorted() { head += "<option>\(Self.text(tag))</option>" }
        head += "</select></label> <span id=\"shown\"></span></form></header>\n<main>\n"
        for failure in compileFailures {
            head += "<details class=\"scenario error\" data-outcome=\"error\" data-tags=\"\" open><summary>"
            head += "<span class=\"badge error\">ERROR</span> did not compile: "
            head +=
                "<a class=\"where\" href=\"\(Self.attribute(failure.file))\">\(Self.text(failure.file)):\(failure.line)</a>"
            head += "</summary><pre class=\"transcript\">\(Self.text(failure.text))</pre></details>\n"
        }
        sink(Data(head.utf8))
        sections.copy(to: sink)
        let tail = """
            </main>
            <footer>smtp-scenario \(Self.text(options.toolVersion))</footer>
            <script>\(Self.script)</script>
            </body></html>

            """
        sink(Data(tail.utf8))
    }

    func rendered(summary: RunSummary) -> String {
        var data = Data()
        write(summary: summary) { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }

    private static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
        header{position:sticky;top:0;background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:8px 16px}
        h1{font-size:18px;margin:0 0 4px}h2.file{font-size:15px;margin:16px 0 4px}h2 small{color:#57606a;font-weight:normal}
        main{padding:0 16px 24px}.meta,.counts{margin:2px 0}
        .scenario{border:1px solid #d0d7de;border-radius:6px;margin:4px 0;padding:4px 8px}
        .scenario summary{cursor:pointer}.name{font-weight:600}.where,.time{color:#57606a;margin-left:6px}
        .tag{background:#ddf4ff;border-radius:8px;padding:0 6px;font-size:12px}
        .badge{display:inline-block;min-width:44px;text-align:center;border-radius:4px;color:#fff;font-size:12px;font-weight:600}
        .badge.passed{background:#1a7f37}.badge.failed,.badge.error,.badge.xpassed{background:#cf222e}
        .badge.skipped{background:#9a6700}.badge.xfailed{background:#8250df}
        .failure{color:#cf222e;margin:4px 0;font-family:ui-monospace,monospace;white-space:pre-wrap}
        .reason{color:#57606a;margin:4px 0}
        pre.transcript{background:#f6f8fa;padding:6px;overflow:auto;font-size:12px;margin:4px 0}
        pre .c{color:#0550ae}pre .s{color:#116329}pre .n{color:#8c959f}
        .hidden{display:none}footer{color:#8c959f;font-size:12px;padding:8px 16px}
        """

    private static let script = """
        (function () {
          'use strict';
          var groups = {failed: ['failed', 'error', 'xpassed'], passed: ['passed', 'xfailed'], skipped: ['skipped']};
          function apply() {
            var wanted = [];
            document.querySelectorAll('input[name=outcome]').forEach(function (box) {
              if (box.checked) { wanted = wanted.concat(groups[box.value]); }
            });
            var tag = document.getElementById('tag').value;
            var shown = 0;
            document.querySelectorAll('.scenario').forEach(function (item) {
              var tags = (item.getAttribute('data-tags') || '').split(' ');
              var visible = wanted.indexOf(item.getAttribute('data-outcome')) >= 0 && (!tag || tags.indexOf(tag) >= 0);
              item.classList.toggle('hidden', !visible);
              if (visible) { shown += 1; }
            });
            document.getElementById('shown').textContent = shown + ' shown';
            document.body.setAttribute('data-shown', String(shown));
          }
          document.getElementById('filters').addEventListener('change', apply);
          apply();
          var listed = {};
          document.querySelectorAll('.scenario').forEach(function (item) {
            var outcome = item.getAttribute('data-outcome');
            listed[outcome] = (listed[outcome] || 0) + 1;
          });
          document.body.setAttribute('data-listed', JSON.stringify(listed));
          document.body.setAttribute('data-ready', '1');
        })();
        """
}
