import Foundation
import NIOCore
import SMTPWire
import ScenarioResults

/// Why a mock server could not start, in the words an operator acts on: what failed, the system's reason, and
/// what to do about it when that is known.
public struct MockServerStartError: Error, CustomStringConvertible {
    /// What could not be done.
    public enum Kind: Sendable, Hashable {
        /// The folder for message files could not be created.
        case storeFolder
        /// A listener could not bind its address.
        case listen
    }

    /// What could not be done.
    public let kind: Kind
    /// The failed action, e.g. `cannot listen on 127.0.0.1:25`.
    public let action: String
    /// The system's reason, e.g. `permission denied`.
    public let reason: String
    /// What to do about it, when known; a caller that knows more (where a folder came from) may replace it.
    public var hint: String?

    /// Creates an error.
    public init(kind: Kind, action: String, reason: String, hint: String? = nil) {
        self.kind = kind
        self.action = action
        self.reason = reason
        self.hint = hint
    }

    public var description: String { "\(action): \(reason)" + (hint.map { " (\($0))" } ?? "") }

    /// A failed bind of `host:port`, with a hint for the usual causes.
    static func listen(host: String, port: Int, _ error: Error) -> MockServerStartError {
        let code = errorNumber(error)
        let hint: String? =
            switch code {
            case EACCES where port > 0 && port < 1024:
                "ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port above 1023"
            case EADDRINUSE: "another program listens there; stop it or choose another port"
            case EADDRNOTAVAIL: "no interface of this machine has that address"
            default: nil
            }
        let address = HostPort.text(host, port)
        return MockServerStartError(
            kind: .listen,
            action: "cannot listen on \(address)",
            reason: reason(error, code: code),
            hint: hint
        )
    }

    /// A failed creation of the store folder at `path`.
    static func storeFolder(_ path: String, _ error: Error) -> MockServerStartError {
        let code = errorNumber(error)
        return MockServerStartError(
            kind: .storeFolder,
            action: "cannot create the message store folder \(path)",
            // mkdir's "file exists" for a path that is a file says less than what is wrong with it.
            reason: code == EEXIST ? "it is a file, not a folder" : reason(error, code: code)
        )
    }

    /// The errno behind `error`: NIO's IOError, or the POSIX error under a Foundation file error.
    private static func errorNumber(_ error: Error) -> Int32? {
        (error as? IOError)?.errnoCode ?? SystemError.code(of: error)
    }

    /// `permission denied` rather than `bind(descriptor:ptr:bytes:): Permission denied) (errno: 13)`.
    private static func reason(_ error: Error, code: Int32?) -> String {
        code.map(SystemError.describe) ?? "\(error)"
    }
}
