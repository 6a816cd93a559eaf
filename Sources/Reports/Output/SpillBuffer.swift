import Foundation
import ScenarioResults

/// Text appended piece by piece, kept in memory up to a threshold and spilled to a temporary file beyond it, so
/// a report of a run of any size holds at most the threshold in memory.
final class SpillBuffer {
    /// Bytes kept in memory before spilling.
    static let defaultThreshold = 1 << 20

    private let threshold: Int
    private var memory: [UInt8] = []
    private var file: FileHandle?
    private var fileURL: URL?
    /// A spill failed (a full disk, a file size limit): everything from then on stays in memory.
    private var spillFailed = false
    /// Bytes appended so far.
    private(set) var count = 0

    init(threshold: Int = SpillBuffer.defaultThreshold) { self.threshold = threshold }

    deinit {
        try? file?.close()
        if let fileURL { try? FileManager.default.removeItem(at: fileURL) }
    }

    /// Appends `text`.
    func append(_ text: String) { append(bytes: text.utf8) }

    /// Appends text already encoded as UTF-8.
    func append(bytes: some Collection<UInt8>) {
        count += bytes.count
        memory.append(contentsOf: bytes)
        if memory.count >= threshold { spill() }
    }

    private func spill() {
        guard !spillFailed else { return }
        if file == nil {
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("smtp-scenario-report-\(UUID().uuidString).part")
            guard FileManager.default.createFile(atPath: url.path, contents: nil),
                let handle = try? FileHandle(forUpdating: url)
            else { return }  // no temporary space: keep it in memory rather than lose it
            file = handle
            fileURL = url
        }
        guard let file else { return }
        // FileHandle.write(_:) traps on a failed write; this one throws. A partial write is cut off again, so the
        // file holds exactly what was spilled before and the rest stays in memory, in order.
        let spilled = (try? file.offset()) ?? 0
        do {
            try file.write(contentsOf: memory)
            memory.removeAll(keepingCapacity: true)
        } catch {
            spillFailed = true
            try? file.truncate(atOffset: spilled)
        }
    }

    /// Writes everything appended, in order, to `sink`, in chunks.
    func copy(to sink: (Data) -> Void) {
        if let file {
            try? file.seek(toOffset: 0)
            while let chunk = try? file.read(upToCount: 1 << 20), !chunk.isEmpty { sink(chunk) }
            _ = try? file.seekToEnd()
        }
        if !memory.isEmpty { sink(Data(memory)) }
    }

    /// Everything appended, as text (for small outputs and tests).
    var text: String {
        var data = Data()
        copy { data.append($0) }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A file written in one piece: to a temporary name beside it, then renamed, so no reader (and no interrupted
/// run) ever sees half of it. A path that names a stream rather than a file (`/dev/stdout`, `/dev/null`, a named
/// pipe, a terminal) is written in place, and a symbolic link is followed, so the link stays and its target changes.
public struct AtomicFile {
    let path: String

    /// A file at `path`.
    public init(path: String) { self.path = path }

    /// Writes the pieces `write` produces to `path`, atomically. Returns an error message, or nil.
    public func write(_ produce: ((Data) -> Void) -> Void) -> String? {
        if isStream { return writeInPlace(produce) }
        // Renaming onto a link would replace the link with a file; the file it points to is the one to replace.
        let url = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        let folder = url.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), !isFolder.boolValue {
            return "cannot write \(path): \(folder.path) is a file, not a folder"
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            return "cannot create \(folder.path): \(SystemError.reason(error))"
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { return "cannot write \(path): \(SystemError.describe(errno))" }
        if let failure = write(produce, to: descriptor) {
            try? FileManager.default.removeItem(at: temporary)
            return failure
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = SystemError.describe(errno)
            try? FileManager.default.removeItem(at: temporary)
            return "cannot write \(path): \(reason)"
        }
        return nil
    }

    /// Whether `path` names a stream: something that exists and is not a regular file or a folder (a device, a
    /// pipe, a socket), or a path that is or links through /dev or /proc, such as `/dev/stdout` when standard output
    /// is a file. Renaming a temporary file onto one would replace it, for every other program too when run as root.
    private var isStream: Bool {
        var current = path
        for _ in 0..<40 {
            if current.hasPrefix("/dev/") || current.hasPrefix("/proc/") { return true }
            guard let next = try? FileManager.default.destinationOfSymbolicLink(atPath: current) else { break }
            current =
                next.hasPrefix("/")
                ? next : URL(fileURLWithPath: current).deletingLastPathComponent().appendingPathComponent(next).path
        }
        var status = stat()
        guard stat(path, &status) == 0 else { return false }
        let kind = status.st_mode & S_IFMT
        return kind != S_IFREG && kind != S_IFDIR
    }

    /// Writes to the stream at `path` as it is, appending (so a report sent to `/dev/stdout` redirected to a file
    /// follows what the console wrote there instead of overwriting it).
    private func writeInPlace(_ produce: ((Data) -> Void) -> Void) -> String? {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { return "cannot write \(path): \(SystemError.describe(errno))" }
        return write(produce, to: descriptor)
    }

    /// Writes the pieces to `descriptor` and closes it; an error message, or nil.
    private func write(_ produce: ((Data) -> Void) -> Void, to descriptor: Int32) -> String? {
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        // FileHandle.write(_:) traps on a failed write (a full disk, a file size limit); this one throws, and the
        // first failure ends the file.
        var failure: Error?
        produce { data in
            guard failure == nil else { return }
            do { try handle.write(contentsOf: data) } catch { failure = error }
        }
        do {
            try handle.close()
        } catch {
            failure = failure ?? error
        }
        return failure.map { "cannot write \(path): \(SystemError.reason($0))" }
    }
}

/// Where reports say a file could not be written (standard error by default).
public typealias ReportErrorSink = @Sendable (String) -> Void
