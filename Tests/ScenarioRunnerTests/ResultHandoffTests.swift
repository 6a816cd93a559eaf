import Foundation
import NIOCore
import NIOEmbedded
import ScenarioResults
import Testing

@testable import ScenarioRunner

@Suite("Hand-off of scenarios and results", .timeLimit(.minutes(1)))
struct ResultHandoffTests {
    private func item(_ index: Int) -> ResultHandoff.Item {
        let location = SourceLocation(file: "s.yaml", line: index + 1, column: 3)
        let identity = ScenarioIdentity(name: "s\(index)", location: location, suite: "", tags: [])
        let result = ScenarioResult(
            identity: identity,
            outcome: .passed,
            server: "",
            startedAt: Date(),
            duration: .zero,
            transcript: Transcript()
        )
        return (index, result)
    }

    /// Yields until `condition` holds: the other task has reached the wait the test is about.
    private func until(_ condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    @Test func everyScenarioIsHandedOutOnceAndEveryResultArrives() async {
        let count = 500
        let handoff = ResultHandoff(count: count, writers: 4, capacity: 8, gathering: nil)
        let loop = NIOAsyncTestingEventLoop()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    defer { handoff.finishWriter() }
                    while let index = handoff.claim() { await handoff.put(item(index), on: loop) }
                }
            }
            var received: [Int] = []
            while let batch = await handoff.take() {
                #expect(!batch.isEmpty)
                #expect(batch.count <= 8 + 3, "the capacity, and one more result a task, wait at most")
                received += batch.map(\.index)
            }
            #expect(received.sorted() == Array(0..<count))
        }
        #expect(handoff.claim() == nil)
        await loop.shutdownGracefully()
    }

    @Test func aFullHandOffHoldsTheWriterUntilTheReaderTakes() async {
        let handoff = ResultHandoff(count: 3, writers: 1, capacity: 2, gathering: nil)
        let loop = NIOAsyncTestingEventLoop()
        let writer = Task {
            await handoff.put(item(0), on: loop)
            await handoff.put(item(1), on: loop)
            handoff.finishWriter()
        }
        await until { handoff.waiters.writers == 1 }
        let first = await handoff.take()
        #expect(first?.map(\.index) == [0, 1])
        await writer.value
        #expect(await handoff.take() == nil)
        await loop.shutdownGracefully()
    }

    @Test func resultsGatherUntilTheLoopsTimerAndTheLastWriterWakesTheReaderAtOnce() async {
        let handoff = ResultHandoff(count: 3, writers: 1, capacity: 100, gathering: .milliseconds(5))
        // A loop whose clock the test moves, usable from any thread: an async test resumes on any of the pool's
        // threads, and an EmbeddedEventLoop may only be used (and freed) on the thread that made it.
        let loop = NIOAsyncTestingEventLoop()
        let reader = Task { () -> [[Int]] in
            var batches: [[Int]] = []
            while let batch = await handoff.take() { batches.append(batch.map(\.index)) }
            return batches
        }
        await until { handoff.waiters.reader }
        await handoff.put(item(0), on: loop)
        await handoff.put(item(1), on: loop)
        #expect(handoff.waiters.reader, "two results wait for the timer, and the reader for them")
        await loop.advanceTime(by: .milliseconds(5))
        await until { handoff.waiters.reader }
        await handoff.put(item(2), on: loop)
        // No time passes: the last writer's end hands the result over.
        handoff.finishWriter()
        #expect(await reader.value == [[0, 1], [2]])
        await loop.shutdownGracefully()
    }
}
