import Foundation
import X509

/// The facts about a server certificate that scenarios assert and transcripts show.
struct CertificateSummary: Sendable {
    /// Subject DN in RFC 4514 form.
    let subject: String
    /// Issuer DN in RFC 4514 form.
    let issuer: String
    /// subjectAltName DNS names.
    let dnsNames: [String]
    /// subjectAltName IP addresses.
    let ipAddresses: [String]
    /// The subject's common name, used for names only when there are no subjectAltNames.
    let commonName: String?
    /// End of validity.
    let notValidAfter: Date

    /// Parses a DER certificate; nil when it cannot be parsed.
    init?(der: [UInt8]) {
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        subject = certificate.subject.description
        issuer = certificate.issuer.description
        notValidAfter = certificate.notValidAfter
        var dns: [String] = []
        var ips: [String] = []
        if let names = try? certificate.extensions.subjectAlternativeNames {
            for name in names {
                switch name {
                case .dnsName(let value): dns.append(value)
                case .ipAddress(let octets): ips.append(Self.formatIP(Array(octets.bytes)))
                default: break
                }
            }
        }
        dnsNames = dns
        ipAddresses = ips
        commonName = certificate.subject.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }
            .map { String(describing: $0.value) }
    }

    /// Every name the certificate is valid for: its SANs, or its CN when it has none.
    var names: [String] {
        let sans = dnsNames + ipAddresses
        if !sans.isEmpty { return sans }
        return commonName.map { [$0] } ?? []
    }

    /// Whether `name` is covered, with RFC 6125 wildcards: `*` matches exactly one whole left-most label, never
    /// a public suffix-like two-label remainder, and never an IP address.
    func covers(_ name: String) -> Bool {
        let wanted = name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        if ipAddresses.contains(wanted) { return true }
        let candidates = dnsNames.isEmpty && ipAddresses.isEmpty ? (commonName.map { [$0] } ?? []) : dnsNames
        return candidates.contains { Self.matches(pattern: $0.lowercased(), name: wanted) }
    }

    static func matches(pattern: String, name: String) -> Bool {
        guard pattern.hasPrefix("*.") else { return pattern == name }
        let suffix = pattern.dropFirst(2)
        guard suffix.contains("."), let dot = name.firstIndex(of: ".") else { return false }
        let firstLabel = name[..<dot]
        return !firstLabel.isEmpty && name[name.index(after: dot)...] == suffix
    }

    private static func formatIP(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16))
        }
        // Compress the longest run of zero groups, as inet_ntop does.
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == "0" {
                var end = index
                while end < 8, groups[end] == "0" { end += 1 }
                if end - index > bestLength, end - index > 1 {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        guard bestStart >= 0 else { return groups.joined(separator: ":") }
        let head = groups[..<bestStart].joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
