import Foundation
import ScenarioResults

/// A piece of a document handed over while it is still being composed (``YAMLDocument/stream(_:file:limits:list:)``).
public enum YAMLPiece: Sendable {
    /// A top-level key with its whole value.
    case entry(YAMLMapping.Entry)
    /// The streamed top-level list begins: its key (with a null value), where the list starts, and where the
    /// top-level mapping starts.
    case listStart(YAMLMapping.Entry, listLocation: SourceLocation, rootLocation: SourceLocation)
    /// One item of that list.
    case item(YAMLValue)
    /// The list ended.
    case listEnd
    /// The document ended. `root` is the whole document when no list was streamed; otherwise its items are not
    /// in it, and a consumer has them already.
    case end(root: YAMLValue?)
    /// The document is not valid YAML or passes a limit; nothing follows.
    case failed(Diagnostic)
}

/// Pieces passed from the thread composing a document to the one compiling it, in order, through a bounded
/// buffer: the composer waits when the compiler is 1,024 pieces behind, so a large list is never whole in memory.
///
/// Pieces move in batches of 64, so the two threads meet under the lock once per batch, not once per piece.
public final class YAMLPieceStream: @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var ready: [YAMLPiece] = []
    /// Guarded by `condition`.
    private var cancelled = false
    /// The composer's batch not yet handed over (composer thread only).
    private var outgoing: [YAMLPiece] = []
    /// The batch being read (consumer thread only).
    private var incoming: [YAMLPiece] = []
    private var incomingIndex = 0

    private static let batch = 64
    private static let capacity = 1024

    init() {}

    /// The next piece, waiting for the composer when it has none ready. Call from one thread only.
    public func next() -> YAMLPiece {
        if incomingIndex == incoming.count {
            incoming.removeAll(keepingCapacity: true)
            incomingIndex = 0
            condition.lock()
            while ready.isEmpty { condition.wait() }
            swap(&incoming, &ready)
            condition.signal()
            condition.unlock()
        }
        let piece = incoming[incomingIndex]
        // Released now rather than with the batch: an item's subtree is freed once its reader is done with it.
        incoming[incomingIndex] = .listEnd
        incomingIndex += 1
        return piece
    }

    /// Stops the composer at its next hand-over; the pieces not read are dropped. Safe to call more than once.
    public func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// Queues `piece` (composer thread); false once the consumer has cancelled.
    func put(_ piece: YAMLPiece) -> Bool {
        outgoing.append(piece)
        switch piece {
        case .end, .failed: return flush()
        default: return outgoing.count < Self.batch || flush()
        }
    }

    private func flush() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, ready.count >= Self.capacity { condition.wait() }
        guard !cancelled else { return false }
        ready.append(contentsOf: outgoing)
        outgoing.removeAll(keepingCapacity: true)
        condition.signal()
        return true
    }
}
