import Foundation
import Reports

/// `smtp-scenario merge OUT IN...`: one report from the reports of several shards.
public enum MergePipeline {
    /// Merges the files `inputs` into `output` (written atomically). 0 on success, 2 when the inputs cannot be
    /// merged (not reports, mixed formats, overlapping testcases) or read.
    public static func run(output path: String, inputs: [String], console: ConsoleOutput) -> Int32 {
        var loaded: [(name: String, data: Data)] = []
        for input in inputs {
            guard let data = FileManager.default.contents(atPath: input) else {
                console.err("error: cannot read \(input)\n")
                return ExitCode.usage
            }
            loaded.append((input, data))
        }
        do {
            let (format, data) = try ReportMerge.merge(loaded)
            let temporary = URL(fileURLWithPath: path).deletingLastPathComponent()
                .appendingPathComponent(".\(URL(fileURLWithPath: path).lastPathComponent).merge.tmp")
            try FileManager.default.createDirectory(
                at: temporary.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try data.write(to: temporary)
            guard rename(temporary.path, path) == 0 else {
                try? FileManager.default.removeItem(at: temporary)
                console.err("error: cannot write \(path): \(String(cString: strerror(errno)))\n")
                return ExitCode.usage
            }
            console.out("merged \(inputs.count) \(format == .junit ? "JUnit" : "JSON") report(s) into \(path)\n")
            return ExitCode.success
        } catch let failure as ReportMerge.Failure {
            console.err("error: \(failure.description)\n")
            return ExitCode.usage
        } catch {
            console.err("error: cannot write \(path): \(error.localizedDescription)\n")
            return ExitCode.usage
        }
    }
}
