import Foundation
import SpiegelVault
import Synchronization

/// When to send the one gentle reminder to a coachee whose conversation went quiet: a
/// ``VaultDocument`` (`reminders`) written at most once per tick, or at once when an entry must
/// go (erasure).
final class ReminderBook: Sendable {
    /// Where data format 1 kept the book; chat user ids cannot start with `spiegel:`.
    static let legacyOwner = CoacheeID("spiegel:reminders")

    struct Entry: Codable, Equatable, Sendable {
        var user: String
        var due: Date
    }

    struct Contents: Codable, Sendable {
        var entries: [Entry] = []
    }

    private let state = Mutex<(due: [String: Date], dirty: Bool)>(([:], false))
    private let document: VaultDocument<Contents>

    init(vault: Vault) {
        self.document = VaultDocument(vault: vault, name: "reminders", initial: Contents(), legacyOwners: [Self.legacyOwner])
    }

    /// Reads the book from the vault; what was scheduled before (conversations handled while it
    /// loaded) is newer and stays.
    func load() async throws {
        let contents = try await self.document.contents()
        self.state.withLock { state in
            for entry in contents.entries where state.due[entry.user] == nil {
                state.due[entry.user] = entry.due
            }
        }
    }

    /// Sets or clears the reminder of `coachee`.
    func schedule(_ coachee: CoacheeID, at due: Date?) {
        self.state.withLock { state in
            guard state.due[coachee.rawValue] != due else { return }
            state.due[coachee.rawValue] = due
            state.dirty = true
        }
    }

    /// Removes `coachee` and writes the book at once (after erasure nothing may name them).
    func remove(_ coachee: CoacheeID) async throws {
        let removed = self.state.withLock { $0.due.removeValue(forKey: coachee.rawValue) != nil }
        if removed { try await self.save(force: true) }
    }

    /// The coachees whose reminder is due at `now`, taken out of the book.
    func takeDue(at now: Date) -> [CoacheeID] {
        self.state.withLock { state in
            let due = state.due.filter { $0.value <= now }.keys.sorted()
            for user in due { state.due[user] = nil }
            if !due.isEmpty { state.dirty = true }
            return due.map(CoacheeID.init)
        }
    }

    /// Puts a reminder back (it fell in quiet hours).
    func postpone(_ coachee: CoacheeID, to due: Date) {
        self.schedule(coachee, at: due)
    }

    /// Writes the book when it changed.
    func save(force: Bool = false) async throws {
        let snapshot: Contents? = self.state.withLock { state in
            guard state.dirty || force else { return nil }
            state.dirty = false
            return Contents(entries: state.due.map { Entry(user: $0.key, due: $0.value) }.sorted { $0.user < $1.user })
        }
        guard let snapshot else { return }
        try await self.document.update { $0 = snapshot }
    }

    var count: Int { self.state.withLock { $0.due.count } }
}
