import Foundation
import SpiegelVault
import Synchronization

/// When to send the one gentle reminder to a coachee whose conversation went quiet, kept
/// encrypted in the vault (under the reserved name `spiegel:reminders`) and written at most once
/// per tick, or at once when an entry must go (erasure).
final class ReminderBook: Sendable {
    /// The vault name of the book; chat user ids cannot start with `spiegel:`.
    static let owner = CoacheeID("spiegel:reminders")

    private struct Entry: Codable, Equatable {
        var user: String
        var due: Date
    }

    private struct Contents: Codable {
        var entries: [Entry] = []
    }

    private let state = Mutex<(due: [String: Date], dirty: Bool)>(([:], false))
    private let vault: Vault

    init(vault: Vault) {
        self.vault = vault
    }

    /// Reads the book from the vault.
    func load() async throws {
        let records = try await self.vault.records(for: Self.owner, fromLatestSnapshot: true)
        guard let last = records.last(where: { $0.type == .snapshot }) else { return }
        let contents = try JSONDecoder().decode(Contents.self, from: Data(last.payload))
        self.state.withLock { $0 = (Dictionary(contents.entries.map { ($0.user, $0.due) }, uniquingKeysWith: max), false) }
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
        try await self.vault.append([NewRecord(.snapshot, [UInt8](try JSONEncoder().encode(snapshot)))], for: Self.owner)
    }

    var count: Int { self.state.withLock { $0.due.count } }
}
