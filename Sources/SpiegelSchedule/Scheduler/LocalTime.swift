public import Foundation

/// A wall-clock time of day (24-hour), without a date or time zone: "08:30".
///
/// Turned into an instant with ``date(on:in:)``, which is the one place the scheduler resolves
/// local times, daylight-saving gaps and overlaps included.
public struct LocalTime: Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 0...23.
    public let hour: Int
    /// 0...59.
    public let minute: Int

    /// A time of day; `nil` when `hour` is not in 0...23 or `minute` not in 0...59.
    public init?(hour: Int, minute: Int) {
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        self.hour = hour
        self.minute = minute
    }

    /// Parses `"H:MM"` or `"HH:MM"` (24-hour): `"8:30"`, `"16:00"`. `nil` for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2,
            (1...2).contains(parts[0].count), parts[1].count == 2,
            parts[0].allSatisfy(\.isASCIIDigit), parts[1].allSatisfy(\.isASCIIDigit),
            let hour = Int(parts[0]), let minute = Int(parts[1])
        else { return nil }
        self.init(hour: hour, minute: minute)
    }

    /// 08:00.
    public static let eightAM = LocalTime(hour: 8, minute: 0)!

    /// `"HH:MM"`.
    public var description: String {
        (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }

    public static func < (lhs: LocalTime, rhs: LocalTime) -> Bool {
        (lhs.hour, lhs.minute) < (rhs.hour, rhs.minute)
    }

    /// Encoded as its `"HH:MM"` text.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let time = LocalTime(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a time of day \"HH:MM\", got \"\(text)\"")
        }
        self = time
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The instant this wall-clock time happens on `day` (year, month, day) in `timeZone`.
    ///
    /// **The one daylight-saving rule of the scheduler**, used for every reminder:
    /// - a local time that does not exist (02:30 on the night the clock skips from 02:00 to 03:00,
    ///   the last Sunday of March in Europe/Brussels) resolves to the first instant after the gap
    ///   (03:00 local), once;
    /// - a local time that exists twice (02:30 on the last Sunday of October) resolves to its
    ///   FIRST occurrence (the summer-time one), once.
    ///
    /// Resolved by `Calendar` in `timeZone` (`nextDate(after:matching:)` with `.nextTime` and
    /// `.first`), never by hand-computed offsets. `nil` only for an invalid day.
    public func date(on day: DateComponents, in timeZone: TimeZone) -> Date? {
        guard let day = ScheduleDay(day) else { return nil }
        return date(on: day, in: timeZone)
    }

    func date(on day: ScheduleDay, in timeZone: TimeZone) -> Date? {
        let calendar = Calendar.scheduler(in: timeZone)
        // Noon exists on every day in every zone we care about; the day starts at its start.
        guard
            let noon = calendar.date(
                from: DateComponents(year: day.year, month: day.month, day: day.day, hour: 12))
        else { return nil }
        let startOfDay = calendar.startOfDay(for: noon)
        return calendar.nextDate(
            after: startOfDay.addingTimeInterval(-1),
            matching: DateComponents(hour: hour, minute: minute, second: 0),
            matchingPolicy: .nextTime,
            repeatedTimePolicy: .first,
            direction: .forward)
    }
}

extension Character {
    /// 0-9 only (not other Unicode digits).
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Calendar {
    /// The Gregorian calendar in `timeZone`.
    static func scheduler(in timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }
}

/// A civil date (proleptic Gregorian), for day arithmetic free of time zones: ordinal day
/// numbers, weekdays, ISO text. Internal; the public API speaks `DateComponents`.
struct ScheduleDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    let year: Int
    let month: Int
    let day: Int

    /// `nil` unless `year`, `month` and `day` name a real date.
    init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...ScheduleDay.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The year, month and day of `components`; `nil` when one is missing or the date is invalid.
    init?(_ components: DateComponents) {
        guard let year = components.year, let month = components.month, let day = components.day
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The day on which `date` falls in `timeZone`.
    init(_ date: Date, in timeZone: TimeZone) {
        let parts = Calendar.scheduler(in: timeZone).dateComponents([.year, .month, .day], from: date)
        self.init(ordinal: ScheduleDay.ordinal(year: parts.year!, month: parts.month!, day: parts.day!))
    }

    /// The day `ordinal` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    init(ordinal: Int) {
        let z = ordinal + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    var ordinal: Int { ScheduleDay.ordinal(year: year, month: month, day: day) }

    /// 1 = Sunday ... 7 = Saturday, as `Calendar`'s `weekday`.
    var weekday: Int { ((ordinal % 7 + 7) % 7 + 4) % 7 + 1 }

    var isWeekend: Bool { weekday == 1 || weekday == 7 }

    func adding(days: Int) -> ScheduleDay { ScheduleDay(ordinal: ordinal + days) }

    var components: DateComponents { DateComponents(year: year, month: month, day: day) }

    /// `"YYYY-MM-DD"`.
    var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Parses `"YYYY-MM-DD"`; `nil` for other text or a date that does not exist.
    init?(iso text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    static func < (lhs: ScheduleDay, rhs: ScheduleDay) -> Bool { lhs.ordinal < rhs.ordinal }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func ordinal(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
