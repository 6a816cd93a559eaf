/// An address and port as people and URLs write them.
public enum HostPort {
    /// `host:port`, with an IPv6 address in brackets (`[::1]:2525`), whose own colons would otherwise run into the
    /// port's (RFC 3986 section 3.2.2).
    public static func text(_ host: String, _ port: Int) -> String {
        // By bytes: with Foundation imported, `contains(":")` searches through NSString (4,500 instructions).
        host.containsUTF8Byte { $0 == UInt8(ascii: ":") } ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
