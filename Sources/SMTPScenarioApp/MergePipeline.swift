import Foundation
import Reports
import ScenarioResults

/// `smtp-scenario merge OUT IN...`: one report from the reports of several shards.
public enum MergePipeline {
    /// Merges the files `inputs` into `output` (written atomically; `-` is standard output). 0 on success, 2 when
    /// the inputs cannot be merged (not reports, mixed formats, overlapping testcases) or read, 74 when the output
    /// cannot be written.
    public static func run(output path: String, inputs: [String], console: ConsoleOutput) -> Int32 {
        var loaded: [(name: String, data: Data)] = []
        for input in inputs {
            do {
                loaded.append((input, try Data(contentsOf: URL(fileURLWithPath: input))))
            } catch {
                console.err("error: cannot read \(input): \(SystemError.reason(error))\n")
                return ExitCode.usage
            }
        }
        let format: ReportMerge.Format
        let data: Data
        do {
            (format, data) = try ReportMerge.merge(loaded)
        } catch {
            console.err("error: \(error)\n")
            return ExitCode.usage
        }
        // `-` is standard output (`merge - a.xml b.xml > all.xml`), as for most tools, not a file named `-`.
        let toStandardOutput = path == "-"
        if let failure = AtomicFile(path: toStandardOutput ? "/dev/stdout" : path).write({ $0(data) }) {
            console.err("error: \(failure)\n")
            return ExitCode.outputFailed
        }
        let done = "merged \(inputs.count) \(format == .junit ? "JUnit" : "JSON") report(s)"
        if toStandardOutput {
            // Standard output carries the report alone.
            console.err(done + " to standard output\n")
        } else {
            console.out(done + " into \(path)\n")
        }
        return ExitCode.success
    }
}
