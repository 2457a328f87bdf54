public import Foundation

/// What the scheduler needs to know of a team: its room, people, time zone, days off and
/// recurring reminders.
///
/// Codable; when decoding, everything but `id` may be left out (`timeZone` defaults to
/// `"Europe/Brussels"`, `weekendsOff` to `true`). The time zone is encoded as its IANA name.
public struct TeamSchedule: Codable, Hashable, Sendable {
    /// The team's identifier, as in ``ScheduledReminder/team``.
    public var id: String
    /// The team room (chat room identifier) the reminders go to.
    public var room: String?
    /// The team's members (names or identifiers), in a stable order.
    public var members: [String]
    /// The coaches.
    public var coaches: [String]
    /// The time zone every local time and date of the team is read in.
    public var timeZone: TimeZone
    /// School holidays and days off.
    public var holidays: Holidays
    /// Whether Saturday and Sunday are days off (default `true`): schools are closed, so no
    /// reminders then; a reminder falling on a weekend moves to Monday (or later).
    public var weekendsOff: Bool
    /// The recurring reminders from configuration.
    public var recurring: [RecurringReminder]

    /// Europe/Brussels, the default time zone.
    public static let defaultTimeZone = TimeZone(identifier: "Europe/Brussels")!

    public init(
        id: String, room: String? = nil, members: [String] = [], coaches: [String] = [],
        timeZone: TimeZone = TeamSchedule.defaultTimeZone, holidays: Holidays = Holidays(),
        weekendsOff: Bool = true, recurring: [RecurringReminder] = []
    ) {
        self.id = id
        self.room = room
        self.members = members
        self.coaches = coaches
        self.timeZone = timeZone
        self.holidays = holidays
        self.weekendsOff = weekendsOff
        self.recurring = recurring
    }

    /// Whether `day` (year, month, day) is a day off: a listed holiday, or a weekend day when
    /// ``weekendsOff``. `false` for an invalid day.
    public func isDayOff(_ day: DateComponents) -> Bool {
        guard let day = ScheduleDay(day) else { return false }
        return isDayOff(day)
    }

    func isDayOff(_ day: ScheduleDay) -> Bool {
        (weekendsOff && day.isWeekend) || holidays.contains(day)
    }

    /// `day` itself if it is a school day, else the next school day; `nil` if none within
    /// `limit` days (a team that is off all year).
    func schoolDay(onOrAfter day: ScheduleDay, limit: Int = 400) -> ScheduleDay? {
        var day = day
        for _ in 0...limit {
            if !isDayOff(day) { return day }
            day = day.adding(days: 1)
        }
        return nil
    }

    /// The school day `count` school days before `day` (`count` 0: `day` itself if a school day,
    /// else the last school day before it); `nil` if none within `limit` days.
    func schoolDay(_ count: Int, before day: ScheduleDay, limit: Int = 400) -> ScheduleDay? {
        var day = day
        var remaining = count
        if remaining == 0, !isDayOff(day) { return day }
        for _ in 0...limit {
            day = day.adding(days: -1)
            if !isDayOff(day) {
                if remaining <= 1 { return day }
                remaining -= 1
            }
        }
        return nil
    }

    private enum CodingKeys: String, CodingKey {
        case id, room, members, coaches, timeZone, holidays, weekendsOff, recurring
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        room = try container.decodeIfPresent(String.self, forKey: .room)
        members = try container.decodeIfPresent([String].self, forKey: .members) ?? []
        coaches = try container.decodeIfPresent([String].self, forKey: .coaches) ?? []
        if let name = try container.decodeIfPresent(String.self, forKey: .timeZone) {
            guard let zone = TimeZone(identifier: name) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .timeZone, in: container,
                    debugDescription: "\"\(name)\" is not an IANA time zone such as \"Europe/Brussels\"")
            }
            timeZone = zone
        } else {
            timeZone = Self.defaultTimeZone
        }
        holidays = try container.decodeIfPresent(Holidays.self, forKey: .holidays) ?? Holidays()
        weekendsOff = try container.decodeIfPresent(Bool.self, forKey: .weekendsOff) ?? true
        recurring = try container.decodeIfPresent([RecurringReminder].self, forKey: .recurring) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encodeIfPresent(room, forKey: .room)
        try container.encode(members, forKey: .members)
        try container.encode(coaches, forKey: .coaches)
        try container.encode(timeZone.identifier, forKey: .timeZone)
        try container.encode(holidays, forKey: .holidays)
        try container.encode(weekendsOff, forKey: .weekendsOff)
        try container.encode(recurring, forKey: .recurring)
    }
}

