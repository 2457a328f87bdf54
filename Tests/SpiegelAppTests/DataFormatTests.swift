import Foundation
import Testing

/// Data directories as released versions wrote them stay readable. `Fixtures/data-format-1.tar.gz`
/// is the first format, as `spiegel chat` of that version left it (no format mark yet): one
/// coachee, three answers. Its master key is a test key made for this fixture alone (the bytes 0
/// to 31), protecting three made-up answers: no secret.
@Suite struct DataFormatTests {
    typealias Run = SpiegelProcessTests.Run
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").standardizedFileURL
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let fixtureKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    @Test func theFirstFormatIsReadAndItsConversationGoesOn() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-format-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let untar = Process()
        untar.executableURL = URL(fileURLWithPath: "/bin/tar")
        untar.arguments = ["-xzf", Self.fixtures.appendingPathComponent("data-format-1.tar.gz").path, "-C", root.path]
        try untar.run()
        untar.waitUntilExit()
        #expect(untar.terminationStatus == 0)
        let environment = [
            "SPIEGEL_DATA_DIR": root.appendingPathComponent("data").path, "SPIEGEL_VAULT_MASTER_KEY": Self.fixtureKey, "SPIEGEL_PROMPTS_DIR": Self.prompts,
        ]
        let export = try Run(["export", "--user", "@an:school.example"], environment: environment)
        #expect(try await export.exitStatus() == 0, "\(export.standardError)")
        #expect(export.standardOutput.contains("Rust bij de start van mijn lessen"))
        let chat = try Run(["chat", "--user", "@an:school.example"], environment: environment, input: "\n")
        #expect(try await chat.exitStatus() == 0)
        #expect(chat.standardOutput.contains("Welk moment uit je les blijft je het meest bij?"))
        // And `doctor` finds nothing wrong with it.
        let doctor = try Run(["doctor"], environment: environment)
        #expect(try await doctor.exitStatus() == 0, "\(doctor.standardOutput)")
    }
}
