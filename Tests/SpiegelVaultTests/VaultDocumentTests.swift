import Foundation
import SpiegelVault
import Synchronization
import Testing

/// Spiegel's own state in the vault's system namespace: written whole before a change counts,
/// two journals taking turns so that a crash at any point leaves a whole state, and out of reach
/// of retention and of a coachee's erasure.
@Suite struct VaultDocumentTests {
    struct Book: Codable, Equatable, Sendable {
        var entries: [String] = []
    }

    let fixture = VaultFixture()

    @Test func theNewestContentsSurviveARestartAcrossJournalTurns() async throws {
        var vault = try self.fixture.open()
        var book = VaultDocument(vault: vault, name: "book", initial: Book(), snapshotsPerJournal: 5)
        #expect(try await book.contents() == Book())
        for index in 1...12 {
            try await book.update { $0.entries.append("e\(index)") }
        }
        // Twelve writes of five a journal: the journals took turns twice; one is left.
        let journals = [SystemJournalID("book.a"), SystemJournalID("book.b")]
        #expect(journals.filter { vault.contains($0) }.count == 1)
        let kept = try await journals.asyncMap { try await vault.records(of: $0).count }
        #expect(kept.max() == 2, "the journal in use holds the snapshots since its turn began")
        try await vault.close()

        vault = try self.fixture.open()
        book = VaultDocument(vault: vault, name: "book", initial: Book(), snapshotsPerJournal: 5)
        #expect(try await book.contents().entries == (1...12).map { "e\($0)" })
        try await vault.close()
    }

