import Foundation
import ScenarioLanguage

/// Variable expansion: the input, split at NUL bytes, becomes up to eight variables that may reference each
/// other (the fuzzer finds `${v0}` on its own), and a step that uses the last. Expansion must stay within its
/// documented bounds (1 MiB per variable, 16 MiB per step text) and end quickly.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: 0, omittingEmptySubsequences: false)
        .prefix(8)
    var yaml = "name: x\nvars:\n"
    for (index, part) in parts.enumerated() {
        yaml += "  v\(index): \"" + escaped(String(decoding: part, as: UTF8.self)) + "\"\n"
    }
    yaml += "steps:\n  - send: \"NOOP ${v\(max(0, parts.count - 1))}\"\n  - data: \"${v0}${v0}\"\n"
    let compiled = ScenarioCompiler.compile(source: yaml, displayPath: "vars.yaml", options: CompileOptions())
    if let scenario = compiled.file?.scenarios.first {
        for step in scenario.steps {
            if case .send(let template) = step.action {
                precondition(template.literalByteCount <= 16 << 20, "a step text over the limit")
            }
        }
    }
    return 0
}

/// A YAML double-quoted string body: quotes, backslashes and control characters escaped.
private func escaped(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                out += String(format: "\\x%02x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// SwiftPM links an executable's `main` to `fuzz_variables_main`; hand over to libFuzzer's driver from there.
@_cdecl("fuzz_variables_main")
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
