import Foundation
import ScenarioLanguage
import Testing

/// Which files a folder given to `run` or `validate` contributes.
@Suite("Scenario discovery")
struct DiscoveryTests {
    /// Regular files and links to them are found; a named pipe is not opened (reading it waited forever for a
    /// writer: `validate` of the folder hung), and a folder named like a file is searched, not read.
    @Test func aFolderContributesRegularFilesAndLinksToThem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("discovery-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("scenarios")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("more.yaml"),
            withIntermediateDirectories: true
        )
        let scenario = Data("name: x\nsteps: [{send: EHLO a}]\n".utf8)
        try scenario.write(to: folder.appendingPathComponent("a.yaml"))
        try scenario.write(to: folder.appendingPathComponent("more.yaml/b.yml"))
        try scenario.write(to: root.appendingPathComponent("outside.yaml"))
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("link.yaml").path,
            withDestinationPath: root.appendingPathComponent("outside.yaml").path
        )
        #expect(mkfifo(folder.appendingPathComponent("pipe.yaml").path, 0o644) == 0)
        try Data("not yaml".utf8).write(to: folder.appendingPathComponent("notes.txt"))

        let files = try ScenarioDiscovery.files(in: [folder.path])
        #expect(files == ["a.yaml", "link.yaml", "more.yaml/b.yml"].map { folder.path + "/" + $0 })
    }

    /// Folders are searched to any depth, hidden ones too; a link to a folder is not followed (a link could lead
    /// back up and loop); a folder given twice, or a file also found in a folder, is compiled once.
    @Test func foldersAreSearchedDeeplyButLinksToFoldersAreNot() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("discovery-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("scenarios")
        let scenario = Data("name: x\nsteps: [{send: EHLO a}]\n".utf8)
        for file in ["deep/er/still/z.yaml", ".hidden/h.yaml", "top.yml"] {
            let url = folder.appendingPathComponent(file)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try scenario.write(to: url)
        }
        let elsewhere = root.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try scenario.write(to: elsewhere.appendingPathComponent("o.yaml"))
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("linked").path,
            withDestinationPath: elsewhere.path
        )
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("loop").path,
            withDestinationPath: folder.path
        )

        let files = try ScenarioDiscovery.files(
            in: [folder.path + "/", folder.path, folder.path + "/./top.yml"]
        )
        #expect(files == [".hidden/h.yaml", "deep/er/still/z.yaml", "top.yml"].map { folder.path + "/" + $0 })
    }
}