    @Test func aCrashBetweenTheTwoJournalsKeepsTheNewerContents() async throws {
        let vault = try self.fixture.open()
        // As if a turn was cut short: the new journal written, the old one not yet erased.
        func stored(_ generation: Int, _ entry: String) -> NewRecord {
            NewRecord(.snapshot, Array(#"{"generation":\#(generation),"contents":{"entries":["\#(entry)"]}}"#.utf8))
        }
        try await vault.append([stored(8, "new")], to: SystemJournalID("book.a"))
        try await vault.append([stored(7, "old")], to: SystemJournalID("book.b"))
        let book = VaultDocument(vault: vault, name: "book", initial: Book())
        #expect(try await book.contents().entries == ["new"])
        try await book.update { $0.entries.append("newer") }
        let reread = VaultDocument(vault: vault, name: "book", initial: Book())
        #expect(try await reread.contents().entries == ["new", "newer"])
        try await vault.close()
    }

    @Test func retentionAndACoacheesErasureNeverTouchSystemState() async throws {
        let vault = try self.fixture.open()
        let book = VaultDocument(vault: vault, name: "book", initial: Book())
        try await book.update { $0.entries = ["round 1"] }
        let alice = CoacheeID("@alice:school.example")
        try await vault.append([VaultFixture.text("een antwoord")], for: alice)
        #expect(try vault.coacheeCount() == 1, "a system journal is no coachee")
        // Everything is older than this cutoff, in 2096: every coachee goes, the system stays.
        let erased = try await vault.eraseInactive(before: Date(timeIntervalSince1970: 4_000_000_000))
        #expect(erased == 1 && !vault.contains(alice))
        #expect(try vault.coacheeCount() == 0)
        let reread = VaultDocument(vault: vault, name: "book", initial: Book())
        #expect(try await reread.contents().entries == ["round 1"])
        // A coachee whose id looks like a system journal's name is still a coachee of their own.
        try await vault.append([VaultFixture.text("x")], for: CoacheeID("book.a"))
        try await vault.forget(CoacheeID("book.a"))
        #expect(vault.contains(SystemJournalID("book.a")))
        #expect(try await vault.verifyAll().journals == 1)
        try await vault.close()
    }

    @Test func aCoacheesCompanionDocumentIsErasedWithThemByForgetAndByRetention() async throws {
        let vault = try self.fixture.open()
        let told = Mutex<[Pseudonym]>([])
        vault.onErasure { pseudonym in told.withLock { $0.append(pseudonym) } }
        let alice = CoacheeID("@alice:school.example"), bob = CoacheeID("@bob:school.example")
        for coachee in [alice, bob] {
            try await vault.append([VaultFixture.text("een antwoord")], for: coachee)
            let companion = VaultDocument(vault: vault, name: vault.companionName(of: coachee), initial: Book())
            try await companion.update { $0.entries = ["sessions of \(coachee.rawValue)"] }
        }
        #expect(vault.companionName(of: alice) != vault.companionName(of: bob))
        #expect(!vault.companionName(of: alice).contains("alice"), "the name holds the pseudonym, not the user id")

        try await vault.forget(alice)
        #expect(!vault.contains(SystemJournalID(vault.companionName(of: alice) + ".a")))
        #expect(vault.contains(SystemJournalID(vault.companionName(of: bob) + ".a")), "another coachee's companion stays")
        #expect(told.withLock { $0 } == [vault.pseudonym(of: alice)])
        let reread = VaultDocument(vault: vault, name: vault.companionName(of: alice), initial: Book())
        #expect(try await reread.contents() == Book())
        // An object still in use starts again empty after a reset: nothing of before comes back.
        let inUse = VaultDocument(vault: vault, name: vault.companionName(of: bob), initial: Book())
        #expect(try await inUse.contents().entries.count == 1)
        try await inUse.reset()
        try await inUse.update { $0.entries.append("after") }
        #expect(try await VaultDocument(vault: vault, name: vault.companionName(of: bob), initial: Book()).contents().entries == ["after"])

        // Retention: bob is inactive long before this cutoff (in 2096).
        #expect(try await vault.eraseInactive(before: Date(timeIntervalSince1970: 4_000_000_000)) == 1)
        #expect(!vault.contains(SystemJournalID(vault.companionName(of: bob) + ".a")))
        #expect(told.withLock { $0 } == [vault.pseudonym(of: alice), vault.pseudonym(of: bob)])
        try await vault.close()
    }

    @Test func formatOnesCoacheeNamedJournalsAreMovedOverOnce() async throws {
        let vault = try self.fixture.open()
        let legacy = [CoacheeID("spiegel:book:a"), CoacheeID("spiegel:book:b")]
        // Data format 1: the contents themselves as snapshots of a coachee named `spiegel:…`.
        try await vault.append([NewRecord(.snapshot, Array(#"{"entries":["older"]}"#.utf8), time: Date(timeIntervalSince1970: 1_790_000_000))], for: legacy[0])
        try await vault.append([NewRecord(.snapshot, Array(#"{"entries":["newer"]}"#.utf8), time: Date(timeIntervalSince1970: 1_790_000_060))], for: legacy[1])
        let book = VaultDocument(vault: vault, name: "book", initial: Book(), legacyOwners: legacy)
        #expect(try await book.contents().entries == ["newer"])
        #expect(!vault.contains(legacy[0]) && !vault.contains(legacy[1]))
        #expect(try vault.coacheeCount() == 0)
        try await vault.close()

        let reopened = try self.fixture.open()
        let again = VaultDocument(vault: reopened, name: "book", initial: Book(), legacyOwners: legacy)
        #expect(try await again.contents().entries == ["newer"])
        try await reopened.close()
    }

    @Test func aBackupAndAKeyRotationCarryTheSystemNamespace() async throws {
        let vault = try self.fixture.open()
        try await VaultDocument(vault: vault, name: "book", initial: Book()).update { $0.entries = ["kept"] }
        try await vault.close()
        let copy = self.fixture.root + "-copy"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        #expect(try VaultBackup.copy(from: self.fixture.root, to: copy).coachees == 1)
        let newKey = MasterKey.generate()
        #expect(try KeyRotation.rotate(vault: copy, from: self.fixture.key, to: newKey) == 2, "the naming key and the document's key")
        let restored = try Vault(configuration: VaultConfiguration(directory: copy), masterKey: newKey, logger: self.fixture.logger)
        #expect(try await VaultDocument(vault: restored, name: "book", initial: Book()).contents().entries == ["kept"])
        try await restored.close()
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
