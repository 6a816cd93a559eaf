import Foundation

/// A file read whole but never past a limit: scenario and policy files, certificates. A device or a pipe that never
/// ends (`/dev/zero`) stops at the limit instead of filling memory.
public enum BoundedFile {
    /// What reading gave.
    public enum Outcome: Sendable, Equatable {
        /// The whole file.
        case bytes([UInt8])
        /// More than the limit: the size the file claimed, or the bytes read before stopping.
        case tooLarge(Int)
        /// It could not be opened or read (a folder is `EISDIR`): the errno.
        case unreadable(errno: Int32)
    }

    /// The bytes of `path`, with one open, one fstat and reads into a buffer of its size (a pipe, whose size reads
    /// as 0, is read in 64 KiB steps). Foundation's attributes and contents calls cost about twenty system calls a
    /// file (owner names, extended attributes), which a run of a thousand files paid a thousand times. At most
    /// `limit` + 1 bytes are read, so a file that grows after the fstat is still refused.
    public static func read(_ path: String, limit: Int) -> Outcome {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .unreadable(errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .unreadable(errno: errno) }
        guard status.st_mode & S_IFMT != S_IFDIR else { return .unreadable(errno: EISDIR) }
        let size = Int(status.st_size)
        if size > limit { return .tooLarge(size) }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                Foundation.read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return .unreadable(errno: errno) }
            if count == 0 { break }
            filled += count
            if filled == bytes.count, filled <= limit { bytes.append(contentsOf: repeatElement(0, count: 64 * 1024)) }
        }
        if filled > limit { return .tooLarge(filled) }
        bytes.removeLast(bytes.count - filled)
        return .bytes(bytes)
    }
}
