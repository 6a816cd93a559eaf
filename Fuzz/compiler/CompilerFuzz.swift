import Foundation
import LocatedYAML
import ScenarioLanguage

/// The scenario compiler against arbitrary files: bytes -> a plan or located errors, never a crash, a hang or
/// unbounded memory (libFuzzer's -timeout and -rss_limit_mb make bombs findings).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var options = CompileOptions()
    options.environment = ["HOME": "/root", "SMTP_PASSWORD": "secret-value"]
    options.workingDirectory = "/nonexistent-fuzz-directory"
    let compiled = ScenarioCompiler.compile(source: text, displayPath: "fuzz.yaml", options: options)
    if compiled.file == nil, compiled.kind == .scenarios {
        precondition(compiled.hasErrors, "no plan and no error")
    }
    // The environment's secret must not reach a diagnostic through `${env.SMTP_PASSWORD}`. A diagnostic may quote
    // the file's own text, so the check holds for inputs that do not spell the value out themselves.
    let secretInSource = text.contains("secret-value")
    for diagnostic in compiled.diagnostics {
        precondition(diagnostic.location.line >= 1 && diagnostic.location.column >= 1, "\(diagnostic)")
        precondition(diagnostic.message.count <= Diagnostic.maxMessageLength + 100, "an uncut message")
        precondition(secretInSource || !diagnostic.description.contains("secret-value"), "a secret in a diagnostic")
    }
    if let file = compiled.file {
        for scenario in file.scenarios { _ = scenario.steps.reduce(0) { $0 + $1.expandedCount } }
    }
    return 0
}

/// SwiftPM links an executable's `main` to `fuzz_compiler_main`; hand over to libFuzzer's driver from there.
@_cdecl("fuzz_compiler_main")
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
