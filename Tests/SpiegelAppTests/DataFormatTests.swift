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

    /// When the fixture's conversation was last touched: 2026-11-26 12:45:21 UTC. A fixture keeps
    /// its dates; each test says how long after it the teacher comes back.
    static let lastTouched = Date(timeIntervalSince1970: 1_795_697_121)

    /// The fixture unpacked in a fresh directory, and the environment that opens it.
    static func unpacked() throws -> (root: URL, environment: [String: String]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-format-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let untar = Process()
        untar.executableURL = URL(fileURLWithPath: "/bin/tar")
        untar.arguments = ["-xzf", Self.fixtures.appendingPathComponent("data-format-1.tar.gz").path, "-C", root.path]
        try untar.run()
        untar.waitUntilExit()
        #expect(untar.terminationStatus == 0)
        let environment = [
            "SPIEGEL_DATA_DIR": root.appendingPathComponent("data").path, "SPIEGEL_VAULT_MASTER_KEY": Self.fixtureKey, "SPIEGEL_PROMPTS_DIR": Self.prompts,
        ]
        return (root, environment)
    }

    @Test func theFirstFormatIsReadAndItsConversationGoesOn() async throws {
        let (root, environment) = try Self.unpacked()
        defer { try? FileManager.default.removeItem(at: root) }
        let export = try Run(["export", "--user", "@an:school.example"], environment: environment, at: Self.lastTouched + 600)
        #expect(try await export.exitStatus() == 0, "\(export.standardError)")
        #expect(export.standardOutput.contains("Rust bij de start van mijn lessen"))
        // The process runs at the date the test gave it.
        #expect(export.standardOutput.contains("Exported: 2026-11-26T12:55:"), "\(export.standardOutput.prefix(200))")
        // Ten minutes after the last answer the conversation simply goes on.
        let chat = try Run(["chat", "--user", "@an:school.example"], environment: environment, input: "\n", at: Self.lastTouched + 600)
        #expect(try await chat.exitStatus() == 0)
        #expect(chat.standardOutput.contains("Welk moment uit je les blijft je het meest bij?"), "\(chat.standardOutput)")
        #expect(!chat.standardOutput.contains("Welkom terug"))
        // And `doctor` finds nothing wrong with it.
        let doctor = try Run(["doctor"], environment: environment)
        #expect(try await doctor.exitStatus() == 0, "\(doctor.standardOutput)")
    }

    @Test func aWeekLaterTheFirstFormatsConversationResumesOnHervat() async throws {
        let (root, environment) = try Self.unpacked()
        defer { try? FileManager.default.removeItem(at: root) }
        let chat = try Run(["chat", "--user", "@an:school.example"], environment: environment, input: "hervat\n", at: Self.lastTouched + 7 * 86_400)
        #expect(try await chat.exitStatus() == 0)
        let output = chat.standardOutput
        #expect(output.contains("Welkom terug! We waren gebleven in: Reflectie na een les."), "\(output)")
        let welcome = try #require(output.range(of: "Welkom terug"))
        #expect(output[welcome.upperBound...].contains("Welk moment uit je les blijft je het meest bij?"), "\(output)")
    }
}
