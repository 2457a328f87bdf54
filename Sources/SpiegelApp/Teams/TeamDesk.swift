import Foundation
import SpiegelChat
import SpiegelDialogue
import SpiegelSchedule

/// Lesson-study rounds told to the bot in chat, by a team's members or coaches, in their direct
/// chat or in the team room:
///
/// - `nieuwe ronde: @an @bram, @cas @dirk` (English `new round: …`): a new round of the sender's
///   team with these duos (each two members of the team); it replaces a round still open.
/// - `onze les is dinsdag 14/1 om 10u`, `observatie 14 januari` (English `our lesson is …`,
///   `observation …`): the observed lesson of the sender's duo in the open round.
/// - `ronde` / `round`: what is known of the open round.
///
/// Every answer says back what was understood. Once every duo's lesson is known, the intervision
/// reminder is due about a week after the last one (``TeamReminderService``). Nothing of this is
/// coaching: it is not journalled in anyone's conversation.
struct TeamDesk: Sendable {
    let teams: TeamsInEffect
    let book: TeamBook
    let library: DialogueLibrary
    let language: String
    let now: @Sendable () -> Date

    /// The team `user` belongs to (as member or coach) in `transport`.
    func team(of user: String, transport: String) -> TeamsFile.Team? {
        self.teams.teams.first { $0.transport == transport && $0.everyone.contains(user) }
    }

    /// Whether the message reads as a round command of a team member (no side effects: the
    /// gateway asks before it decides where the message goes).
    func isRoundCommand(_ message: ChatMessage, transport: String) -> Bool {
        guard self.team(of: message.user, transport: transport) != nil else { return false }
        let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let lower = text.lowercased()
        return Self.after(Self.newRoundPrefixes, in: text, lower: lower) != nil || Self.after(Self.lessonPrefixes, in: text, lower: lower) != nil
            || Self.isStatusQuestion(lower)
    }

    private static let newRoundPrefixes = ["nieuwe ronde", "new round"]
    private static let lessonPrefixes = ["onze les is", "onze les", "observatie", "our lesson is", "observation"]

    private static func isStatusQuestion(_ lower: String) -> Bool {
        ["ronde", "round", "de ronde", "stand van de ronde"].contains(lower.trimmingCharacters(in: CharacterSet(charactersIn: "?!. ")))
    }

    /// The answer to a round command, or `nil` when the message is not one.
    func handle(_ message: ChatMessage, transport: String) async throws -> [String]? {
        let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let lower = text.lowercased()
        guard let team = self.team(of: message.user, transport: transport) else { return nil }
        if let rest = Self.after(Self.newRoundPrefixes, in: text, lower: lower) {
            return try await self.newRound(team, duosText: rest, by: message.user)
        }
        if let rest = Self.after(Self.lessonPrefixes, in: text, lower: lower) {
            return try await self.lesson(team, when: rest, by: message.user)
        }
        if Self.isStatusQuestion(lower) {
            return [self.status(team, in: try await self.book.contents())]
        }
        return nil
    }

    private func newRound(_ team: TeamsFile.Team, duosText: String, by user: String) async throws -> [String] {
        let mentioned = duosText.split { $0 == "," || $0 == ";" || $0 == "\n" }.map { part in
            part.split { $0 == " " || $0 == "+" || $0 == "&" }.map(String.init).filter { $0.hasPrefix("@") }
        }.filter { !$0.isEmpty }
        let named = mentioned.flatMap { $0 }
        guard !mentioned.isEmpty, mentioned.allSatisfy({ $0.count == 2 }), Set(named).count == named.count else {
            return [self.text("round_duos_unclear")]
        }
        if let stranger = named.first(where: { team.member(named: $0) == nil }) {
            return [self.text("round_not_member", ["user": stranger])]
        }
        let groups = mentioned.map { duo in duo.compactMap { team.member(named: $0) } }
        let round = LessonStudyRound(id: "\(team.id)-\(Int(self.now().timeIntervalSince1970))", team: team.id, duos: groups, lessons: [])
        try await self.book.update { contents in
            contents.rounds.removeAll { $0.team == team.id && !Self.isComplete($0) }
            contents.rounds.append(round)
        }
        let duos = groups.map { TeamsFile.display($0).joined(separator: " & ") }.joined(separator: ", ")
        return [self.text("round_started", ["team": team.name ?? team.id, "duos": duos])]
    }

