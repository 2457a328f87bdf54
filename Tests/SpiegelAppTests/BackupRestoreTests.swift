import Foundation
import SpiegelVault
import Testing

/// `spiegel backup` beside a running `spiegel serve`, then `forget`, then `restore`: the forgotten
/// coachee stays gone, the others come back whole. The real executable, real files.
@Suite struct BackupRestoreTests {
    typealias Run = SpiegelProcessTests.Run
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path

    @Test func aForgottenCoacheeStaysGoneAfterARestore() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let environment = [
            "SPIEGEL_DATA_DIR": root.appendingPathComponent("data").path,
            "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
            "SPIEGEL_PROMPTS_DIR": Self.prompts,
        ]
        let an = try Run(["chat", "--user", "@an:school.example"], environment: environment, input: "hallo\n1\nRust bij de start van mijn les\n")
        #expect(try await an.exitStatus() == 0)
        let bram = try Run(["chat", "--user", "@bram:school.example"], environment: environment, input: "hallo\n1\nMeer tijd voor vragen\n")
        #expect(try await bram.exitStatus() == 0)

        // A backup while the bot runs (it holds the vault's lock; the copy needs none).
        let serve = try Run(["serve"], environment: environment.merging(["SPIEGEL_SERVER_PORT": "0"]) { $1 })
        _ = try await serve.listeningPort()
        let backup = root.appendingPathComponent("backup-1").path
        let copied = try Run(["backup", backup], environment: environment)
        #expect(try await copied.exitStatus() == 0, "\(copied.standardError)")
        #expect(copied.standardOutput.contains("Backed up 2 journals"))
        serve.process.terminate()
        #expect(try await serve.exitStatus() == 0)
        // The copy is encrypted: no teacher's words in any file of it.
        for file in FileManager.default.enumerator(atPath: backup)?.compactMap({ $0 as? String }) ?? [] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: backup + "/" + file, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: backup + "/" + file))
            #expect(bytes.range(of: Data("Rust bij de start".utf8)) == nil && bytes.range(of: Data("Meer tijd".utf8)) == nil, "\(file)")
        }
        #expect(!FileManager.default.fileExists(atPath: backup + "/master.key"))

        // An is forgotten after the backup; the restore brings Bram back and not An.
        let forget = try Run(["forget", "--user", "@an:school.example", "--yes"], environment: environment)
        #expect(try await forget.exitStatus() == 0)
        let wrongKey = try Run(["restore", backup, "--yes"], environment: environment.merging(["SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded]) { $1 })
        #expect(try await wrongKey.exitStatus() == 1)
        #expect(wrongKey.standardError.contains("does not open the backup"))
        let restore = try Run(["restore", backup, "--yes"], environment: environment)
        #expect(try await restore.exitStatus() == 0, "\(restore.standardError)")
        #expect(restore.standardOutput.contains("Restored 1 journals"))
        #expect(restore.standardOutput.contains("erased again since the backup: 1"))

        let anExport = try Run(["export", "--user", "@an:school.example"], environment: environment)
        #expect(try await anExport.exitStatus() == 0)
        #expect(!anExport.standardOutput.contains("Rust bij de start"))
        let bramExport = try Run(["export", "--user", "@bram:school.example"], environment: environment)
        #expect(try await bramExport.exitStatus() == 0)
        #expect(bramExport.standardOutput.contains("Meer tijd voor vragen"))
        // Bram's conversation goes on where it was.
        let bramAgain = try Run(["chat", "--user", "@bram:school.example"], environment: environment, input: "\n")
        #expect(try await bramAgain.exitStatus() == 0)
        #expect(bramAgain.standardOutput.contains("Welk moment uit je les blijft je het meest bij?"))

        // A second restore of the same backup still knows An was erased (the list came along).
        let again = try Run(["restore", backup, "--yes"], environment: environment)
        #expect(try await again.exitStatus() == 0)
        let anAgain = try Run(["export", "--user", "@an:school.example"], environment: environment)
        #expect(try await anAgain.exitStatus() == 0)
        #expect(!anAgain.standardOutput.contains("Rust bij de start"))
    }
}
