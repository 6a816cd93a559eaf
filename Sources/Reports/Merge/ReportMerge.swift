import Foundation
import ScenarioResults

/// `smtp-scenario merge`: the reports of several shards (JUnit or JSON) as one, with summed counts and every
/// testcase kept once. Inputs that overlap (a testcase in two of them) or are not reports of the format are
/// refused with a clear error.
public enum ReportMerge {
    /// Why inputs cannot be merged.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The two formats.
    public enum Format: String, Sendable {
        case junit, json
    }

    /// The format of a report's text: `<` starts XML, `{` JSON.
    public static func format(of data: Data) -> Format? {
        guard let first = data.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) else {
            return nil
        }
        switch first {
        case UInt8(ascii: "<"): return .junit
        case UInt8(ascii: "{"): return .json
        default: return nil
        }
    }

    /// Merges `inputs` (name and contents, in order) into one report of their format.
    public static func merge(_ inputs: [(name: String, data: Data)]) throws(Failure) -> (Format, Data) {
        guard let first = inputs.first else { throw Failure(description: "nothing to merge: give input files") }
        guard let format = format(of: first.data) else {
            throw Failure(description: "\(first.name): neither JUnit XML nor smtp-scenario JSON")
        }
        for input in inputs.dropFirst() where Self.format(of: input.data) != format {
            throw Failure(
                description: "\(input.name): not \(format == .junit ? "JUnit XML" : "JSON") like \(first.name)"
            )
        }
        switch format {
        case .junit: return (.junit, try mergeJUnit(inputs))
        case .json: return (.json, try mergeJSON(inputs))
        }
    }

    // MARK: - JUnit

    /// A parsed XML element: name, attributes in document order, children, text.
    final class Element {
        let name: String
        var attributes: [(String, String)]
        var children: [Element] = []
        var text = ""

        init(name: String, attributes: [(String, String)]) {
            self.name = name
            self.attributes = attributes
        }

        func attribute(_ key: String) -> String? { attributes.first { $0.0 == key }?.1 }

        func setAttribute(_ key: String, _ value: String) {
            if let index = attributes.firstIndex(where: { $0.0 == key }) {
                attributes[index].1 = value
            } else {
                attributes.append((key, value))
            }
        }
    }

    private static func parseXML(_ input: (name: String, data: Data)) throws(Failure) -> Element {
        do {
            return try XMLReader.parse(Array(input.data))
        } catch {
            throw Failure(description: "\(input.name): not well-formed XML (\(error.reason), line \(error.line))")
        }
    }

    static func mergeJUnit(_ inputs: [(name: String, data: Data)]) throws(Failure) -> Data {
        var suites: [Element] = []
        var suiteIndex: [String: Int] = [:]
        var seen: [String: String] = [:]
        var rootName = "smtp-scenario"
        var strict = true
        var timestamps: [String] = []
        for input in inputs {
            let root = try parseXML(input)
            let inputSuites: [Element]
            switch root.name {
            case "testsuites":
                inputSuites = root.children.filter { $0.name == "testsuite" }
                rootName = root.attribute("name") ?? rootName
                if root.attribute("skipped") != nil { strict = false }
                if let timestamp = root.attribute("timestamp") { timestamps.append(timestamp) }
            case "testsuite":
                inputSuites = [root]
            default:
                throw Failure(description: "\(input.name): not JUnit XML (the root element is <\(root.name)>)")
            }
            for suite in inputSuites {
                let key = (suite.attribute("name") ?? "") + "\u{0}" + (suite.attribute("file") ?? "")
                let target: Element
                if let index = suiteIndex[key] {
                    target = suites[index]
                } else {
                    target = Element(name: "testsuite", attributes: suite.attributes)
                    target.children = suite.children.filter { $0.name == "properties" }
                    suiteIndex[key] = suites.count
                    suites.append(target)
                }
                for testcase in suite.children where testcase.name == "testcase" {
                    let id = "\(testcase.attribute("classname") ?? "")\u{0}\(testcase.attribute("name") ?? "")"
                    if let other = seen[id] {
                        throw Failure(
                            description:
                                "\(input.name): testcase \"\(testcase.attribute("name") ?? "")\" of \(suite.attribute("name") ?? "?") is also in \(other): the inputs overlap (the same shard twice?)"
                        )
                    }
                    seen[id] = input.name
                    target.children.append(testcase)
                }
                if let stamp = suite.attribute("timestamp"), let mine = target.attribute("timestamp"), stamp < mine {
                    target.setAttribute("timestamp", stamp)
                }
            }
        }
        var totals = (tests: 0, failures: 0, errors: 0, skipped: 0, milliseconds: 0)
        for suite in suites {
            let cases = suite.children.filter { $0.name == "testcase" }
            let failures = cases.filter { $0.children.contains { $0.name == "failure" } }.count
            let errors = cases.filter { $0.children.contains { $0.name == "error" } }.count
            let skipped = cases.filter { $0.children.contains { $0.name == "skipped" } }.count
            let time = cases.reduce(0) { $0 + Self.milliseconds($1.attribute("time")) }
            suite.setAttribute("tests", String(cases.count))
            suite.setAttribute("failures", String(failures))
            suite.setAttribute("errors", String(errors))
            if suite.attribute("skipped") != nil { suite.setAttribute("skipped", String(skipped)) }
            suite.setAttribute("time", seconds(time))
            // The shard a suite came from means nothing once shards are merged.
            for properties in suite.children where properties.name == "properties" {
                properties.children.removeAll { $0.attribute("name") == "shard" }
            }
            suite.children.removeAll { $0.name == "properties" && $0.children.isEmpty }
            totals.tests += cases.count
            totals.failures += failures
            totals.errors += errors
            totals.skipped += skipped
            totals.milliseconds += time
        }
        var rootAttributes = [
            ("name", rootName), ("tests", String(totals.tests)), ("failures", String(totals.failures)),
            ("errors", String(totals.errors)),
        ]
        if !strict { rootAttributes.append(("skipped", String(totals.skipped))) }
        rootAttributes.append(("time", seconds(totals.milliseconds)))
        if !strict, let earliest = timestamps.min() { rootAttributes.append(("timestamp", earliest)) }
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites\(JUnitDocument.attributes(rootAttributes))>\n"
        for suite in suites { write(suite, indent: "  ", into: &xml) }
        xml += "</testsuites>\n"
        return Data(xml.utf8)
    }

    private static func write(_ element: Element, indent: String, into xml: inout String) {
        xml += "\(indent)<\(element.name)\(JUnitDocument.attributes(element.attributes))"
        let text = element.children.isEmpty ? element.text : ""
        if element.children.isEmpty, text.isEmpty {
            xml += "/>\n"
            return
        }
        xml += ">"
        if element.children.isEmpty {
            xml += XMLEscaping.text(text) + "</\(element.name)>\n"
            return
        }
        xml += "\n"
        for child in element.children { write(child, indent: indent + "  ", into: &xml) }
        xml += "\(indent)</\(element.name)>\n"
    }

    private static func milliseconds(_ text: String?) -> Int {
        guard let text, let value = Double(text), value.isFinite, value >= 0, value < 1e12 else { return 0 }
        return Int((value * 1000).rounded())
    }

    private static func seconds(_ milliseconds: Int) -> String {
        DurationText.seconds(milliseconds: Int64(max(0, milliseconds)))
    }

    // MARK: - JSON

    static func mergeJSON(_ inputs: [(name: String, data: Data)]) throws(Failure) -> Data {
        var scenarios: [Any] = []
        var compileFailures: [Any] = []
        var seen: [String: String] = [:]
        var startedAt: [String] = []
        var shards: [String] = []
        var longest = 0.0
        var interrupted = false
        var tool: Any = ["name": "smtp-scenario", "version": "unknown"]
        for input in inputs {
            guard let object = try? JSONSerialization.jsonObject(with: input.data) as? [String: Any],
                object["format"] as? String == "smtp-scenario-results",
                let items = object["scenarios"] as? [[String: Any]]
            else {
                throw Failure(
                    description: "\(input.name): not an smtp-scenario JSON report (format smtp-scenario-results)"
                )
            }
            tool = object["tool"] ?? tool
            for item in items {
                let id = "\(item["file"] as? String ?? "")\u{0}\(item["name"] as? String ?? "")"
                if let other = seen[id] {
                    throw Failure(
                        description:
                            "\(input.name): scenario \"\(item["name"] as? String ?? "")\" of \(item["file"] as? String ?? "?") is also in \(other): the inputs overlap (the same shard twice?)"
                    )
                }
                seen[id] = input.name
                scenarios.append(item)
            }
            compileFailures += object["compileFailures"] as? [Any] ?? []
            if let started = object["startedAt"] as? String { startedAt.append(started) }
            if let shard = object["shard"] as? String { shards.append(shard) }
            longest = max(longest, (object["duration"] as? NSNumber)?.doubleValue ?? 0)
            interrupted = interrupted || (object["interrupted"] as? Bool ?? false)
        }
        var counts: [String: Int] = Dictionary(
            uniqueKeysWithValues: ScenarioOutcome.Category.allCases.map { ($0.rawValue, 0) }
        )
        for case let item as [String: Any] in scenarios {
            if let outcome = item["outcome"] as? String { counts[outcome, default: 0] += 1 }
        }
        var summary: [String: Any] = counts
        summary["total"] = scenarios.count
        let failing = (counts["failed"] ?? 0) + (counts["error"] ?? 0) + (counts["xpassed"] ?? 0)
        let merged: [String: Any] = [
            "format": "smtp-scenario-results",
            "formatVersion": JSONReport.formatVersion,
            "tool": tool,
            "startedAt": startedAt.min() ?? "",
            "shard": NSNull(),
            "mergedShards": shards,
            "scenarios": scenarios,
            "compileFailures": compileFailures,
            "summary": summary,
            "duration": longest,
            "interrupted": interrupted,
            "exitCode": compileFailures.isEmpty ? (failing == 0 ? 0 : 1) : 2,
        ]
        do {
            var data = try JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys, .prettyPrinted])
            data.append(0x0A)
            return data
        } catch {
            throw Failure(description: "cannot write the merged JSON: \(error)")
        }
    }
}
