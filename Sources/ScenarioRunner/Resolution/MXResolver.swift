import CResolv
import NIOPosix

/// A DNS server every `mx:` lookup is sent to (`--dns-server IP[:PORT]`), instead of the system's.
public struct DNSServer: Sendable, Hashable, CustomStringConvertible {
    public let address: String
    public let port: Int

    /// Parses `IP` or `IP:PORT` (IPv4; port 53 by default).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return nil }
        var port = 53
        if parts.count == 2 {
            guard let value = Int(parts[1]), (1...65535).contains(value) else { return nil }
            port = value
        }
        self.address = String(parts[0])
        self.port = port
    }

    public var description: String { port == 53 ? address : "\(address):\(port)" }
}

/// Why an `mx:` target has nowhere to connect.
public struct MXResolutionError: Error, CustomStringConvertible {
    public let description: String
}

/// The mail exchangers of a domain as RFC 5321 section 5.1 says: MX records by preference (random among equal
/// preferences), each host's addresses (IPv4, then IPv6); with no MX, the domain's own addresses (the implicit
/// MX); a null MX (RFC 7505, `0 .`) is an error. Uses glibc's resolver (`res_nquery`), off the event loops.
public enum MXResolver {
    /// Finds the candidates for `domain`, in the order to try them.
    public static func candidates(
        for domain: String,
        dnsServer: DNSServer?
    ) async throws -> [Endpoint.Candidate] {
        try await NIOThreadPool.singleton.runIfActive {
            try resolve(domain, dnsServer: dnsServer)
        }
    }

    static func resolve(_ domain: String, dnsServer: DNSServer?) throws -> [Endpoint.Candidate] {
        let via = dnsServer.map { " (asking \($0))" } ?? ""
        var records = [smtp_mx_record](repeating: smtp_mx_record(), count: 64)
        let count = smtp_query_mx(domain, dnsServer?.address, Int32(dnsServer?.port ?? 53), &records, 64)
        if count < 0 { throw MXResolutionError(description: problem(count, "MX records of \(domain)") + via) }
        var hosts: [(preference: Int?, host: String)] = []
        if count == 0 {
            // No MX: the domain itself is the implicit MX (RFC 5321 5.1).
            hosts = [(nil, domain)]
        } else {
            let found = records.prefix(Int(count)).map { record -> (Int, String) in
                var copy = record
                let host = withUnsafeBytes(of: &copy.host) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                return (Int(record.preference), host)
            }
            if found.contains(where: { $0.1.isEmpty }) {
                throw MXResolutionError(
                    description: "\(domain) has a null MX (RFC 7505: \"0 .\"): it accepts no mail" + via
                )
            }
            // By preference; among equal preferences in random order, to spread the load.
            hosts = Dictionary(grouping: found, by: \.0).sorted { $0.key < $1.key }.flatMap { preference, group in
                group.shuffled().map { (preference, $0.1) }
            }
        }
        var candidates: [Endpoint.Candidate] = []
        var failures: [String] = []
        for (preference, host) in hosts {
            var addresses: [String] = []
            for family in [4, 6] {
                var found = [smtp_address](repeating: smtp_address(), count: 16)
                let n = smtp_query_addresses(
                    host,
                    Int32(family),
                    dnsServer?.address,
                    Int32(dnsServer?.port ?? 53),
                    &found,
                    16
                )
                if n < 0 {
                    if n != SMTP_DNS_NXDOMAIN || family == 4 {
                        failures.append(problem(n, "\(family == 4 ? "A" : "AAAA") records of \(host)"))
                    }
                    continue
                }
                addresses += found.prefix(Int(n)).map { record in
                    var copy = record
                    return withUnsafeBytes(of: &copy.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                }
            }
            candidates += addresses.map { Endpoint.Candidate(host: host, address: $0, preference: preference) }
        }
        guard !candidates.isEmpty else {
            let what =
                count == 0 ? "\(domain) has no MX record and no address" : "no MX host of \(domain) has an address"
            throw MXResolutionError(
                description: what + via + (failures.isEmpty ? "" : " (\(failures.joined(separator: "; ")))")
            )
        }
        return candidates
    }

    private static func problem(_ status: Int32, _ what: String) -> String {
        switch status {
        case SMTP_DNS_NXDOMAIN: return "the \(what): no such domain (NXDOMAIN)"
        case SMTP_DNS_TRY_AGAIN: return "the \(what): the DNS server did not answer in time (or SERVFAIL)"
        case SMTP_DNS_BAD_SERVER: return "the DNS server address is not IPv4"
        default: return "the \(what): the lookup failed"
        }
    }
}
