import Foundation
import SpiegelSchedule
import Testing

private let brussels = TimeZone(identifier: "Europe/Brussels")!

/// An instant from ISO 8601 UTC text, "2025-03-30T01:00:00Z".
private func instant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)!
}

/// A local day from "YYYY-MM-DD".
private func day(_ text: String) -> DateComponents {
    let parts = text.split(separator: "-").map { Int($0)! }
    return DateComponents(year: parts[0], month: parts[1], day: parts[2])
}

private func time(_ text: String) -> LocalTime { LocalTime(parsing: text)! }

private func rule(_ text: String) throws -> RecurrenceRule { try RecurrenceRule(parsing: text) }

/// "YYYY-MM-DD HH:MM" of `date` in Brussels.
private func local(_ date: Date) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = brussels
    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
    return String(
        format: "%04d-%02d-%02d %02d:%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!)
}

private extension Date {
    func plus(minutes: Double) -> Date { addingTimeInterval(minutes * 60) }
}

/// The caller's loop around the scheduler, with the state persisted as JSON between steps: every
/// step decodes the state from `stored` as a freshly started process would.
private struct Runner {
    var teams: [TeamSchedule]
    var rounds: [LessonStudyRound] = []
    var planner = SchedulePlanner(lessonReminderSchoolDaysBefore: nil)
    var grace: Duration = .seconds(3600)
    /// The persisted state.
    var stored: Data = try! JSONEncoder().encode(SchedulerState())
    var sent: [(reminder: ScheduledReminder, at: Date)] = []
    var dropped: [ScheduledReminder] = []

    init(teams: [TeamSchedule], rounds: [LessonStudyRound] = []) {
        self.teams = teams
        self.rounds = rounds
    }

    /// One wake-up at `now`: plan, claim, persist, then send unless the process dies first.
    mutating func step(at now: Date, crashBeforeSending: Bool = false) throws {
        var state = try JSONDecoder().decode(SchedulerState.self, from: stored)
        let reminders = planner.reminders(
            teams: teams, rounds: rounds, from: now.addingTimeInterval(-grace.inSeconds),
            through: now.addingTimeInterval(2 * 86400))
        let (toFire, late) = Scheduler.claim(reminders: reminders, state: &state, now: now, grace: grace)
        stored = try JSONEncoder().encode(state)  // persisted BEFORE sending: the contract
        guard !crashBeforeSending else { return }
        sent += toFire.map { ($0, now) }
        dropped += late
    }

    /// Steps from `start` to `end` (inclusive) every `minutes`.
    mutating func run(from start: Date, to end: Date, every minutes: Double) throws {
        var now = start
        while now <= end {
            try step(at: now)
            now = now.plus(minutes: minutes)
        }
    }

    func sentIDs() -> [String] { sent.map(\.reminder.id) }
}

private extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

@Suite struct SchedulerTests {
    private let threeDuoTeam = TeamSchedule(
        id: "team-a", room: "!room:example.org", members: ["An", "Bart", "Chris", "Dina", "Els", "Fien"],
        coaches: ["Coach"])

    private var threeDuoRound: LessonStudyRound {
        LessonStudyRound(
            id: "r1", team: "team-a", duos: [["An", "Bart"], ["Chris", "Dina"], ["Els", "Fien"]],
            lessons: [
                ObservedLesson(duo: 0, day: day("2025-03-10"), time: time("10:15")),
                ObservedLesson(duo: 2, day: day("2025-03-14")),  // the last one, no time
                ObservedLesson(duo: 1, day: day("2025-03-12"), time: time("13:30")),
            ])
    }

    // MARK: Intervision

