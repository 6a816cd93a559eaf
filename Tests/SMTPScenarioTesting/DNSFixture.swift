import Foundation
import Testing

/// A private DNS server (Debian's dnsmasq) on 127.0.0.1 and a free port, authoritative for the `test` domain
/// only and with no upstream servers, so no query leaves the machine. Stop it with ``stop()``.
public final class DNSFixture: Sendable {
    /// The port it answers on (UDP and TCP, 127.0.0.1).
    public let port: Int
    private let process: BackgroundProcess

    /// What `--dns-server` takes to ask this server.
    public var address: String { "127.0.0.1:\(port)" }

    /// Where dnsmasq is, or nil.
    static var executable: String? {
        ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? ProcessRunner.which("dnsmasq")
    }

    /// One record to serve.
    public enum Record: Sendable {
        /// An MX record of `domain` pointing at `host` with `preference`.
        case mx(_ domain: String, host: String, preference: Int)
        /// A null MX (RFC 7505: preference 0, exchange ".").
        case nullMX(_ domain: String)
        /// An A or AAAA record.
        case address(_ name: String, _ address: String)

        var argument: String {
            switch self {
            case .mx(let domain, let host, let preference): return "--mx-host=\(domain),\(host),\(preference)"
            // The RDATA in hex: preference 0 (two bytes) and the root name (one zero byte).
            case .nullMX(let domain): return "--dns-rr=\(domain),15,000000"
            case .address(let name, let address): return "--host-record=\(name),\(address)"
            }
        }
    }

    /// Starts dnsmasq serving `records`; waits until it says it started. Skips the test (fails it with
    /// `CI=true`) when dnsmasq is not installed.
    public static func start(_ records: [Record]) async throws -> DNSFixture {
        guard let executable else {
            let reason = "dnsmasq is not installed (scripts/install-test-deps installs dnsmasq-base)"
            if Paths.inCI { throw FixtureError(description: "CI=true but \(reason)") }
            try Test.cancel(Comment(rawValue: reason))
        }
        let port = try Ports.free()
        let arguments =
            [
                "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=", "--log-facility=-",
                "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                // No upstream, no /etc/hosts; authoritative for `test` so unknown names there are NXDOMAIN.
                "--no-resolv", "--no-hosts", "--local=/test/", "--no-negcache",
            ] + (getuid() == 0 ? ["--user=root"] : []) + records.map(\.argument)
        let process = try BackgroundProcess(executable, arguments)
        let fixture = DNSFixture(port: port, process: process)
        do {
            try await process.waitForOutput(containing: "started, version", timeout: .seconds(20))
        } catch {
            await fixture.stop()
            throw error
        }
        return fixture
    }

    private init(port: Int, process: BackgroundProcess) {
        self.port = port
        self.process = process
    }

    /// What dnsmasq printed (for failure messages).
    public var output: String { process.output }

    /// Stops dnsmasq.
    public func stop() async { await process.stop() }

    /// Runs `body` with a server for `records`, always stopping it.
    public static func with<T>(_ records: [Record], _ body: (DNSFixture) async throws -> T) async throws -> T {
        let fixture = try await start(records)
        do {
            let value = try await body(fixture)
            await fixture.stop()
            return value
        } catch {
            await fixture.stop()
            throw error
        }
    }
}
