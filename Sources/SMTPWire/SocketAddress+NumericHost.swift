import NIOCore

extension SocketAddress {
    /// The address in numeric form, exactly as `ipAddress` gives it (`192.0.2.1`, `::1`), nil for a Unix socket.
    /// An IPv4 address is formatted here from its four bytes: `ipAddress` goes through `inet_ntop` and glibc's
    /// `sprintf`, 2,800 instructions that the mock paid for every connection.
    public var numericHost: String? {
        guard case .v4(let address) = self else { return ipAddress }
        // `s_addr` is in network byte order: its bytes in memory are the dotted quad's, first to last.
        return withUnsafeBytes(of: address.address.sin_addr.s_addr) { octets in
            String(unsafeUninitializedCapacity: 15) { text in
                var count = 0
                for (index, octet) in octets.enumerated() {
                    if index > 0 {
                        text[count] = UInt8(ascii: ".")
                        count += 1
                    }
                    if octet >= 100 {
                        text[count] = UInt8(ascii: "0") + octet / 100
                        count += 1
                    }
                    if octet >= 10 {
                        text[count] = UInt8(ascii: "0") + octet / 10 % 10
                        count += 1
                    }
                    text[count] = UInt8(ascii: "0") + octet % 10
                    count += 1
                }
                return count
            }
        }
    }
}
