import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Where accepted messages go: kept in memory (for tests and the library API) and, with a directory, written as
/// one `.eml` file per message. Files are written under a temporary name and renamed, so a reader never sees a
/// partial message.
public final class MessageStore: Sendable {
    /// A ring: once the limit is reached, every message drops the oldest in O(1) (an array's removeFirst moved
    /// the whole list, a megabyte per message at the default limit).
    private let messages = NIOLockedValueBox(CircularBuffer<StoredMessage>())
    /// Where `.eml` files go, if anywhere.
    public let directory: URL?
    /// Messages kept in memory at most; older ones are dropped first (files stay).
    public let memoryLimit: Int

    /// Creates a store; the directory is created when missing.
    public init(directory: URL? = nil, memoryLimit: Int = 10_000) throws {
        self.directory = directory
        self.memoryLimit = memoryLimit
        if let directory {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
    }

    /// Stores `message`; returns the file it was written to, if any.
    @discardableResult
    public func store(_ message: StoredMessage) throws -> URL? {
        keepInMemory(message)
        return try writeFile(message)
    }

    /// Stores `message` from an event loop: its file (when there is a directory) written on `pool`, so that a slow
    /// disk never stalls the loop and the other sessions it serves, and kept in memory once that file is in place.
    /// The future completes on `eventLoop` then; it fails when the file could not be written, and the message is
    /// not kept at all (the session refuses it).
    public func store(
        _ message: StoredMessage,
        on pool: NIOThreadPool,
        eventLoop: any EventLoop
    ) -> EventLoopFuture<URL?> {
        guard directory != nil else {
            keepInMemory(message)
            return eventLoop.makeSucceededFuture(nil)
        }
        return pool.runIfActive(eventLoop: eventLoop) {
            let file = try self.writeFile(message)
            self.keepInMemory(message)
            return file
        }
    }

    private func keepInMemory(_ message: StoredMessage) {
        guard memoryLimit > 0 else { return }
        messages.withLockedValue { list in
            list.append(message)
            while list.count > memoryLimit { list.removeFirst() }
        }
    }

    private func writeFile(_ message: StoredMessage) throws -> URL? {
        guard let directory else { return nil }
        let file = directory.appendingPathComponent("\(message.id).eml")
        let temporary = directory.appendingPathComponent(".\(message.id).eml.tmp")
        // Built as `Data` directly: `Data(message.data)` would copy the content twice.
        try message.stored(as: Data.self).write(to: temporary)
        try FileManager.default.moveItem(at: temporary, to: file)
        return file
    }

    /// The stored form (trace headers and content) of the message with queue id `id`: from memory, else from its
    /// `.eml` file. Nil while it has not arrived.
    public func data(forID id: String) -> [UInt8]? {
        if let message = messages.withLockedValue({ $0.last { $0.id == id } }) { return message.data }
        guard let directory, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        return FileManager.default.contents(atPath: directory.appendingPathComponent("\(id).eml").path).map(Array.init)
    }

    /// The messages accepted so far, oldest first.
    public var all: [StoredMessage] { messages.withLockedValue { Array($0) } }

    /// Forgets the in-memory messages.
    public func removeAll() { messages.withLockedValue { $0.removeAll() } }
}
