import NIOCore
import SMTPWire
import Testing

@Suite struct NumericHostTests {
    @Test(arguments: [
        "0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.0.1", "192.168.100.9", "1.22.103.240", "100.10.1.0",
        "9.99.199.200",
    ])
    func anIPv4AddressReadsAsInetNtopWritesIt(_ text: String) throws {
        let address = try SocketAddress(ipAddress: text, port: 25)
        #expect(address.numericHost == text)
        #expect(address.numericHost == address.ipAddress)
    }

    @Test func everyOctetValueIsWrittenWithoutLeadingZeros() throws {
        for octet in 0...255 {
            let text = "\(octet).\(255 - octet).\(octet / 2).\(octet % 10)"
            let address = try SocketAddress(ipAddress: text, port: 0)
            #expect(address.numericHost == address.ipAddress, "\(text)")
        }
    }

    @Test func anIPv6AddressIsTheSameAsIPAddress() throws {
        for text in ["::1", "2001:db8::25", "fe80::1:2:3:4", "::ffff:192.0.2.1"] {
            let address = try SocketAddress(ipAddress: text, port: 587)
            #expect(address.numericHost == address.ipAddress)
            #expect(address.numericHost != nil)
        }
    }

    @Test func aUnixSocketHasNoNumericHost() throws {
        let address = try SocketAddress(unixDomainSocketPath: "/tmp/smtp.sock")
        #expect(address.numericHost == nil)
    }
}
