package import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SpiegelChat
import SpiegelDialogue
import SpiegelSchedule
import Synchronization

/// Sends the team reminders: the intervision about a week after the last observed lesson of a
/// round (with the proposed set-up: plenary up to six people, else two groups with every duo
/// split), and the recurring reminders of the teams file, in the team's time zone, never on a
/// holiday or in the weekend (those move to the next school day).
///
/// Exactly once in effect: a due reminder is marked in the team book (in the vault) before it is
/// queued in the outbox, so a crash in between loses it rather than sending it twice; one missed
/// while Spiegel was down is sent if it is at most `teams.grace` late, otherwise dropped and
/// logged (by id: names and dates only ever go to the team room).
package struct TeamReminderService: Service {
    let teams: TeamsInEffect
    let book: TeamBook
    let gateway: ChatGateway
    let library: DialogueLibrary
    let language: String
    let grace: Duration
    let tick: Duration
    let now: @Sendable () -> Date
    let logger: Logger
    private let lastPass = LastPass()

    /// The clock's time at the start of the latest pass that finished: every reminder due by then
    /// is queued (or was dropped as too late).
    package var checkedThrough: Date? {
        self.lastPass.date.withLock { $0 }
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let started = self.now()
                try await self.sendDue()
                self.lastPass.date.withLock { $0 = started }
            } catch {
                self.logger.error("spiegel.teams.reminders_failed", metadata: ["spiegel.error": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.tick) }
        }
    }

    /// Plans every team's reminders around now, claims the due ones in the book, then queues them.
    func sendDue() async throws {
        let now = self.now()
        let rounds = try await self.book.contents().rounds
        let graceSeconds = Double(self.grace / .milliseconds(1)) / 1000
        var reminders: [ScheduledReminder] = []
        let teams = self.teams.teams
        for team in teams {
            reminders += Self.planner(for: team).reminders(
                teams: [Self.schedule(of: team)], rounds: rounds.filter { $0.team == team.id },
                from: now.addingTimeInterval(-graceSeconds - 86_400), through: now.addingTimeInterval(86_400)
            )
        }
        reminders = try await self.withoutOccurrencesBeforeTheirRule(reminders, teams: teams, now: now)
        let state = try await self.book.contents().scheduler
        let preview = Scheduler.due(reminders: reminders, state: state, now: now, grace: self.grace)
        guard !preview.toFire.isEmpty || !preview.dropped.isEmpty else { return }
        let claimed = try await self.book.update { contents in
            Scheduler.claim(reminders: reminders, state: &contents.scheduler, now: now, grace: self.grace)
        }
        for reminder in claimed.dropped {
            self.logger.warning("spiegel.teams.reminder_dropped", metadata: ["spiegel.reminder": "\(reminder.id)", "spiegel.reason": "missed by more than teams.grace"])
            Counter(label: "spiegel_team_reminders_total", dimensions: [("outcome", "dropped")]).increment()
        }
        for reminder in claimed.toFire {
            guard let team = teams.first(where: { $0.id == reminder.team }), self.gateway.serves(team.transport) else { continue }
            try await self.gateway.say(self.render(reminder, team: team), in: team.room, via: team.transport, key: reminder.id, isPrivate: false)
            Counter(label: "spiegel_team_reminders_total", dimensions: [("outcome", "sent")]).increment()
        }
    }

    /// Drops the occurrences of a recurring rule that were due before the rule was first seen
    /// (noting, durably, when new rules are seen now).
    private func withoutOccurrencesBeforeTheirRule(_ reminders: [ScheduledReminder], teams: [TeamsFile.Team], now: Date) async throws -> [ScheduledReminder] {
        var seen = try await self.book.contents().rulesSeen
        let rules = teams.flatMap { team in team.reminders.map { "\(team.id)/\($0.name)" } }
        let new = rules.filter { seen[$0] == nil }
        if !new.isEmpty {
            seen = try await self.book.update { contents in
                for rule in new where contents.rulesSeen[rule] == nil { contents.rulesSeen[rule] = now }
                return contents.rulesSeen
            }
        }
        return reminders.filter { reminder in
            guard case .recurring(let name, _) = reminder.payload, let since = seen["\(reminder.team)/\(name)"] else { return true }
            return reminder.due >= since
        }
    }

    /// The reminder's text: names and dates only.
    func render(_ reminder: ScheduledReminder, team: TeamsFile.Team) -> String {
        switch reminder.payload {
        case .intervision(_, let last, let groups):
            let setup = groups.count <= 1
                ? self.text("team_intervision_plenary", ["count": String(groups.first?.count ?? 0)])
                : self.text("team_intervision_groups", ["group1": TeamsFile.display(groups[0]).joined(separator: ", "), "group2": TeamsFile.display(groups[1]).joined(separator: ", ")])
            return self.text("team_intervision", ["last": TeamDesk.dayText(last), "setup": setup])
        case .lessonReminder(_, let duo, let day, let time):
            return self.text("team_lesson", ["duo": TeamsFile.display(duo).joined(separator: " & "), "day": TeamDesk.dayText(day) + (time.map { " \($0)" } ?? "")])
        case .recurring(let name, let message):
            return message ?? self.text("team_recurring", ["name": name])
        }
    }

    private func text(_ key: String, _ values: [String: String]) -> String {
        self.library.serviceMessage(key, in: self.language, fallback: key, values)
    }

    static func planner(for team: TeamsFile.Team) -> SchedulePlanner {
        SchedulePlanner(
            intervisionLeadDays: team.intervision.afterDays, intervisionTime: LocalTime(parsing: team.intervision.at) ?? .eightAM,
            lessonReminderSchoolDaysBefore: team.lessonReminders ? 1 : nil
        )
    }

    /// The planner's view of a team; the teams file was checked at start, so this cannot fail.
    static func schedule(of team: TeamsFile.Team) -> TeamSchedule {
        TeamSchedule(
            id: team.id, room: team.room, members: team.members, coaches: team.coaches,
            timeZone: TimeZone(identifier: team.timeZone) ?? TeamSchedule.defaultTimeZone,
            holidays: (try? Holidays(parsing: team.holidays)) ?? Holidays(),
            recurring: team.reminders.compactMap { reminder in
                (try? RecurrenceRule(parsing: reminder.rule)).map { RecurringReminder(name: reminder.name, rule: $0, message: reminder.text) }
            }
        )
    }
}

/// Where a ``TeamReminderService`` notes its latest finished pass.
private final class LastPass: Sendable {
    let date = Mutex<Date?>(nil)
}
