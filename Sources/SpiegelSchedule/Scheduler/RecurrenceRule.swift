public import Foundation

/// A small cron-like rule for recurring team reminders, read in the team's time zone: the
/// steering group, a weekly "wie wil deze week reflecteren?" nudge.
///
/// Grammar (words separated by spaces, case-insensitive):
///
///     rule     = "weekly" days time
///              | "monthly" monthday time
///              | "every" n ("months" | "month") ["from" month] monthday time
///     days     = weekday ("," weekday)*          mon tue wed thu fri sat sun
///     monthday = 1...31                          day of the month; a month without it is skipped
///              | ordinal "-" weekday             ordinal: first second third fourth last
///     n        = 1 | 2 | 3 | 4 | 6 | 12          a divisor of 12, so the pattern is the same each year
///     month    = jan feb mar apr may jun jul aug sep oct nov dec      (default jan)
///     time     = H:MM | HH:MM                    24-hour, local to the team
///
/// Examples: `"weekly mon 08:30"`, `"weekly mon,thu 15:45"`, `"monthly 1 09:00"`,
/// `"monthly first-tue 16:00"`, `"every 3 months first-mon 16:00"` (January, April, July,
/// October), `"every 6 months from feb last-fri 12:30"` (February and August).
///
/// The rule knows nothing of holidays: ``SchedulePlanner`` moves occurrences off days off.
/// Local times resolve by the one rule of ``LocalTime/date(on:in:)`` (a time in the spring-forward
/// gap fires at the end of the gap; a time that exists twice fires at the first), so a weekly
/// rule keeps its local time across daylight-saving changes. Encoded as its canonical text.
public struct RecurrenceRule: Codable, Hashable, Sendable, CustomStringConvertible {
    /// A day of the week; raw values are `Calendar`'s `weekday` (1 = Sunday).
    public enum Weekday: Int, CaseIterable, Hashable, Sendable {
        case sunday = 1, monday, tuesday, wednesday, thursday, friday, saturday

        /// `mon`, `tue`, ...
        public var abbreviation: String {
            ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][rawValue - 1]
        }

