import Foundation
import Logging
@testable import SpiegelApp
import SpiegelVault
import Testing

/// The Matrix connection's memory in the vault: every change written before it counts, the two
/// journals taking turns so that a crash at any point leaves a whole state.
@Suite struct MatrixStateTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-matrix-state-\(UUID().uuidString)").path
    let key = MasterKey.generate()

    func openVault() throws -> Vault {
        try Vault(configuration: VaultConfiguration(directory: self.directory), masterKey: self.key, logger: Logger(label: "test.matrix-state"))
    }

    @Test func theNewestStateSurvivesARestartAcrossJournalTurns() async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        var vault = try self.openVault()
        var state = MatrixState(vault: vault, snapshotsPerJournal: 5)
        try await state.load()
        #expect(state.contents == MatrixState.Contents() && state.isLoaded)
        for index in 1...12 {
            try await state.update { contents in
                contents.since = "s\(index)"
                contents.transactions.append("t\(index)/0")
                if index == 3 { contents.rooms["!a:s"] = MatrixState.RoomNotes(greeted: true) }
            }
        }
        // Twelve writes of five a journal: the journals took turns twice; only one is left.
        #expect([vault.contains(MatrixState.owners[0]), vault.contains(MatrixState.owners[1])].filter { $0 }.count == 1)
        try await vault.close()

        vault = try self.openVault()
        state = MatrixState(vault: vault, snapshotsPerJournal: 5)
        try await state.load()
        #expect(state.contents.since == "s12" && state.contents.generation == 12)
        #expect(state.hasAccepted(transaction: "t1/0") && state.hasAccepted(transaction: "t12/0") && !state.hasAccepted(transaction: "t13/0"))
        #expect(state.notes(of: "!a:s").greeted && !state.notes(of: "!b:s").greeted)
        try await vault.close()
    }

    @Test func aCrashBetweenTheTwoJournalsKeepsTheNewerState() async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let vault = try self.openVault()
        // As if a turn was cut short: the new journal written, the old one not yet erased.
        var old = MatrixState.Contents()
        old.generation = 7
        old.since = "old"
        var new = old
        new.generation = 8
        new.since = "new"
        _ = try await vault.append([NewRecord(.snapshot, [UInt8](try JSONEncoder().encode(new)))], for: MatrixState.owners[0])
        _ = try await vault.append([NewRecord(.snapshot, [UInt8](try JSONEncoder().encode(old)))], for: MatrixState.owners[1])
        let state = MatrixState(vault: vault)
        try await state.load()
        #expect(state.contents.since == "new")
        try await state.update { $0.since = "newer" }
        #expect(state.contents.generation == 9)
        try await vault.close()
    }

    @Test func onlyTheLatestTransactionsAreRemembered() async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let vault = try self.openVault()
        let state = MatrixState(vault: vault)
        try await state.load()
        try await state.update { $0.transactions = (0..<(MatrixState.transactionMemory + 10)).map { "t\($0)" } }
        #expect(state.contents.transactions.count == MatrixState.transactionMemory)
        #expect(!state.hasAccepted(transaction: "t9") && state.hasAccepted(transaction: "t10"))
        try await vault.close()
    }
}
