// swift-tools-version: 6.1
// smtp-scenario: declarative SMTP test scenarios, a mock SMTP server, JUnit reports.
import Foundation
import PackageDescription

let package = Package(
    name: "smtp-scenario",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "smtp-scenario", targets: ["smtp-scenario"]),
        .library(name: "SMTPWire", targets: ["SMTPWire"]),
        .library(name: "ScenarioLanguage", targets: ["ScenarioLanguage"]),
        .library(name: "ScenarioRunner", targets: ["ScenarioRunner"]),
        .library(name: "MockServer", targets: ["MockServer"]),
        .library(name: "ScenarioResults", targets: ["ScenarioResults"]),
        .library(name: "Reports", targets: ["Reports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // bytes <-> SMTP: replies, commands, data encoding, dot-stuffing, EHLO extensions, addresses.
        .target(
            name: "SMTPWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // DNS for mx: targets through glibc's resolver (res_nquery, libresolv's record parser).
        .target(
            name: "CResolv",
            linkerSettings: [.linkedLibrary("resolv")]
        ),
        // SASL for both ends (client steps and the mock's AUTH): one implementation of each mechanism.
        .target(
            name: "SMTPAuth",
            dependencies: ["SMTPWire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // What a run produced, as data: scenario identities, step records, mismatches, outcomes, transcripts,
        // source locations and step paths. No NIO, TLS or YAML: reports depend on this alone.
        .target(name: "ScenarioResults"),
        // YAML with source marks: locations, diagnostics, typed node readers shared by every file format.
        .target(
            name: "LocatedYAML",
            dependencies: ["ScenarioResults", .product(name: "Yams", package: "Yams")]
        ),
        // Scenario files -> checked, compiled Plan.
        .target(
            name: "ScenarioLanguage",
            dependencies: ["LocatedYAML", "SMTPWire", "ScenarioResults"]
        ),
        // Runs a Plan against SMTP servers and records results and transcripts.
        .target(
            name: "ScenarioRunner",
            dependencies: [
                "SMTPWire", "SMTPAuth", "ScenarioLanguage", "ScenarioResults", "LocatedYAML", "CResolv",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The policy-driven SMTP server: `serve` and the embedded default target.
        .target(
            name: "MockServer",
            dependencies: [
                "SMTPWire", "SMTPAuth", "LocatedYAML", "ScenarioResults",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every report format, fed by one streaming Reporter path. Results only: no networking, no YAML.
        .target(
            name: "Reports",
            dependencies: ["ScenarioResults"]
        ),
        // The application pipeline: files -> plan -> run -> reports, the embedded mock, relay-check verdicts, serve,
        // and record (a typed session written as a scenario).
        .target(
            name: "SMTPScenarioApp",
            dependencies: [
                "ScenarioLanguage", "ScenarioRunner", "ScenarioResults", "MockServer", "Reports", "LocatedYAML",
                "SMTPWire", .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Argument parsing and wiring only.
        .executableTarget(
            name: "smtp-scenario",
            dependencies: [
                "SMTPScenarioApp", "ScenarioLanguage", "ScenarioResults", "Reports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers tests share: mock on port 0, scripted servers, the real Postfix/Dovecot fixture.
        .target(
            name: "SMTPScenarioTesting",
            dependencies: [
                "SMTPWire", "LocatedYAML", "ScenarioLanguage", "ScenarioRunner", "ScenarioResults", "MockServer",
                "Reports", "SMTPScenarioApp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/SMTPScenarioTesting"
        ),
        .testTarget(
            name: "SMTPWireTests",
            dependencies: [
                "SMTPWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ScenarioLanguageTests",
            dependencies: ["ScenarioLanguage", "LocatedYAML", "ScenarioResults", "SMTPWire"]
        ),
        .testTarget(
            name: "ScenarioRunnerTests",
            dependencies: [
                "ScenarioRunner", "ScenarioLanguage", "ScenarioResults", "SMTPScenarioTesting",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MockServerTests",
            dependencies: [
                "MockServer", "SMTPScenarioTesting", "LocatedYAML",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "ScenarioResults", "SMTPScenarioTesting"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["SMTPScenarioTesting", "ScenarioRunner", "ScenarioResults", "MockServer", "Reports"]
        ),
    ]
)

// Sanitizer runs of the tests (SMTP_SCENARIO_SANITIZE=address or thread, scripts/test-sanitized): our own modules
// and tests are instrumented; dependencies keep their ordinary build, so the run reuses .build's and costs minutes,
// not the quarter of an hour a sanitized BoringSSL takes on two cores.
if let sanitizer = ProcessInfo.processInfo.environment["SMTP_SCENARIO_SANITIZE"],
    ["address", "thread"].contains(sanitizer)
{
    for target in package.targets where target.type != .plugin {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-sanitize=\(sanitizer)"])]
        if target.type == .test || target.type == .executable {
            target.linkerSettings = (target.linkerSettings ?? []) + [.unsafeFlags(["-sanitize=\(sanitizer)"])]
        }
    }
}

// Fuzz targets (libFuzzer): only when SMTP_SCENARIO_FUZZ=1, in their own scratch path, so ordinary builds never
// see them. Our own modules get coverage instrumentation and ASan; dependencies are left as they are.
// scripts/fuzz TARGET SECONDS builds and runs one.
if ProcessInfo.processInfo.environment["SMTP_SCENARIO_FUZZ"] == "1" {
    let instrumented: Set<String> = ["SMTPWire", "LocatedYAML", "ScenarioLanguage", "ScenarioResults", "Reports"]
    for target in package.targets where instrumented.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-sanitize=fuzzer,address"])]
    }
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("reply-parser", ["SMTPWire", .product(name: "NIOCore", package: "swift-nio")]),
        ("mock-readers", ["SMTPWire", .product(name: "NIOCore", package: "swift-nio")]),
        ("compiler", ["ScenarioLanguage", "LocatedYAML"]),
        ("variables", ["ScenarioLanguage"]),
        ("report-writers", ["Reports", "ScenarioResults"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: "fuzz-\(name)",
                dependencies: dependencies,
                path: "Fuzz/\(name)",
                swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])],
                linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]
            )
        )
        package.products.append(.executable(name: "fuzz-\(name)", targets: ["fuzz-\(name)"]))
    }
}
