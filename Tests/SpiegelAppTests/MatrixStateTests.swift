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
        #expect([vault.contains(SystemJournalID("matrix.a")), vault.contains(SystemJournalID("matrix.b"))].filter { $0 }.count == 1)
        try await vault.close()

        vault = try self.openVault()
        state = MatrixState(vault: vault, snapshotsPerJournal: 5)
        try await state.load()
        #expect(state.contents.since == "s12")
        #expect(state.hasAccepted(transaction: "t1/0") && state.hasAccepted(transaction: "t12/0") && !state.hasAccepted(transaction: "t13/0"))
        #expect(state.notes(of: "!a:s").greeted && !state.notes(of: "!b:s").greeted)
        try await vault.close()
    }

    @Test func theFirstFormatsStateIsMovedIntoTheSystemNamespace() async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let vault = try self.openVault()
        // Data format 1: two coachee-named journals, each snapshot with a generation of its own.
        let old = #"{"generation":7,"since":"old","transactions":["t1"],"rooms":{}}"#
        let new = #"{"generation":8,"since":"new","transactions":["t1","t2"],"rooms":{"!a:s":{"greeted":true,"explained":false,"encryptionNoticed":false,"editNoticed":false,"textOnlyNoticed":false}}}"#
        try await vault.append([NewRecord(.snapshot, Array(old.utf8), time: Date(timeIntervalSince1970: 1_790_000_000))], for: MatrixState.legacyOwners[1])
        try await vault.append([NewRecord(.snapshot, Array(new.utf8), time: Date(timeIntervalSince1970: 1_790_000_001))], for: MatrixState.legacyOwners[0])
        let state = MatrixState(vault: vault)
        try await state.load()
        #expect(state.contents.since == "new" && state.hasAccepted(transaction: "t2") && state.notes(of: "!a:s").greeted)
        #expect(MatrixState.legacyOwners.allSatisfy { !vault.contains($0) })
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
