import Foundation

/// The operating system's reason behind an error, for messages a person reads: `no space left on device` rather
/// than Foundation's `Error Domain=NSCocoaErrorDomain Code=640 ... UserInfo={NSUnderlyingError=...}`.
public enum SystemError {
    /// The errno behind `error`: a `POSIXError`, or the POSIX error under a Foundation file error; nil otherwise.
    public static func code(of error: Error) -> Int32? {
        if let posix = error as? POSIXError { return posix.code.rawValue }
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return Int32(nsError.code) }
        guard let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? any Error else { return nil }
        let posix = underlying as NSError
        return posix.domain == NSPOSIXErrorDomain ? Int32(posix.code) : nil
    }

    /// `strerror` of `code`, in lower case to read inside a sentence.
    public static func describe(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }

    /// The system's reason for `error` when there is one, else the error as Swift prints it.
    public static func reason(_ error: Error) -> String { code(of: error).map(describe) ?? "\(error)" }
}

extension SystemError {
    /// The process's limit on open file descriptors (the soft limit, which `ulimit -n` shows); nil when unlimited
    /// or unreadable. Messages about `too many open files` quote it.
    public static var descriptorLimit: Int? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max
        else { return nil }
        return Int(clamping: limit.rlim_cur)
    }
}