        /// Monday 0 ... Sunday 6, for ordering.
        var isoIndex: Int { (rawValue + 5) % 7 }
    }

    /// Which of a month's weekdays: the first ... fourth, or the last.
    public enum Ordinal: String, CaseIterable, Hashable, Sendable {
        case first, second, third, fourth, last
    }

    /// The day of a month the rule fires on.
    public enum MonthDay: Hashable, Sendable {
        /// The day with this number, 1...31; months without it are skipped.
        case day(Int)
        /// The first/second/third/fourth/last such weekday of the month.
        case weekday(Ordinal, Weekday)
    }

    /// The days the rule fires on.
    public enum Pattern: Hashable, Sendable {
        /// These weekdays of every week (unique, Monday first).
        case weekly([Weekday])
        /// `day` of every `interval`-th month counted from `startMonth` (1...12), e.g. interval 3
        /// from 1 = January, April, July and October. `interval` divides 12.
        case monthly(interval: Int, startMonth: Int, day: MonthDay)
    }

    /// The days.
    public let pattern: Pattern
    /// The wall-clock time on those days, in the team's time zone.
    public let time: LocalTime

    /// Reads a rule in the grammar above. Throws a ``ScheduleParseError`` naming the first
    /// problem, e.g. `"blah" is not a weekday (mon, tue, wed, thu, fri, sat, sun)`.
    public init(parsing text: String) throws(ScheduleParseError) {
        func fail(_ message: String) -> ScheduleParseError {
            ScheduleParseError(input: text, message: message)
        }
        var words = text.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
        guard !words.isEmpty else {
            throw fail("the rule is empty; write e.g. \"weekly mon 08:30\"")
        }
        guard ["weekly", "monthly", "every"].contains(words[0]) else {
            throw fail("a rule starts with \"weekly\", \"monthly\" or \"every N months\", not \"\(words[0])\"")
        }
        guard words.count >= 2, words[words.count - 1].contains(":") else {
            throw fail("the rule must end with a time of day \"HH:MM\"")
        }
        let timeText = words.removeLast()
        guard let time = LocalTime(parsing: timeText) else {
            throw fail("\"\(timeText)\" is not a time of day \"HH:MM\" between 00:00 and 23:59")
        }
        self.time = time

        switch words.removeFirst() {
        case "weekly":
            guard let daysText = words.first else {
                throw fail("\"weekly\" needs its days before the time, e.g. \"weekly mon,thu 15:45\"")
            }
            guard words.count == 1 else { throw fail("unexpected \"\(words[1])\" after the days") }
            var days: Set<Weekday> = []
            for name in daysText.split(separator: ",", omittingEmptySubsequences: false) {
                guard let day = Self.weekday(named: name) else {
                    throw fail("\"\(name)\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
                }
                days.insert(day)
            }
            pattern = .weekly(days.sorted { $0.isoIndex < $1.isoIndex })

        case "monthly":
            guard let dayText = words.first else {
                throw fail("\"monthly\" needs the day of the month, e.g. \"monthly 1 09:00\" or \"monthly first-tue 16:00\"")
            }
            guard words.count == 1 else { throw fail("unexpected \"\(words[1])\" after the day of the month") }
            pattern = .monthly(interval: 1, startMonth: 1, day: try Self.monthDay(dayText, fail))

        default:  // "every"
            guard words.count >= 2, let interval = Int(words[0]), ["month", "months"].contains(words[1])
            else {
                throw fail("\"every\" is followed by a number of months, e.g. \"every 3 months first-mon 16:00\"")
            }
            guard [1, 2, 3, 4, 6, 12].contains(interval) else {
                throw fail("every N months needs N to divide 12 (1, 2, 3, 4, 6 or 12), not \(interval)")
            }
            words.removeFirst(2)
            var startMonth = 1
            if words.first == "from" {
                guard words.count >= 2, let month = Self.months.firstIndex(of: words[1]) else {
                    throw fail("\"from\" is followed by a month (jan, feb, ..., dec)")
                }
                startMonth = month + 1
                words.removeFirst(2)
            }
            guard let dayText = words.first else {
                throw fail("the rule needs the day of the month before the time, e.g. \"1\" or \"first-mon\"")
            }
            guard words.count == 1 else { throw fail("unexpected \"\(words[1])\" after the day of the month") }
            let day = try Self.monthDay(dayText, fail)
            if interval == 12, startMonth == 2, case .day(let number) = day, number > 29 {
                throw fail("the rule never fires: February has no day \(number)")
            }
            pattern = .monthly(interval: interval, startMonth: startMonth, day: day)
        }
    }

    /// The canonical text, which parses back to the same rule: `"weekly mon,thu 15:45"`,
    /// `"monthly first-tue 16:00"`, `"every 3 months first-mon 16:00"`,
    /// `"every 6 months from feb 1 09:00"`.
    public var description: String {
        switch pattern {
        case .weekly(let days):
            return "weekly \(days.map(\.abbreviation).joined(separator: ",")) \(time)"
        case .monthly(let interval, let startMonth, let day):
            let dayText =
                switch day {
                case .day(let number): "\(number)"
                case .weekday(let ordinal, let weekday): "\(ordinal.rawValue)-\(weekday.abbreviation)"
                }
            if interval == 1 { return "monthly \(dayText) \(time)" }
            let from = startMonth == 1 ? "" : " from \(Self.months[startMonth - 1])"
            return "every \(interval) months\(from) \(dayText) \(time)"
        }
    }

    /// Whether the rule fires on the day `day` (year, month, day). `false` for an invalid day.
    public func occurs(on day: DateComponents) -> Bool {
        guard let day = ScheduleDay(day) else { return false }
        return occurs(on: day)
    }

    func occurs(on day: ScheduleDay) -> Bool {
        switch pattern {
        case .weekly(let days):
            return days.contains { $0.rawValue == day.weekday }
        case .monthly(let interval, let startMonth, let monthDay):
            guard (day.month - startMonth + 12) % interval == 0 else { return false }
            switch monthDay {
            case .day(let number):
                return day.day == number
            case .weekday(let ordinal, let weekday):
                guard day.weekday == weekday.rawValue else { return false }
                switch ordinal {
                case .first: return (1...7).contains(day.day)
                case .second: return (8...14).contains(day.day)
                case .third: return (15...21).contains(day.day)
                case .fourth: return (22...28).contains(day.day)
                case .last: return day.day > ScheduleDay.daysIn(month: day.month, year: day.year) - 7
                }
            }
        }
    }

    /// The first instant strictly after `date` at which the rule fires in `timeZone`, or `nil` if
    /// there is none within nine years (which only a rule that cannot fire would reach).
    public func nextOccurrence(after date: Date, timeZone: TimeZone) -> Date? {
        let first = ScheduleDay(date, in: timeZone)
        for offset in 0...(366 * 9) {
            let day = first.adding(days: offset)
            guard occurs(on: day), let instant = time.date(on: day, in: timeZone), instant > date
            else { continue }
            return instant
        }
        return nil
    }

    /// The instants after `date` at which the rule fires in `timeZone`, in order (lazy, unbounded).
    public func occurrences(after date: Date, timeZone: TimeZone) -> some Sequence<Date> {
        sequence(state: date) { last -> Date? in
            guard let next = nextOccurrence(after: last, timeZone: timeZone) else { return nil }
            last = next
            return next
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]

    private static func weekday(named name: some StringProtocol) -> Weekday? {
        Weekday.allCases.first { $0.abbreviation == name }
    }

    private static func monthDay(
        _ text: String, _ fail: (String) -> ScheduleParseError
    ) throws(ScheduleParseError) -> MonthDay {
        if text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let number = Int(text), (1...31).contains(number) else {
                throw fail("the day of the month must be 1 to 31, not \(text)")
            }
            return .day(number)
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ordinal = Ordinal(rawValue: String(parts[0])) else {
            throw fail(
                "\"\(text)\" is not a day of the month: write 1 to 31, or first-, second-, third-, fourth- or last- and a weekday, e.g. \"first-tue\""
            )
        }
        guard let weekday = weekday(named: parts[1]) else {
            throw fail("\"\(parts[1])\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
        }
        return .weekday(ordinal, weekday)
    }
}