/// A recurring reminder from configuration: `name` (unique within the team, part of the
/// reminder's id), the rule, and the text to post.
public struct RecurringReminder: Codable, Hashable, Sendable {
    /// Unique within the team, e.g. `"stuurgroep"` or `"reflectie"`.
    public var name: String
    /// When it fires, in the team's time zone.
    public var rule: RecurrenceRule
    /// The configured text, e.g. "Wie wil deze week reflecteren?".
    public var message: String?

    public init(name: String, rule: RecurrenceRule, message: String? = nil) {
        self.name = name
        self.rule = rule
        self.message = message
    }
}

/// An observed lesson of a lesson-study round: which duo, on which day, at what time if known.
public struct ObservedLesson: Codable, Hashable, Sendable {
    /// Index into ``LessonStudyRound/duos``.
    public var duo: Int
    /// The local day (year, month, day) in the team's time zone.
    public var day: DateComponents
    /// The time of the lesson, when planned.
    public var time: LocalTime?

    public init(duo: Int, day: DateComponents, time: LocalTime? = nil) {
        self.duo = duo
        self.day = day
        self.time = time
    }
}

/// A round of lesson study: duos of teachers observing each other's lessons, then an
/// intervision meeting about a week after the last observed lesson.
public struct LessonStudyRound: Codable, Hashable, Sendable {
    /// Stable identifier, part of the reminders' ids.
    public var id: String
    /// The team (``TeamSchedule/id``).
    public var team: String
    /// The duos, each the names (or identifiers) of its members.
    public var duos: [[String]]
    /// The observed lessons, planned or past, in any order.
    public var lessons: [ObservedLesson]

    public init(id: String, team: String, duos: [[String]], lessons: [ObservedLesson]) {
        self.id = id
        self.team = team
        self.duos = duos
        self.lessons = lessons
    }
}

/// Computes the reminders due from teams, rounds and settings. Pure: the same input gives the
/// same reminders, with the same ids, so re-planning at any time is safe.
///
/// Rules, all in the team's time zone:
/// - **Intervision**: ``intervisionLeadDays`` (default 7) calendar days after the day of the
///   LAST observed lesson of the round, at ``intervisionTime`` (default 08:00). One per round,
///   id `"round:<roundID>:intervision"`; when lessons are added later it moves, but once fired
///   it never fires again. With the proposed groups of ``GroupSplit/plan(members:duos:)``.
/// - **Lesson reminders** (when ``lessonReminderSchoolDaysBefore`` is not `nil`, default 1): on
///   the school day that many school days before each observed lesson (0: the lesson day), at
///   ``lessonReminderTime`` (default 08:00). These must come before the lesson, so they move
///   BACK over days off instead of forward.
/// - **Recurring**: every occurrence of each ``RecurringReminder`` rule.
/// - **Days off**: every other reminder that falls on a day off (a listed holiday, or Saturday
///   or Sunday when ``TeamSchedule/weekendsOff``, the default) moves FORWARD to the next school
///   day, at the same local time. Recurring occurrences that land on the same day that way
///   (e.g. every Monday of a two-week holiday and the Monday after) merge into one.
/// - Local times resolve by ``LocalTime/date(on:in:)`` (daylight saving: a skipped time fires at
///   the end of the gap, a doubled one at its first occurrence).
/// - A round whose team is not given, and lessons with an invalid day, are ignored.
public struct SchedulePlanner: Hashable, Sendable {
    /// Calendar days from the last observed lesson to the intervision reminder; default 7.
    public var intervisionLeadDays: Int
    /// Local time of the intervision reminder; default 08:00.
    public var intervisionTime: LocalTime
    /// School days before a lesson to remind its duo; default 1; `nil`: no lesson reminders.
    public var lessonReminderSchoolDaysBefore: Int?
    /// Local time of lesson reminders; default 08:00.
    public var lessonReminderTime: LocalTime

