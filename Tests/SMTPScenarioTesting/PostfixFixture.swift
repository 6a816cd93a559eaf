import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Testing

/// One private Postfix (with Dovecot SASL) for the whole test run, started by `scripts/mail-fixture` on free
/// 127.0.0.1 ports, every transport set to discard, no DNS. See that script for what each port is.
public struct PostfixFixture: Sendable {
    /// Closed, hardened port 25 (relay refused from 127.0.0.1, VRFY disabled, bare newlines normalised).
    public let closedPort: Int
    /// The same server configured as an open relay.
    public let openRelayPort: Int
    /// Deliberately weak: VRFY on, smuggling-prone, version in the banner.
    public let weakPort: Int
    /// Submission: STARTTLS, AUTH after TLS only, MAIL requires AUTH.
    public let submissionPort: Int
    /// Implicit TLS (wrapper mode) with AUTH.
    public let smtpsPort: Int
    /// A plain closed port for pipelining checks, with `smtpd_recipient_limit = 50`.
    public let pipelinePort: Int
    /// The CA that signed the server certificate.
    public let caFile: String
    /// Postfix's log, for diagnosing failures.
    public let maillog: String
    /// A Dovecot user and password.
    public let user = "alice"
    public let password = "wonderland"

    let directory: URL

    /// The fixture of the current test scope (set by ``PostfixFixtureTrait``).
    @TaskLocal public static var current: PostfixFixture?

    /// Why the fixture cannot run here, or nil when it can.
    public static var unavailableReason: String? {
        if getuid() != 0 { return "not root (Postfix's master must start as root)" }
        for tool in ["postfix", "dovecot", "openssl"] where ProcessRunner.which(tool) == nil {
            return "\(tool) is not installed (scripts/install-test-deps installs it)"
        }
        return nil
    }

    /// Starts the fixture on free ports.
    static func start() async throws -> PostfixFixture {
        let directory = try Paths.temporaryDirectory("postfix-fixture")
        let names = ["PORT_CLOSED", "PORT_OPEN", "PORT_WEAK", "PORT_SUBMISSION", "PORT_SMTPS", "PORT_PIPELINE"]
        var environment: [String: String] = [:]
        for name in names { environment[name] = String(try Ports.free()) }
        let script = Paths.repositoryRoot.appendingPathComponent("scripts/mail-fixture").path
        let result = try await ProcessRunner.run(
            script,
            ["start", directory.path],
            environment: environment,
            timeout: .seconds(60)
        )
        guard result.status == 0 else {
            throw FixtureError(
                description: "mail-fixture start failed (\(result.status)):\n\(result.stdout)\(result.stderr)"
            )
        }
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        let fixture = PostfixFixture(
            closedPort: Int(values["PORT_CLOSED"]!)!,
            openRelayPort: Int(values["PORT_OPEN"]!)!,
            weakPort: Int(values["PORT_WEAK"]!)!,
            submissionPort: Int(values["PORT_SUBMISSION"]!)!,
            smtpsPort: Int(values["PORT_SMTPS"]!)!,
            pipelinePort: Int(values["PORT_PIPELINE"]!)!,
            caFile: values["CA"]!,
            maillog: values["MAILLOG"]!,
            directory: directory
        )
        try await fixture.waitUntilReady()
        return fixture
    }

    /// Waits until every port answers with a greeting (no fixed sleeps).
    func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        for port in [closedPort, openRelayPort, weakPort, submissionPort, pipelinePort] {
            while true {
                if await Self.greets(port: port) { break }
                guard ContinuousClock.now < deadline else {
                    let log = (try? String(contentsOfFile: maillog, encoding: .utf8)) ?? "(no maillog)"
                    throw FixtureError(
                        description: "Postfix port \(port) never answered; maillog:\n\(log.suffix(3000))"
                    )
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private static func greets(port: Int) async -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = read(fd, &buffer, buffer.count)
        return count >= 3 && buffer[0] == UInt8(ascii: "2") && buffer[1] == UInt8(ascii: "2")
    }

    /// Stops Postfix and Dovecot and removes the directory.
    func stop() async {
        let script = Paths.repositoryRoot.appendingPathComponent("scripts/mail-fixture").path
        _ = try? await ProcessRunner.run(script, ["stop", directory.path], timeout: .seconds(30))
        try? FileManager.default.removeItem(at: directory)
    }

    /// The log's tail, for failure messages.
    public var logTail: String {
        String(((try? String(contentsOfFile: maillog, encoding: .utf8)) ?? "").suffix(4000))
    }
}

/// The fixture could not start.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String

    /// Creates an error with its explanation.
    public init(description: String) { self.description = description }
}

/// Free TCP ports on 127.0.0.1.
public enum Ports {
    /// Ports handed out so far in this process, so two callers never get the same one.
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

    /// A port no one listens on now, for a server started by another process (Postfix, `serve`).
    ///
    /// Chosen below Linux's ephemeral range (32768-60999): a port read back from a bind to port 0 is ephemeral,
    /// and between its release and the server's bind another test's outgoing connection or port-0 listener can
    /// take it ("Address already in use"). Ports below the range are never assigned by the kernel.
    public static func free() throws -> Int {
        for _ in 0..<200 {
            let candidate = Int.random(in: 20_000..<32_000)
            let fresh = handedOut.withLockedValue { $0.insert(candidate).inserted }
            if fresh, canBind(candidate) { return candidate }
        }
        throw FixtureError(description: "cannot find a free port in 20000-31999")
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return bound == 0
    }
}

/// Starts the Postfix fixture once around a suite and stops it afterwards. Without root or Postfix the suite's
/// tests are skipped loudly (cancelled with the reason), and with `CI=true` that is a failure instead.
public struct PostfixFixtureTrait: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        if let reason = PostfixFixture.unavailableReason {
            if Paths.inCI {
                Issue.record("CI=true but the Postfix fixture cannot run: \(reason)")
                return
            }
            print("SKIPPED (loudly): Postfix integration tests need a private Postfix: \(reason)")
            try await PostfixFixture.$current.withValue(nil) { try await function() }
            return
        }
        let fixture = try await PostfixFixture.start()
        do {
            try await PostfixFixture.$current.withValue(fixture) { try await function() }
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }
}

extension Trait where Self == PostfixFixtureTrait {
    /// Runs the suite with a private Postfix started once for it.
    public static var postfix: PostfixFixtureTrait { PostfixFixtureTrait() }
}

extension PostfixFixture {
    /// The fixture for the running test, or a skip (a failure with `CI=true`) when it is unavailable.
    public static func required() throws -> PostfixFixture {
        if let current { return current }
        let reason = unavailableReason ?? "the test is not inside a suite with the .postfix trait"
        if Paths.inCI { throw FixtureError(description: "CI=true but the Postfix fixture is unavailable: \(reason)") }
        try Test.cancel("Postfix fixture unavailable: \(reason)")
    }
}
