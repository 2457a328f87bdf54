import Foundation
import SpiegelSchedule
import SpiegelVault

/// The lesson-study rounds and which team reminders went out: a ``VaultDocument`` (`teams`),
/// written after every change, so a restart neither loses a round nor sends a reminder twice.
final class TeamBook: Sendable {
    struct Contents: Codable, Equatable, Sendable {
        var rounds: [LessonStudyRound] = []
        var scheduler = SchedulerState()
    }

    private let document: VaultDocument<Contents>

    init(vault: Vault) {
        self.document = VaultDocument(vault: vault, name: "teams", initial: Contents(), legacyOwners: [CoacheeID("spiegel:teams")])
    }

    /// The book as it is.
    func contents() async throws -> Contents {
        try await self.document.contents()
    }

    /// Changes the book and writes it before returning; returns what `change` returned.
    @discardableResult
    func update<Result: Sendable>(_ change: (inout Contents) -> Result) async throws -> Result {
        try await self.document.update(change)
    }
}
