import Foundation

/// A blocking TCP client for tests that must misbehave at the byte level (garbage, vanishing mid-DATA).
/// Every read has a deadline.
public final class RawClient: @unchecked Sendable {
    private let fd: Int32
    private var received: [UInt8] = []

    /// Connects to 127.0.0.1:`port`.
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw FixtureError(description: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    /// The client's own port, to find the server's end of this connection.
    public var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Sends text as is.
    public func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends bytes as is; errors (a closed peer) are ignored.
    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Reads until `condition` holds for everything received so far, the peer closes, or `timeout` passes.
    /// Returns everything received so far as text.
    @discardableResult
    public func read(until condition: (String) -> Bool, timeout: Duration = .seconds(10)) -> String {
        let deadline = ContinuousClock.now + timeout
        while !condition(text), ContinuousClock.now < deadline {
            var pollDescriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = deadline - ContinuousClock.now
            let ms = Int32(
                max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            )
            guard poll(&pollDescriptor, 1, ms) > 0 else { break }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 {
                peerClosed = true
                break
            }
            received += buffer[..<count]
        }
        return text
    }

    /// Reads until `count` complete replies (final lines `NNN `) have arrived.
    @discardableResult
    public func readReplies(_ count: Int, timeout: Duration = .seconds(10)) -> [String] {
        read(until: { Self.finalLines(in: $0).count >= count }, timeout: timeout)
        return Self.finalLines(in: text)
    }

    /// Waits until the peer closes the connection (or `timeout`); true when it did.
    public func waitForClose(timeout: Duration = .seconds(10)) -> Bool {
        read(until: { _ in false }, timeout: timeout)
        return peerClosed
    }

    /// Whether the peer has closed.
    public private(set) var peerClosed = false

    /// Everything received, as text.
    public var text: String { String(decoding: received, as: UTF8.self) }

    /// Final reply lines (`250 ok`, not `250-...`) in `text`.
    public static func finalLines(in text: String) -> [String] {
        text.split(separator: "\r\n").map(String.init).filter {
            $0.count >= 4 && $0[$0.index($0.startIndex, offsetBy: 3)] == " "
        }
    }

    /// Closes the socket now (a client vanishing).
    public func abort() {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }
}
