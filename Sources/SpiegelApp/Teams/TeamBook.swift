import Foundation
import SpiegelSchedule
import SpiegelVault

/// The lesson-study rounds and which team reminders went out: a ``VaultDocument`` (`teams`),
/// written after every change, so a restart neither loses a round nor sends a reminder twice.
final class TeamBook: Sendable {
    struct Contents: Codable, Equatable, Sendable {
        var rounds: [LessonStudyRound] = []
        var scheduler = SchedulerState()
        /// When each recurring rule (`<team>/<name>`) was first seen: an occurrence due before
        /// that is not the rule's to send (a rule added at 08:30 does not send its 08:00).
        var rulesSeen: [String: Date] = [:]

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.rounds = try container.decode([LessonStudyRound].self, forKey: .rounds)
            self.scheduler = try container.decode(SchedulerState.self, forKey: .scheduler)
            // Books written before rules were dated have none.
            self.rulesSeen = try container.decodeIfPresent([String: Date].self, forKey: .rulesSeen) ?? [:]
        }
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
