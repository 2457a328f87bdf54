import Foundation
import Logging
import SpiegelChat
import SpiegelVault
import Synchronization

/// What the Matrix connection must remember across restarts: the `/sync` position, the
/// application-service transactions already accepted, and what was said once per room (the
/// greeting, the explanation in a shared room, the notice about encryption). A
/// ``VaultDocument`` (`matrix`), written before a transaction or sync batch counts as handled.
final class MatrixState: Sendable {
    /// Said once in a room.
    struct RoomNotes: Codable, Equatable, Sendable {
        var greeted = false
        var explained = false
        var encryptionNoticed = false
        var editNoticed = false
        var textOnlyNoticed = false
    }

    struct Contents: Codable, Equatable, Sendable {
        var since: String?
        /// Accepted transaction ids, oldest first, at most ``MatrixState/transactionMemory``.
        var transactions: [String] = []
        var rooms: [String: RoomNotes] = [:]
    }

    static let transactionMemory = 1_024
    /// Where data format 1 kept it.
    static let legacyOwners = [CoacheeID("spiegel:matrix:a"), CoacheeID("spiegel:matrix:b")]

    private let document: VaultDocument<Contents>

    init(vault: Vault, snapshotsPerJournal: Int = 2_000) {
        self.document = VaultDocument(vault: vault, name: "matrix", initial: Contents(), legacyOwners: Self.legacyOwners, snapshotsPerJournal: snapshotsPerJournal)
    }

    /// Reads the newest snapshot.
    func load() async throws {
        try await self.document.load()
    }

    /// Whether ``load()`` finished: until then no transaction is accepted.
    var isLoaded: Bool { self.document.isLoaded }

    var contents: Contents { self.document.current }

    /// Whether transaction `id` was accepted before.
    func hasAccepted(transaction id: String) -> Bool {
        self.contents.transactions.contains(id)
    }

    func notes(of room: String) -> RoomNotes {
        self.contents.rooms[room] ?? RoomNotes()
    }

    /// Changes the state and writes it before returning.
    func update(_ change: (inout Contents) -> Void) async throws {
        try await self.document.update { contents in
            change(&contents)
            if contents.transactions.count > Self.transactionMemory {
                contents.transactions.removeFirst(contents.transactions.count - Self.transactionMemory)
            }
        }
    }
}
