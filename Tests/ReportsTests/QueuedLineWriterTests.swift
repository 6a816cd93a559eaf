import Foundation
import Reports
import Testing

/// The queue between serve's event loop and its output: lines wait while the output is slow, and past the
/// capacity they are dropped and counted, never blocking the writer.
@Suite("Queued line writer")
struct QueuedLineWriterTests {
    /// What the output received; the writer's thread appends, the test reads after `finish`.
    private final class Received: @unchecked Sendable {
        let lock = NSLock()
        var text = ""
        func append(_ more: String) { lock.withLock { text += more } }
    }

    @Test func linesPastTheCapacityAreDroppedAndCountedAfterTheOnesKept() throws {
        let received = Received()
        let called = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let firstCall = NSLock()
        nonisolated(unsafe) var first = true
        let writer = QueuedLineWriter(capacity: 8) { text in
            let isFirst = firstCall.withLock {
                defer { first = false }
                return first
            }
            if isFirst {
                called.signal()
                release.wait()  // a reader that does not read
            }
            received.append(text)
        }
        writer.write("a\n")
        #expect(called.wait(timeout: .now() + 10) == .success)
        // The output is stuck on "a": four lines of two bytes fill the eight, the next three are dropped.
        for line in ["b\n", "c\n", "d\n", "e\n", "f\n", "g\n", "h\n"] { writer.write(line) }
        release.signal()
        #expect(writer.finish(timeout: 10))
        #expect(received.text == "a\nb\nc\nd\ne\n(3 log lines dropped: the output was not being read)\n")
    }

    @Test func finishGivesUpOnAnOutputThatNeverTakesTheLines() {
        let release = DispatchSemaphore(value: 0)
        let writer = QueuedLineWriter(capacity: 100) { _ in release.wait() }
        writer.write("stuck\n")
        writer.write("waiting\n")
        #expect(!writer.finish(timeout: 0.2))
        release.signal()
        release.signal()
    }
}
