import Foundation
import Logging
import SpiegelChat
import SpiegelVault
import Synchronization

/// What the Matrix connection must remember across restarts, kept encrypted in the vault: the
/// `/sync` position, the application-service transactions already accepted, and what was said
/// once per room (the greeting, the explanation in a shared room, the notice about encryption).
///
/// Every change is written as a whole snapshot. The snapshots go to one of two journals
/// (`spiegel:matrix:a`, `spiegel:matrix:b`); when one grows long, the next snapshot starts the
/// other and only then is the old one erased, so a crash at any point leaves a complete state.
final class MatrixState: Sendable {
    /// Said once in a room.
    struct RoomNotes: Codable, Equatable {
        var greeted = false
        var explained = false
        var encryptionNoticed = false
        var editNoticed = false
        var textOnlyNoticed = false
    }

    struct Contents: Codable, Equatable {
        var generation: UInt64 = 0
        var since: String?
        /// Accepted transaction ids, oldest first, at most ``MatrixState/transactionMemory``.
        var transactions: [String] = []
        var rooms: [String: RoomNotes] = [:]
    }

    static let transactionMemory = 1_024
    static let owners = [CoacheeID("spiegel:matrix:a"), CoacheeID("spiegel:matrix:b")]

    private let vault: Vault
    private let state = Mutex<(contents: Contents, owner: Int, written: Int)>((Contents(), 0, 0))
    private let writeLock = AsyncLock()
    private let loaded = Mutex(false)
    /// Snapshots written to one journal before the next starts the other.
    private let snapshotsPerJournal: Int

    init(vault: Vault, snapshotsPerJournal: Int = 2_000) {
        self.vault = vault
        self.snapshotsPerJournal = snapshotsPerJournal
    }

    /// Reads the newest snapshot of either journal.
    func load() async throws {
        var best: (contents: Contents, owner: Int, written: Int)?
        for (index, owner) in Self.owners.enumerated() {
            let records = try await self.vault.records(for: owner)
            guard let last = records.last(where: { $0.type == .snapshot }) else { continue }
            let contents = try JSONDecoder().decode(Contents.self, from: Data(last.payload))
            if best == nil || contents.generation > best!.contents.generation {
                best = (contents, index, records.count)
            }
        }
        if let best { self.state.withLock { $0 = best } }
        self.loaded.withLock { $0 = true }
    }

    /// Whether ``load()`` finished: until then no transaction is accepted.
    var isLoaded: Bool { self.loaded.withLock { $0 } }

    var contents: Contents { self.state.withLock { $0.contents } }

    /// Whether transaction `id` was accepted before.
    func hasAccepted(transaction id: String) -> Bool {
        self.state.withLock { $0.contents.transactions.contains(id) }
    }

    func notes(of room: String) -> RoomNotes {
        self.state.withLock { $0.contents.rooms[room] ?? RoomNotes() }
    }

    /// Changes the state and writes it before returning.
    func update(_ change: (inout Contents) -> Void) async throws {
        await self.writeLock.lock()
        defer { self.writeLock.unlock() }
        let (contents, owner, startsOver) = self.state.withLock { state -> (Contents, Int, Bool) in
            change(&state.contents)
            state.contents.generation += 1
            if state.contents.transactions.count > Self.transactionMemory {
                state.contents.transactions.removeFirst(state.contents.transactions.count - Self.transactionMemory)
            }
            let startsOver = state.written >= self.snapshotsPerJournal
            return (state.contents, startsOver ? 1 - state.owner : state.owner, startsOver)
        }
        let payload = [UInt8](try JSONEncoder().encode(contents))
        if startsOver {
            // The other journal first holds the whole state; only then is the old one erased.
            try await self.vault.forget(Self.owners[owner], logLevel: .debug)
            _ = try await self.vault.append([NewRecord(.snapshot, payload)], for: Self.owners[owner])
            try await self.vault.forget(Self.owners[1 - owner], logLevel: .debug)
            self.state.withLock { $0.owner = owner; $0.written = 1 }
        } else {
            _ = try await self.vault.append([NewRecord(.snapshot, payload)], for: Self.owners[owner])
            self.state.withLock { $0.written += 1 }
        }
    }
}
