// swift-tools-version: 6.1
// The floor under the runner and the mock: the least SwiftNIO program that sends, or answers, the benchmarks' SMTP
// session. It parses nothing it need not, checks nothing, allocates per read only what NIO does; benchmarks/floor.py
// measures it beside smtp-source, smtp-sink and smtp-scenario, to show how much of the gap to Postfix's C tools is
// our code and how much is NIO and the Swift runtime under any program built on them.
import PackageDescription

let package = Package(
    name: "nio-floor",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3")
    ],
    targets: [
        .executableTarget(
            name: "nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ]
)
