import Foundation
import SpiegelChat
import SpiegelSchedule
import SpiegelVault
import Synchronization

/// The lesson-study rounds and which team reminders went out, kept encrypted in the vault (under
/// the reserved name `spiegel:teams`) as a snapshot after every change: a restart neither loses a
/// round nor sends a reminder twice.
final class TeamBook: Sendable {
    struct Contents: Codable, Equatable {
        var rounds: [LessonStudyRound] = []
        var scheduler = SchedulerState()
    }

    static let owner = CoacheeID("spiegel:teams")

    private let vault: Vault
    private let state = Mutex<(contents: Contents, loaded: Bool)>((Contents(), false))
    private let writeLock = AsyncLock()

    init(vault: Vault) {
        self.vault = vault
    }

    /// Reads the book from the vault, once (under the write lock, so nothing writes over an
    /// unread book).
    private func loadIfNeeded() async throws {
        guard !self.state.withLock({ $0.loaded }) else { return }
        let records = try await self.vault.records(for: Self.owner, fromLatestSnapshot: true)
        let contents = try records.last(where: { $0.type == .snapshot }).map { try JSONDecoder().decode(Contents.self, from: Data($0.payload)) }
        self.state.withLock { $0 = (contents ?? Contents(), true) }
    }

    /// The book as it is.
    func contents() async throws -> Contents {
        await self.writeLock.lock()
        defer { self.writeLock.unlock() }
        try await self.loadIfNeeded()
        return self.state.withLock { $0.contents }
    }

    /// Changes the book and writes it before returning; returns what `change` returned.
    @discardableResult
    func update<Result: Sendable>(_ change: (inout Contents) -> Result) async throws -> Result {
        await self.writeLock.lock()
        defer { self.writeLock.unlock() }
        try await self.loadIfNeeded()
        let (result, contents) = self.state.withLock { state in
            let result = change(&state.contents)
            return (result, state.contents)
        }
        _ = try await self.vault.append([NewRecord(.snapshot, [UInt8](try JSONEncoder().encode(contents)))], for: Self.owner)
        return result
    }
}
