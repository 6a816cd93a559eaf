import Foundation
import MockServer
import SMTPScenarioTesting
import Testing

/// A mock that cannot start says what failed, why, and what to do, instead of NIO's or Foundation's raw error.
@Suite("Mock server start errors", .timeLimit(.minutes(1)))
struct StartErrorTests {
    @Test func aPortInUseIsNamedWithAHint() async throws {
        try await Harness.withMock { first in
            var configuration = MockServer.Configuration()
            configuration.port = first.port
            let error = await #expect(throws: MockServerStartError.self) {
                let second = try await MockServer.start(configuration)
                await second.shutdown()
            }
            #expect(error?.kind == .listen)
            #expect(
                error?.description
                    == "cannot listen on 127.0.0.1:\(first.port): address already in use (another program listens there; stop it or choose another port)"
            )
        }
    }

    @Test func aStoreFolderThatCannotBeCreatedIsNamedWithTheSystemsReason() async throws {
        let directory = try Paths.temporaryDirectory("store-error")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        var configuration = MockServer.Configuration()
        configuration.storeDirectory = file.appendingPathComponent("store")
        let error = await #expect(throws: MockServerStartError.self) {
            let server = try await MockServer.start(configuration)
            await server.shutdown()
        }
        #expect(error?.kind == .storeFolder)
        #expect(error?.description == "cannot create the message store folder \(file.path)/store: not a directory")

        configuration.storeDirectory = file
        let onAFile = await #expect(throws: MockServerStartError.self) {
            let server = try await MockServer.start(configuration)
            await server.shutdown()
        }
        #expect(
            onAFile?.description == "cannot create the message store folder \(file.path): it is a file, not a folder"
        )
    }
}