    @Test func intervisionFiresOnceSevenDaysAfterTheLastLessonAtTheConfiguredHour() throws {
        var runner = Runner(teams: [threeDuoTeam], rounds: [threeDuoRound])
        runner.planner.intervisionTime = time("09:15")
        // 2025-03-14 + 7 = Friday 2025-03-21, 09:15 CET = 08:15Z. Every 7 minutes for 3 days.
        try runner.run(from: instant("2025-03-19T00:00:00Z"), to: instant("2025-03-22T00:00:00Z"), every: 7)

        #expect(runner.sentIDs() == ["round:r1:intervision"])
        let (reminder, at) = try #require(runner.sent.first)
        #expect(reminder.due == instant("2025-03-21T08:15:00Z"))
        #expect(local(reminder.due) == "2025-03-21 09:15")
        #expect(at >= reminder.due && at < reminder.due.plus(minutes: 7))
        #expect(reminder.kind == .intervision)
        #expect(reminder.team == "team-a")
        #expect(
            reminder.payload
                == .intervision(
                    roundID: "r1", lastLessonDay: day("2025-03-14"),
                    groups: [["An", "Bart", "Chris", "Dina", "Els", "Fien"]]))
        #expect(runner.dropped.isEmpty)
    }

    @Test func intervisionDefaultsToEightOClockLocal() {
        let reminders = SchedulePlanner(lessonReminderSchoolDaysBefore: nil).reminders(
            teams: [threeDuoTeam], rounds: [threeDuoRound],
            from: instant("2025-03-01T00:00:00Z"), through: instant("2025-04-01T00:00:00Z"))
        #expect(reminders.map(\.id) == ["round:r1:intervision"])
        #expect(reminders.first?.due == instant("2025-03-21T07:00:00Z"))
    }

    @Test func intervisionWithSevenMembersProposesTwoGroups() {
        var team = threeDuoTeam
        team.members.append("Gert")
        let reminders = SchedulePlanner(lessonReminderSchoolDaysBefore: nil).reminders(
            teams: [team], rounds: [threeDuoRound],
            from: instant("2025-03-01T00:00:00Z"), through: instant("2025-04-01T00:00:00Z"))
        guard case .intervision(_, _, let groups) = reminders.first?.payload else {
            Issue.record("no intervision reminder")
            return
        }
        #expect(groups == [["An", "Chris", "Els", "Gert"], ["Bart", "Dina", "Fien"]])
    }

    @Test func lessonRemindersComeTheSchoolDayBeforeAndCarryOnlyNamesAndDates() {
        let reminders = SchedulePlanner(intervisionLeadDays: 7).reminders(
            teams: [threeDuoTeam], rounds: [threeDuoRound],
            from: instant("2025-03-01T00:00:00Z"), through: instant("2025-04-01T00:00:00Z"))
        #expect(
            reminders.map(\.id) == [
                "round:r1:lesson:0:2025-03-10", "round:r1:lesson:1:2025-03-12",
                "round:r1:lesson:2:2025-03-14", "round:r1:intervision",
            ])
        // Monday's lesson: reminded on Friday (the weekend is off).
        #expect(local(reminders[0].due) == "2025-03-07 08:00")
        #expect(local(reminders[1].due) == "2025-03-11 08:00")
        #expect(
            reminders[0].payload
                == .lessonReminder(roundID: "r1", duo: ["An", "Bart"], lessonDay: day("2025-03-10"), time: time("10:15")))
        #expect(
            reminders[2].payload
                == .lessonReminder(roundID: "r1", duo: ["Els", "Fien"], lessonDay: day("2025-03-14"), time: nil))
    }

    // MARK: Daylight saving

    /// A team without weekends off, so Sunday-night times can be tested.
    private var sundayTeam: TeamSchedule {
        TeamSchedule(id: "night", members: ["A", "B"], weekendsOff: false)
    }

    @Test(arguments: [
        // Spring forward: 02:30 does not exist; fires once at 03:00 local = 01:00Z.
        ("2025-03-23", "2025-03-30T01:00:00Z", "2025-03-30 03:00"),
        // Fall back: 02:30 exists twice (00:30Z and 01:30Z); fires once at the first.
        ("2025-10-19", "2025-10-26T00:30:00Z", "2025-10-26 02:30"),
    ])
    func oneOffAtADaylightSavingChangeFiresOnce(lastLesson: String, due: String, localDue: String) throws {
        var runner = Runner(
            teams: [sundayTeam],
            rounds: [LessonStudyRound(id: "dst", team: "night", duos: [["A", "B"]], lessons: [
                ObservedLesson(duo: 0, day: day(lastLesson))
            ])])
        runner.planner.intervisionTime = time("02:30")
        let start = instant(due).plus(minutes: -180)
        try runner.run(from: start, to: start.plus(minutes: 420), every: 1)
        #expect(runner.sentIDs() == ["round:dst:intervision"])
        #expect(runner.sent.first?.at == instant(due))
        #expect(runner.sent.first.map { local($0.reminder.due) } == localDue)
    }

    @Test(arguments: [
        ("2025-03-30", "2025-03-30T01:00:00Z"),
        ("2025-10-26", "2025-10-26T00:30:00Z"),
    ])
    func weeklyRuleAtADaylightSavingChangeFiresOnce(sunday: String, due: String) throws {
        var team = sundayTeam
        team.recurring = [RecurringReminder(name: "nacht", rule: try rule("weekly sun 02:30"), message: "test")]
        var runner = Runner(teams: [team])
        let start = instant(due).plus(minutes: -180)
        try runner.run(from: start, to: start.plus(minutes: 420), every: 1)
        #expect(runner.sentIDs() == ["rule:night:nacht:\(sunday)"])
        #expect(runner.sent.first?.at == instant(due))
        #expect(runner.sent.first?.reminder.payload == .recurring(ruleName: "nacht", message: "test"))
    }

    @Test func localTimeResolutionIsTheDocumentedRule() {
        #expect(time("02:30").date(on: day("2025-03-30"), in: brussels) == instant("2025-03-30T01:00:00Z"))
        #expect(time("02:00").date(on: day("2025-03-30"), in: brussels) == instant("2025-03-30T01:00:00Z"))
        #expect(time("03:00").date(on: day("2025-03-30"), in: brussels) == instant("2025-03-30T01:00:00Z"))
        #expect(time("01:59").date(on: day("2025-03-30"), in: brussels) == instant("2025-03-30T00:59:00Z"))
        #expect(time("02:30").date(on: day("2025-10-26"), in: brussels) == instant("2025-10-26T00:30:00Z"))
        #expect(time("03:00").date(on: day("2025-10-26"), in: brussels) == instant("2025-10-26T02:00:00Z"))
        #expect(time("00:00").date(on: day("2025-10-26"), in: brussels) == instant("2025-10-25T22:00:00Z"))
        #expect(time("08:00").date(on: day("2025-02-30"), in: brussels) == nil)
    }

    @Test func weeklyRuleOccurrencesAtTheChangesFireOnceAndKeepTheirLocalTime() throws {
        let night = try rule("weekly sun 02:30")
        #expect(
            Array(night.occurrences(after: instant("2025-03-20T00:00:00Z"), timeZone: brussels).prefix(3)) == [
                instant("2025-03-23T01:30:00Z"), instant("2025-03-30T01:00:00Z"), instant("2025-04-06T00:30:00Z"),
            ])
        #expect(
            Array(night.occurrences(after: instant("2025-10-15T00:00:00Z"), timeZone: brussels).prefix(3)) == [
                instant("2025-10-19T00:30:00Z"), instant("2025-10-26T00:30:00Z"), instant("2025-11-02T01:30:00Z"),
            ])
        // After the first 02:30 of 26 October, and after the second, the next is a week later.
        #expect(
            night.nextOccurrence(after: instant("2025-10-26T00:30:00Z"), timeZone: brussels)
                == instant("2025-11-02T01:30:00Z"))
        #expect(
            night.nextOccurrence(after: instant("2025-10-26T01:29:00Z"), timeZone: brussels)
                == instant("2025-11-02T01:30:00Z"))

        let monday = try rule("weekly mon 08:30")
        for (start, end) in [("2025-03-01T00:00:00Z", "2025-04-30T00:00:00Z"), ("2025-10-01T00:00:00Z", "2025-11-30T00:00:00Z")] {
            let dates = Array(
                monday.occurrences(after: instant(start), timeZone: brussels).prefix { $0 < instant(end) })
            #expect(dates.count >= 8)
            #expect(dates.allSatisfy { local($0).hasSuffix(" 08:30") })
            let utc = TimeZone(identifier: "UTC")!
            let utcHours = Set(dates.map { date -> Int in
                Calendar(identifier: .gregorian).dateComponents(in: utc, from: date).hour!
            })
            #expect(utcHours == [6, 7])  // the UTC hour moves; the local time does not
            let week: TimeInterval = 7 * 86400
            let allowed: [TimeInterval] = [week - 3600, week, week + 3600]
            for (a, b) in zip(dates, dates.dropFirst()) {
                let gap = b.timeIntervalSince(a)
                #expect(allowed.contains(gap))
            }
        }
    }

    // MARK: Restarts and downtime

    private var mondayTeam: TeamSchedule {
        get throws {
            TeamSchedule(
                id: "team-b", members: ["A", "B"],
                recurring: [RecurringReminder(name: "reflectie", rule: try rule("weekly mon 08:30"), message: "Wie wil deze week reflecteren?")])
        }
    }
    /// Monday 2025-03-17 08:30 CET.
    private let mondayDue = instant("2025-03-17T07:30:00Z")
    private let mondayID = "rule:team-b:reflectie:2025-03-17"

    @Test func restartTheMinuteBeforeTheDueTime() throws {
        var runner = Runner(teams: [try mondayTeam])
        try runner.step(at: mondayDue.plus(minutes: -1))
        #expect(runner.sent.isEmpty)
        // The process restarts: only `stored` survives.
        var restarted = Runner(teams: [try mondayTeam])
        restarted.stored = runner.stored
        try restarted.run(from: mondayDue, to: mondayDue.plus(minutes: 30), every: 1)
        #expect(restarted.sentIDs() == [mondayID])
        #expect(restarted.sent.first?.at == mondayDue)
    }

    @Test func restartDuringSendingLosesTheReminderButNeverSendsItTwice() throws {
        var runner = Runner(teams: [try mondayTeam])
        try runner.step(at: mondayDue.plus(minutes: -1))
        // At the due time the state is persisted, then the process dies before sending.
        try runner.step(at: mondayDue, crashBeforeSending: true)
        #expect(runner.sent.isEmpty)
        var restarted = Runner(teams: [try mondayTeam])
        restarted.stored = runner.stored
        try restarted.run(from: mondayDue.plus(minutes: 0.5), to: mondayDue.plus(minutes: 90), every: 0.5)
        #expect(restarted.sent.isEmpty)
        #expect(restarted.dropped.isEmpty)
        let state = try JSONDecoder().decode(SchedulerState.self, from: restarted.stored)
        #expect(state.fired[mondayID] == mondayDue)
    }

    @Test func restartAfterTheDueTimeCatchesUpOnce() throws {
        var runner = Runner(teams: [try mondayTeam])
        try runner.step(at: mondayDue.plus(minutes: -1))
        // Down from just before the due time until ten minutes after.
        var restarted = Runner(teams: [try mondayTeam])
        restarted.stored = runner.stored
        try restarted.run(from: mondayDue.plus(minutes: 10), to: mondayDue.plus(minutes: 120), every: 5)
        #expect(restarted.sentIDs() == [mondayID])
        #expect(restarted.sent.first?.at == mondayDue.plus(minutes: 10))
        // And after yet another restart, still nothing more.
        var again = Runner(teams: [try mondayTeam])
        again.stored = restarted.stored
        try again.run(from: mondayDue.plus(minutes: 121), to: mondayDue.plus(minutes: 240), every: 7)
        #expect(again.sent.isEmpty)
    }

    @Test func downtimeFiresWithinGraceAndDropsOlderOnes() throws {
        let now = instant("2025-03-17T12:00:00Z")
        let recent = ScheduledReminder(
            id: "rule:t:recent:2025-03-17", team: "t", due: now.plus(minutes: -30),
            payload: .recurring(ruleName: "recent", message: nil))
        let old = ScheduledReminder(
            id: "rule:t:old:2025-03-17", team: "t", due: now.plus(minutes: -180),
            payload: .recurring(ruleName: "old", message: nil))
        let edge = ScheduledReminder(
            id: "rule:t:edge:2025-03-17", team: "t", due: now.plus(minutes: -60),
            payload: .recurring(ruleName: "edge", message: nil))
        let future = ScheduledReminder(
            id: "rule:t:future:2025-03-17", team: "t", due: now.plus(minutes: 45),
            payload: .recurring(ruleName: "future", message: nil))
        let reminders = [future, recent, old, edge]

        var state = SchedulerState()
        let pure = Scheduler.due(reminders: reminders, state: state, now: now, grace: .seconds(3600))
        #expect(pure.toFire.map(\.id) == [edge.id, recent.id])  // due order; exactly `grace` late still fires
        #expect(pure.dropped.map(\.id) == [old.id])

        let claimed = Scheduler.claim(reminders: reminders, state: &state, now: now, grace: .seconds(3600))
        #expect(claimed.toFire == pure.toFire && claimed.dropped == pure.dropped)
        state = try JSONDecoder().decode(SchedulerState.self, from: JSONEncoder().encode(state))
        #expect(state.hasFired(old.id) && state.hasFired(recent.id) && state.hasFired(edge.id))
        #expect(!state.hasFired(future.id))

        // Never reconsidered, even much later.
        let later = Scheduler.due(reminders: reminders, state: state, now: now.plus(minutes: 50), grace: .seconds(3600))
        #expect(later.toFire.map(\.id) == [future.id])
        #expect(later.dropped.isEmpty)
        #expect(Scheduler.nextWake(reminders: reminders, state: state, now: now) == future.due)
        #expect(Scheduler.nextWake(reminders: reminders, state: state, now: future.due.plus(minutes: 1)) == future.due.plus(minutes: 1))
        state.markFired([future.id], at: future.due)
        #expect(Scheduler.nextWake(reminders: reminders, state: state, now: now) == nil)
    }

    @Test func catchUpThroughThePlannerAfterAnOutage() throws {
        var team = try mondayTeam
        team.recurring.append(RecurringReminder(name: "vroeg", rule: try rule("weekly mon 05:00")))
        var runner = Runner(teams: [team])
        try runner.step(at: instant("2025-03-16T12:00:00Z"))
        // Down all Monday night and morning; back at 09:00 local: 08:30 is within the hour of grace,
        // 05:00 is not (and, being outside the planning window, is simply never seen).
        try runner.run(from: instant("2025-03-17T08:00:00Z"), to: instant("2025-03-17T12:00:00Z"), every: 3)
        #expect(runner.sentIDs() == [mondayID])
        #expect(runner.sent.first?.at == instant("2025-03-17T08:00:00Z"))
    }

    @Test func stateRoundTripsAndPrunesOldEntries() throws {
        let now = instant("2026-06-01T00:00:00Z")
        var state = SchedulerState()
        state.markFired(["a", "b"], at: now.addingTimeInterval(-401 * 86400))
        state.markFired(["c"], at: now.addingTimeInterval(-399 * 86400))
        state.markFired(["c"], at: now)  // keeps the first date
        #expect(state.fired["c"] == now.addingTimeInterval(-399 * 86400))
        let decoded = try JSONDecoder().decode(SchedulerState.self, from: JSONEncoder().encode(state))
        #expect(decoded == state)
        state.prune(now: now)
        #expect(Set(state.fired.keys) == ["c"])
        state.prune(now: now, retention: .seconds(86400))
        #expect(state.fired.isEmpty)
    }

    @Test func remindersAndTeamsRoundTripThroughJSON() throws {
        let reminders = SchedulePlanner().reminders(
            teams: [threeDuoTeam], rounds: [threeDuoRound],
            from: instant("2025-03-01T00:00:00Z"), through: instant("2025-04-01T00:00:00Z"))
        #expect(reminders.count == 4)
        let decoded = try JSONDecoder().decode([ScheduledReminder].self, from: JSONEncoder().encode(reminders))
        #expect(decoded == reminders)

        let json = Data(
            #"""
            {"id": "team-c", "holidays": ["2025-02-24..2025-02-28", "2025-04-21"],
             "recurring": [{"name": "stuurgroep", "rule": "every 3 months first-mon 16:00"}]}
            """#.utf8)
        let team = try JSONDecoder().decode(TeamSchedule.self, from: json)
        #expect(team.timeZone.identifier == "Europe/Brussels")
        #expect(team.weekendsOff)
        #expect(team.holidays.entries == ["2025-02-24..2025-02-28", "2025-04-21"])
        #expect(team.recurring.first?.rule.description == "every 3 months first-mon 16:00")
        #expect(try JSONDecoder().decode(TeamSchedule.self, from: JSONEncoder().encode(team)) == team)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TeamSchedule.self, from: Data(#"{"id": "x", "timeZone": "Europe/Gent"}"#.utf8))
        }
    }

    // MARK: Holidays and weekends

    @Test func holidayRangeAndWeekendMoveRemindersToTheNextSchoolDay() throws {
        var team = TeamSchedule(
            id: "team-h", members: ["A", "B"],
            holidays: try Holidays(parsing: ["2025-02-24..2025-02-28", "2025-04-21"]),
            recurring: [RecurringReminder(name: "reflectie", rule: try rule("weekly mon 08:30"))])
        team.coaches = ["C"]
        let rounds = [
            // 2025-02-17 + 7 = Monday 2025-02-24, in the spring holiday → Monday 2025-03-03.
            LessonStudyRound(id: "holiday", team: "team-h", duos: [["A", "B"]], lessons: [
                ObservedLesson(duo: 0, day: day("2025-02-17"))
            ]),
            // Friday 2025-03-07 + 8 = Saturday 2025-03-15 → Monday 2025-03-17.
            LessonStudyRound(id: "weekend", team: "team-h", duos: [["A", "B"]], lessons: [
                ObservedLesson(duo: 0, day: day("2025-03-07"))
            ]),
        ]
        let planner = SchedulePlanner(intervisionLeadDays: 7, lessonReminderSchoolDaysBefore: nil)
        let fromHoliday = planner.reminders(
            teams: [team], rounds: [rounds[0]], from: instant("2025-02-01T00:00:00Z"), through: instant("2025-05-01T00:00:00Z"))
        #expect(fromHoliday.first { $0.kind == .intervision }.map { local($0.due) } == "2025-03-03 08:00")

        var eightDays = planner
        eightDays.intervisionLeadDays = 8
        let fromWeekend = eightDays.reminders(
            teams: [team], rounds: [rounds[1]], from: instant("2025-02-01T00:00:00Z"), through: instant("2025-05-01T00:00:00Z"))
        #expect(fromWeekend.first { $0.kind == .intervision }.map { local($0.due) } == "2025-03-17 08:00")

        // The weekly Monday rule: the holiday Monday merges into the next school Monday; Easter
        // Monday (a single day off) moves to Tuesday.
        let weekly = fromHoliday.filter { $0.kind == .recurring }.map(\.id)
        #expect(weekly.contains("rule:team-h:reflectie:2025-02-17"))
        #expect(!weekly.contains("rule:team-h:reflectie:2025-02-24"))
        #expect(weekly.filter { $0 == "rule:team-h:reflectie:2025-03-03" }.count == 1)
        #expect(weekly.contains("rule:team-h:reflectie:2025-04-22"))
        #expect(!weekly.contains("rule:team-h:reflectie:2025-04-21"))
        #expect(weekly.count == 12)  // the 13 Mondays 3 Feb ... 28 Apr, less the merged holiday one
        let tuesday = try #require(fromHoliday.first { $0.id == "rule:team-h:reflectie:2025-04-22" })
        #expect(local(tuesday.due) == "2025-04-22 08:30")

        // A lesson reminder must precede its lesson, so it moves back: Monday 3 March's lesson is
        // reminded on Friday 21 February, the last school day before the holiday.
        let lessons = SchedulePlanner(lessonReminderSchoolDaysBefore: 1).reminders(
            teams: [team],
            rounds: [LessonStudyRound(id: "back", team: "team-h", duos: [["A", "B"]], lessons: [
                ObservedLesson(duo: 0, day: day("2025-03-03"))
            ])],
            from: instant("2025-02-01T00:00:00Z"), through: instant("2025-05-01T00:00:00Z"))
        #expect(lessons.first { $0.kind == .lessonReminder }.map { local($0.due) } == "2025-02-21 08:00")

        // Weekends as school days when the team says so.
        team.weekendsOff = false
        #expect(!team.isDayOff(day("2025-03-15")))
        #expect(team.isDayOff(day("2025-02-26")))
    }

    @Test func holidaysParseContainAndReject() throws {
        let holidays = try Holidays(parsing: ["2025-02-24..2025-02-28", " 2025-05-01 ", "2024-02-29"])
        #expect(holidays.contains(day: day("2025-02-24")))
        #expect(holidays.contains(day: day("2025-02-26")))
        #expect(holidays.contains(day: day("2025-02-28")))
        #expect(!holidays.contains(day: day("2025-02-23")))
        #expect(!holidays.contains(day: day("2025-03-01")))
        #expect(holidays.contains(day: day("2025-05-01")))
        #expect(holidays.contains(day: DateComponents(year: 2025, month: 5, day: 1, hour: 13)))
        #expect(holidays.entries == ["2024-02-29", "2025-02-24..2025-02-28", "2025-05-01"])
        #expect(try JSONDecoder().decode(Holidays.self, from: JSONEncoder().encode(holidays)) == holidays)

        let invalid: [(String, String)] = [
            ("2025-02-30", #""2025-02-30": a day off is an existing date "YYYY-MM-DD" or a range "YYYY-MM-DD..YYYY-MM-DD""#),
            ("24/02/2025", #""24/02/2025": a day off is an existing date "YYYY-MM-DD" or a range "YYYY-MM-DD..YYYY-MM-DD""#),
            ("2025-02-28..2025-02-24", #""2025-02-28..2025-02-24": the range ends before it starts"#),
            ("2025-02-24..", #""2025-02-24..": a range is two existing dates "YYYY-MM-DD..YYYY-MM-DD""#),
        ]
        for (text, message) in invalid {
            #expect(throws: ScheduleParseError.self) { try Holidays(parsing: [text]) }
            do {
                _ = try Holidays(parsing: [text])
            } catch {
                #expect(error.description == message)
            }
        }
    }

    // MARK: Rule parsing

    @Test(arguments: [
        ("weekly mon 08:30", "weekly mon 08:30"),
        ("weekly mon,thu 15:45", "weekly mon,thu 15:45"),
        ("  Weekly  THU,mon,thu   9:05 ", "weekly mon,thu 09:05"),
        ("weekly sun,sat,fri 00:00", "weekly fri,sat,sun 00:00"),
        ("monthly 1 09:00", "monthly 1 09:00"),
        ("monthly 31 23:59", "monthly 31 23:59"),
        ("monthly first-tue 16:00", "monthly first-tue 16:00"),
        ("monthly last-fri 12:30", "monthly last-fri 12:30"),
        ("every 3 months first-mon 16:00", "every 3 months first-mon 16:00"),
        ("every 1 month 15 10:00", "monthly 15 10:00"),
        ("every 6 months from feb last-fri 12:30", "every 6 months from feb last-fri 12:30"),
        ("every 12 months from sep second-wed 19:00", "every 12 months from sep second-wed 19:00"),
    ])
    func validRulesParseToTheirCanonicalText(text: String, canonical: String) throws {
        let parsed = try rule(text)
        #expect(parsed.description == canonical)
        #expect(try rule(canonical) == parsed)
        #expect(try JSONDecoder().decode(RecurrenceRule.self, from: JSONEncoder().encode(parsed)) == parsed)
    }

    @Test(arguments: [
        ("", "the rule is empty; write e.g. \"weekly mon 08:30\""),
        ("daily 08:30", "a rule starts with \"weekly\", \"monthly\" or \"every N months\", not \"daily\""),
        ("weekly mon", "the rule must end with a time of day \"HH:MM\""),
        ("weekly mon 8h30", "the rule must end with a time of day \"HH:MM\""),
        ("weekly mon 24:00", "\"24:00\" is not a time of day \"HH:MM\" between 00:00 and 23:59"),
        ("weekly mon 08:5", "\"08:5\" is not a time of day \"HH:MM\" between 00:00 and 23:59"),
        ("weekly 08:30", "\"weekly\" needs its days before the time, e.g. \"weekly mon,thu 15:45\""),
        ("weekly maandag 08:30", "\"maandag\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
        ("weekly mon,,thu 08:30", "\"\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
        ("weekly mon thu 08:30", "unexpected \"thu\" after the days"),
        ("monthly 32 09:00", "the day of the month must be 1 to 31, not 32"),
        ("monthly 0 09:00", "the day of the month must be 1 to 31, not 0"),
        ("monthly fifth-tue 09:00", "\"fifth-tue\" is not a day of the month: write 1 to 31, or first-, second-, third-, fourth- or last- and a weekday, e.g. \"first-tue\""),
        ("monthly first-tuesday 09:00", "\"tuesday\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
        ("monthly 09:00", "\"monthly\" needs the day of the month, e.g. \"monthly 1 09:00\" or \"monthly first-tue 16:00\""),
        ("every 5 months 1 09:00", "every N months needs N to divide 12 (1, 2, 3, 4, 6 or 12), not 5"),
        ("every three months 1 09:00", "\"every\" is followed by a number of months, e.g. \"every 3 months first-mon 16:00\""),
        ("every 3 weeks mon 09:00", "\"every\" is followed by a number of months, e.g. \"every 3 months first-mon 16:00\""),
        ("every 3 months from march 1 09:00", "\"from\" is followed by a month (jan, feb, ..., dec)"),
        ("every 3 months 09:00", "the rule needs the day of the month before the time, e.g. \"1\" or \"first-mon\""),
        ("every 12 months from feb 30 09:00", "the rule never fires: February has no day 30"),
    ])
    func invalidRulesThrowAClearMessage(text: String, message: String) {
        #expect(throws: ScheduleParseError(input: text, message: message)) { try rule(text) }
    }

    @Test func monthlyRulesFireOnTheirDays() throws {
        let start = instant("2025-01-01T00:00:00Z")
        func next(_ text: String, _ count: Int) throws -> [String] {
            Array(try rule(text).occurrences(after: start, timeZone: brussels).prefix(count)).map(local)
        }
        #expect(try next("monthly first-tue 16:00", 3) == ["2025-01-07 16:00", "2025-02-04 16:00", "2025-03-04 16:00"])
        #expect(try next("monthly last-fri 12:30", 2) == ["2025-01-31 12:30", "2025-02-28 12:30"])
        #expect(try next("every 3 months first-mon 16:00", 5) == [
            "2025-01-06 16:00", "2025-04-07 16:00", "2025-07-07 16:00", "2025-10-06 16:00", "2026-01-05 16:00",
        ])
        #expect(try next("every 6 months from feb 1 09:00", 3) == ["2025-02-01 09:00", "2025-08-01 09:00", "2026-02-01 09:00"])
        // A month without day 31 is skipped.
        #expect(try next("monthly 31 09:00", 3) == ["2025-01-31 09:00", "2025-03-31 09:00", "2025-05-31 09:00"])
        // Only leap years have 29 February.
        #expect(try next("every 12 months from feb 29 09:00", 2) == ["2028-02-29 09:00", "2032-02-29 09:00"])
        #expect(try rule("monthly 1 09:00").occurs(on: day("2025-06-01")))
        #expect(try !rule("monthly 1 09:00").occurs(on: day("2025-06-02")))
    }

    @Test func steeringGroupMeetsAtLeastFourTimesAYear() throws {
        let team = TeamSchedule(
            id: "stuur", holidays: try Holidays(parsing: ["2025-04-05..2025-04-21"]),
            recurring: [RecurringReminder(name: "stuurgroep", rule: try rule("every 3 months first-mon 16:00"))])
        let reminders = SchedulePlanner().reminders(
            teams: [team], rounds: [], from: instant("2025-01-01T00:00:00Z"), through: instant("2025-12-31T23:00:00Z"))
        // The first Monday of April (7th) is in the Easter holiday: moved to Tuesday 22 April.
        #expect(reminders.map { local($0.due) } == [
            "2025-01-06 16:00", "2025-04-22 16:00", "2025-07-07 16:00", "2025-10-06 16:00",
        ])
    }
}
