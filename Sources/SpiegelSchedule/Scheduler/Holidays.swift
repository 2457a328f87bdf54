public import Foundation

/// A text of the scheduler's configuration (a recurrence rule, a holiday) that could not be read.
public struct ScheduleParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text as given.
    public let input: String
    /// What is wrong, in one sentence, for the person editing the configuration.
    public let message: String

    public init(input: String, message: String) {
        self.input = input
        self.message = message
    }

    /// `"<input>": <message>`.
    public var description: String { "\"\(input)\": \(message)" }
}

/// A team's school holidays and days off: single dates and closed ranges of dates, in the
/// team's own calendar (no time zone: a date is a whole local day). No reminder fires on them.
///
/// Written as text, one entry each: `"2025-02-24"` (one day) or `"2025-02-24..2025-02-28"`
/// (both ends included). Encoded as that array of strings, sorted. Weekends are not listed here:
/// whether Saturday and Sunday are days off is ``TeamSchedule/weekendsOff``.
public struct Holidays: Codable, Hashable, Sendable {
    private var single: Set<ScheduleDay> = []
    /// Closed ranges, first...last.
    private var ranges: [ClosedRange<ScheduleDay>] = []

    /// No days off.
    public init() {}

    /// The entries `"YYYY-MM-DD"` and `"YYYY-MM-DD..YYYY-MM-DD"`; throws for the first that is not.
    public init(parsing entries: [String]) throws(ScheduleParseError) {
        for entry in entries { try insert(parsing: entry) }
    }

    /// Adds one entry, `"YYYY-MM-DD"` or `"YYYY-MM-DD..YYYY-MM-DD"` (surrounding spaces allowed).
    /// Throws for a malformed or non-existent date, or a range that ends before it starts.
    public mutating func insert(parsing entry: String) throws(ScheduleParseError) {
        let text = entry.trimmingCharacters(in: .whitespaces)
        if let dots = text.range(of: "..") {
            let lower = text[..<dots.lowerBound].trimmingCharacters(in: .whitespaces)
            let upper = text[dots.upperBound...].trimmingCharacters(in: .whitespaces)
            guard let first = ScheduleDay(iso: lower), let last = ScheduleDay(iso: upper) else {
                throw ScheduleParseError(
                    input: entry,
                    message: "a range is two existing dates \"YYYY-MM-DD..YYYY-MM-DD\"")
            }
            guard first <= last else {
                throw ScheduleParseError(input: entry, message: "the range ends before it starts")
            }
            ranges.append(first...last)
        } else {
            guard let day = ScheduleDay(iso: text) else {
                throw ScheduleParseError(
                    input: entry,
                    message: "a day off is an existing date \"YYYY-MM-DD\" or a range \"YYYY-MM-DD..YYYY-MM-DD\"")
            }
            single.insert(day)
        }
    }

    /// Adds the day `day` (year, month, day). Returns `false` (and adds nothing) for an invalid day.
    @discardableResult
    public mutating func insert(day: DateComponents) -> Bool {
        guard let day = ScheduleDay(day) else { return false }
        single.insert(day)
        return true
    }

    /// Adds the days `first` through `last`, both included. Returns `false` (and adds nothing)
    /// for an invalid day or `last` before `first`.
    @discardableResult
    public mutating func insert(from first: DateComponents, through last: DateComponents) -> Bool {
        guard let first = ScheduleDay(first), let last = ScheduleDay(last), first <= last else {
            return false
        }
        ranges.append(first...last)
        return true
    }

    /// Whether the day `day` (its year, month and day; other fields ignored) is a holiday or day
    /// off. `false` for components that are not a valid day.
    public func contains(day: DateComponents) -> Bool {
        guard let day = ScheduleDay(day) else { return false }
        return contains(day)
    }

    func contains(_ day: ScheduleDay) -> Bool {
        single.contains(day) || ranges.contains { $0.contains(day) }
    }

    /// Whether there are no entries.
    public var isEmpty: Bool { single.isEmpty && ranges.isEmpty }

    /// The entries as text, sorted: single days and ranges.
    public var entries: [String] {
        let items: [(ScheduleDay, String)] =
            single.map { ($0, $0.description) }
            + ranges.map { ($0.lowerBound, "\($0.lowerBound)..\($0.upperBound)") }
        return items.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.1)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let entries = try container.decode([String].self)
        do {
            try self.init(parsing: entries)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(entries)
    }

    public static func == (lhs: Holidays, rhs: Holidays) -> Bool { lhs.entries == rhs.entries }

    public func hash(into hasher: inout Hasher) { hasher.combine(entries) }
}