    public init(
        intervisionLeadDays: Int = 7, intervisionTime: LocalTime = .eightAM,
        lessonReminderSchoolDaysBefore: Int? = 1, lessonReminderTime: LocalTime = .eightAM
    ) {
        self.intervisionLeadDays = intervisionLeadDays
        self.intervisionTime = intervisionTime
        self.lessonReminderSchoolDaysBefore = lessonReminderSchoolDaysBefore
        self.lessonReminderTime = lessonReminderTime
    }

    /// The reminders of `teams` and `rounds` due in `from...through`, in due order (then id),
    /// each id once.
    ///
    /// Pass `from` = now minus the scheduler's grace (older ones would only be dropped) and
    /// `through` = now plus a horizon; plan again before `through` passes.
    public func reminders(
        teams: [TeamSchedule], rounds: [LessonStudyRound], from: Date, through: Date
    ) -> [ScheduledReminder] {
        guard from <= through else { return [] }
        let window = from...through
        let teamsByID = Dictionary(teams.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [ScheduledReminder] = []

        for round in rounds {
            guard let team = teamsByID[round.team] else { continue }
            result += reminders(of: round, team: team).filter { window.contains($0.due) }
        }
        for team in teams {
            for recurring in team.recurring {
                result += reminders(of: recurring, team: team, window: window)
            }
        }

        var seen: Set<String> = []
        return result
            .sorted { ($0.due, $0.id) < ($1.due, $1.id) }
            .filter { seen.insert($0.id).inserted }
    }

    /// All reminders of one round, regardless of time.
    func reminders(of round: LessonStudyRound, team: TeamSchedule) -> [ScheduledReminder] {
        let zone = team.timeZone
        let lessons = round.lessons.compactMap { lesson in ScheduleDay(lesson.day).map { (lesson, $0) } }
        var result: [ScheduledReminder] = []

        if let last = lessons.map(\.1).max(),
            let day = team.schoolDay(onOrAfter: last.adding(days: intervisionLeadDays)),
            let due = intervisionTime.date(on: day, in: zone)
        {
            let members = team.members.isEmpty ? round.duos.flatMap { $0 } : team.members
            result.append(
                ScheduledReminder(
                    id: "round:\(round.id):intervision", team: team.id, due: due,
                    payload: .intervision(
                        roundID: round.id, lastLessonDay: last.components,
                        groups: GroupSplit.plan(members: members, duos: round.duos))))
        }

        if let before = lessonReminderSchoolDaysBefore {
            for (lesson, lessonDay) in lessons where round.duos.indices.contains(lesson.duo) {
                guard let day = team.schoolDay(max(0, before), before: lessonDay),
                    let due = lessonReminderTime.date(on: day, in: zone)
                else { continue }
                result.append(
                    ScheduledReminder(
                        id: "round:\(round.id):lesson:\(lesson.duo):\(lessonDay)", team: team.id, due: due,
                        payload: .lessonReminder(
                            roundID: round.id, duo: round.duos[lesson.duo], lessonDay: lessonDay.components,
                            time: lesson.time)))
            }
        }
        return result
    }

    /// The occurrences of one recurring reminder due in `window`, moved off days off and merged.
    func reminders(
        of recurring: RecurringReminder, team: TeamSchedule, window: ClosedRange<Date>
    ) -> [ScheduledReminder] {
        let zone = team.timeZone
        // Occurrences up to 400 days before the window can be moved into it by a long holiday.
        let first = ScheduleDay(window.lowerBound, in: zone).adding(days: -400)
        let last = ScheduleDay(window.upperBound, in: zone)
        var days: [ScheduleDay] = []
        var day = first
        while day <= last {
            if recurring.rule.occurs(on: day), let moved = team.schoolDay(onOrAfter: day), days.last != moved {
                days.append(moved)
            }
            day = day.adding(days: 1)
        }
        return days.compactMap { day in
            guard let due = recurring.rule.time.date(on: day, in: zone), window.contains(due) else { return nil }
            return ScheduledReminder(
                id: "rule:\(team.id):\(recurring.name):\(day)", team: team.id, due: due,
                payload: .recurring(ruleName: recurring.name, message: recurring.message))
        }
    }
}
