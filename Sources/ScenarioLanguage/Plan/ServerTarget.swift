import Foundation
import SMTPWire

/// Where a scenario connects: a real server, or the embedded mock server.
public enum ServerTarget: Sendable, Hashable, CustomStringConvertible {
    /// A server on the network; `implicitTLS` for `smtps://` (TLS before the greeting, RFC 8314).
    case remote(host: String, port: Int, implicitTLS: Bool)
    /// The embedded mock server with the default policy, or with the policy file at this absolute path.
    case mock(policyFile: String?)
    /// The mail exchangers of a domain, found as RFC 5321 section 5.1 says (MX by preference, else the domain's
    /// own addresses), each tried in turn on `port`.
    case mx(domain: String, port: Int)

    /// Whether this is the embedded mock.
    public var isMock: Bool {
        if case .mock = self { return true }
        return false
    }

    /// `host:port`, `smtps://host:port`, `mock` or `mock:FILE`.
    public var description: String {
        switch self {
        case .remote(let host, let port, let tls):
            return (tls ? "smtps://" : "") + HostPort.text(host, port)
        case .mock(nil): return "mock"
        case .mock(let file?): return "mock:\(file)"
        case .mx(let domain, let port): return "mx:\(domain)" + (port == 25 ? "" : ":\(port)")
        }
    }

    /// The forms accepted, for hints.
    public static let acceptedForms =
        "host:port, host (port 25), [::1]:2525, smtp://host:port, smtps://host:port (port 465), mx:DOMAIN[:port], mock, mock:FILE"

    /// Why `text` is no server address, for messages: the accepted forms (and `alsoAccepted`), or for an IPv6
    /// address without brackets, the brackets it needs (`::1:2525` is itself an IPv6 address, so a port after one
    /// cannot be told apart).
    public static func problem(with text: String, alsoAccepted: String? = nil) -> String {
        let unbracketedIPv6 =
            !text.contains("[") && !text.contains("://") && !text.hasPrefix("mx:") && !text.hasPrefix("mock:")
            && text.filter { $0 == ":" }.count >= 2
        return unbracketedIPv6
            ? "an IPv6 address goes in brackets: [::1]:2525, or [2001:db8::1] for port 25"
            : "accepted forms: \(acceptedForms)" + (alsoAccepted.map { ", or \($0)" } ?? "")
    }

    /// Parses a server address. `mock:FILE` paths are made absolute against `directory`.
    public static func parse(_ text: String, relativeTo directory: String) -> ServerTarget? {
        let trimmed = String(text.trimmingWhitespace())
        if trimmed == "mock" { return .mock(policyFile: nil) }
        if let rest = trimmed.afterPrefixIgnoringCase("mx:") {
            var domain = rest
            var port = 25
            if let colon = rest.lastIndex(of: ":") {
                guard let value = Int(rest[rest.index(after: colon)...]), (1...65535).contains(value) else {
                    return nil
                }
                port = value
                domain = rest[..<colon]
            }
            if domain.hasSuffix(".") { domain = domain.dropLast() }
            guard !domain.isEmpty, domain.count <= 253,
                domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") })
            else { return nil }
            return .mx(domain: String(domain).lowercased(), port: port)
        }
        if trimmed.hasPrefix("mock:") {
            let file = String(trimmed.dropFirst(5))
            guard !file.isEmpty else { return nil }
            return .mock(policyFile: PathText.anchored(file, in: directory))
        }
        var rest = Substring(trimmed)
        var implicitTLS = false
        if let after = trimmed.afterPrefixIgnoringCase("smtps://") {
            implicitTLS = true
            rest = after
        } else if let after = trimmed.afterPrefixIgnoringCase("smtp://") {
            rest = after
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let defaultPort = implicitTLS ? 465 : 25
        let host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            guard rest.firstIndex(of: ":") == colon else { return nil }  // an unbracketed IPv6 literal is ambiguous
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty, !host.contains(" "), !host.contains("/") else { return nil }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { return nil }
            port = value
        }
        return .remote(host: String(host), port: port, implicitTLS: implicitTLS)
    }
}
