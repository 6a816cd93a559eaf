import Foundation

/// Text appended piece by piece, kept in memory up to a threshold and spilled to a temporary file beyond it, so
/// a report of a run of any size holds at most the threshold in memory.
final class SpillBuffer {
    /// Bytes kept in memory before spilling.
    static let defaultThreshold = 1 << 20

    private let threshold: Int
    private var memory: [UInt8] = []
    private var file: FileHandle?
    private var fileURL: URL?
    /// Bytes appended so far.
    private(set) var count = 0

    init(threshold: Int = SpillBuffer.defaultThreshold) { self.threshold = threshold }

    deinit {
        try? file?.close()
        if let fileURL { try? FileManager.default.removeItem(at: fileURL) }
    }

    /// Appends `text`.
    func append(_ text: String) {
        count += text.utf8.count
        memory.append(contentsOf: text.utf8)
        if memory.count >= threshold { spill() }
    }

    private func spill() {
        if file == nil {
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("smtp-scenario-report-\(UUID().uuidString).part")
            guard FileManager.default.createFile(atPath: url.path, contents: nil),
                let handle = try? FileHandle(forUpdating: url)
            else { return }  // no temporary space: keep it in memory rather than lose it
            file = handle
            fileURL = url
        }
        file?.write(Data(memory))
        memory.removeAll(keepingCapacity: true)
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
/// run) ever sees half of it.
public struct AtomicFile {
    let path: String

    /// A file at `path`.
    public init(path: String) { self.path = path }

    /// Writes the pieces `write` produces to `path`, atomically. Returns an error message, or nil.
    public func write(_ produce: ((Data) -> Void) -> Void) -> String? {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            return "cannot create \(folder.path): \(error.localizedDescription)"
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let handle = try? FileHandle(forWritingTo: temporary)
        else { return "cannot write \(temporary.path)" }
        produce { handle.write($0) }
        do {
            try handle.close()
            if rename(temporary.path, url.path) != 0 {
                throw CocoaError(.fileWriteUnknown)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            return "cannot write \(path): \(String(cString: strerror(errno)))"
        }
        return nil
    }
}

/// Where reports say a file could not be written (standard error by default).
public typealias ReportErrorSink = @Sendable (String) -> Void