    private func lesson(_ team: TeamsFile.Team, when: String, by user: String) async throws -> [String] {
        guard let timeZone = TimeZone(identifier: team.timeZone),
            let parsed = DutchDateParser.parse(when, now: self.now(), timeZone: timeZone)
        else {
            return [self.text("round_date_unclear")]
        }
        let time = parsed.time.flatMap { LocalTime(hour: $0.hour ?? 0, minute: $0.minute ?? 0) }
        let outcome: (duo: [String], complete: Bool, last: DateComponents?)? = try await self.book.update { contents in
            guard let index = contents.rounds.lastIndex(where: { $0.team == team.id }),
                let duo = contents.rounds[index].duos.firstIndex(where: { $0.contains(user) })
            else { return nil }
            contents.rounds[index].lessons.removeAll { $0.duo == duo }
            contents.rounds[index].lessons.append(ObservedLesson(duo: duo, day: parsed.day, time: time))
            let round = contents.rounds[index]
            return (round.duos[duo], Self.isComplete(round), Self.lastLesson(round))
        }
        guard let outcome else { return [self.text("round_no_duo")] }
        var replies = [self.text("round_lesson_noted", [
            "duo": TeamsFile.display(outcome.duo).joined(separator: " & "), "when": DutchDateParser.format(parsed, language: self.language),
        ])]
        if outcome.complete, let last = outcome.last {
            replies.append(self.text("round_complete", ["date": self.intervisionDay(after: last, team: team), "room": team.name ?? team.id]))
        }
        return replies
    }

    private func status(_ team: TeamsFile.Team, in contents: TeamBook.Contents) -> String {
        guard let round = contents.rounds.last(where: { $0.team == team.id }) else { return self.text("round_none") }
        let lines = round.duos.enumerated().map { index, duo -> String in
            let lesson = round.lessons.first { $0.duo == index }
            let when = lesson.map { Self.dayText($0.day) + ($0.time.map { " \($0)" } ?? "") } ?? "?"
            return "– " + TeamsFile.display(duo).joined(separator: " & ") + ": " + when
        }
        return ([self.text("round_status")] + lines).joined(separator: "\n")
    }

    /// The day the intervision reminder is planned for (the planner's rule: the lead in days, then
    /// off days skipped), for the confirmation.
    private func intervisionDay(after last: DateComponents, team: TeamsFile.Team) -> String {
        let calendar = Calendar(identifier: .gregorian)
        guard let day = calendar.date(from: last), let due = calendar.date(byAdding: .day, value: team.intervision.afterDays, to: day) else {
            return Self.dayText(last)
        }
        return Self.dayText(calendar.dateComponents([.year, .month, .day], from: due))
    }

    static func isComplete(_ round: LessonStudyRound) -> Bool {
        round.duos.indices.allSatisfy { index in round.lessons.contains { $0.duo == index } }
    }

    static func lastLesson(_ round: LessonStudyRound) -> DateComponents? {
        round.lessons.map(\.day).max { ($0.year ?? 0, $0.month ?? 0, $0.day ?? 0) < ($1.year ?? 0, $1.month ?? 0, $1.day ?? 0) }
    }

    static func dayText(_ day: DateComponents) -> String {
        "\(day.day ?? 0)/\(day.month ?? 0)/\(day.year ?? 0)"
    }

    private static func after(_ prefixes: [String], in text: String, lower: String) -> String? {
        for prefix in prefixes where lower.hasPrefix(prefix) {
            return String(text.dropFirst(prefix.count)).trimmingCharacters(in: CharacterSet(charactersIn: " :"))
        }
        return nil
    }

    private func text(_ key: String, _ values: [String: String] = [:]) -> String {
        self.library.serviceMessage(key, in: self.language, fallback: key, values)
    }
}
