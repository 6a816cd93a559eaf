import Foundation
import Reports
import ScenarioResults

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The report writers against arbitrary transcript bytes, names and messages: JUnit must stay well-formed XML
/// (checked with libxml2's parser, and read back by `merge`'s own reader), JSON must parse, TAP must keep one line
/// per test point. The raw input also goes to `merge` as XML: whatever it is, a result or an error, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let pieces = bytes.split(separator: 0x0A, maxSplits: 3, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    let name = pieces.first ?? ""
    let message = pieces.count > 1 ? pieces[1] : ""
    var transcript = Transcript()
    for (index, line) in pieces.dropFirst(2).enumerated() {
        transcript.append(index % 2 == 0 ? .server : .note, line, elapsedMilliseconds: index)
    }
    let location = SourceLocation(file: name.isEmpty ? "f.yaml" : name, line: 1, column: 1)
    let identity = ScenarioIdentity(name: name.isEmpty ? "x" : name, location: location, suite: message, tags: [name])
    let failure = StepFailure(
        kind: .unexpectedReply,
        stepLabel: message,
        location: location,
        expected: name,
        actual: message
    )
    let results = [
        ScenarioResult(
            identity: identity,
            outcome: .failed(failure),
            server: name,
            startedAt: Date(),
            duration: .milliseconds(1),
            transcript: transcript
        ),
        ScenarioResult(
            identity: identity,
            outcome: .skipped(reason: message),
            server: "",
            startedAt: Date(),
            duration: .zero,
            transcript: transcript
        ),
    ]
    var summary = RunSummary(startedAt: Date())
    for result in results { summary.add(result.outcome) }
    let run = RunResult(allResults: results, summary: summary)

    let xml = Data(JUnitReport().render(run).utf8)
    let parser = XMLParser(data: xml)
    precondition(parser.parse(), "JUnit is not well-formed: \(String(parser.parserError.map { "\($0)" } ?? "?"))")
    do {
        _ = try ReportMerge.merge([("fuzz.xml", xml)])
    } catch {
        preconditionFailure("merge cannot read the JUnit writer's output: \(error)")
    }
    _ = try? ReportMerge.merge([("raw.xml", Data(bytes))])
    let json = Data(JSONReport().render(run).utf8)
    precondition((try? JSONSerialization.jsonObject(with: json)) != nil, "JSON does not parse")
    let tap = TAPReport().render(run)
    let points = tap.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
    precondition(points.count == 2, "TAP test points broken: \(points.count)")
    _ = HTMLReport().render(run)
    return 0
}

/// SwiftPM links an executable's `main` to `fuzz_report_writers_main`; hand over to libFuzzer's driver from there.
@_cdecl("fuzz_report_writers_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzz(data!, size) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
