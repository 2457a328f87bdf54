public import Foundation

/// A date, and maybe a time, found in a chat message.
public struct ParsedDate: Sendable, Equatable {
    /// The day: `year`, `month` and `day`, always all three.
    public var day: DateComponents
    /// `hour` and `minute` when the phrase named a time; `nil` otherwise.
    public var time: DateComponents?
    /// The part of the input that named the date (and time), as written, for the confirmation.
    public var matchedText: String
    /// Whether the phrase named a weekday that is not the weekday of its date ("dinsdag 15/1" when
    /// 15/1 is a Wednesday). `day` holds the written date all the same; the bot should ask which
    /// of the two was meant.
    public var weekdayMismatch: Bool

    /// A parsed date from its parts.
    public init(day: DateComponents, time: DateComponents? = nil, matchedText: String, weekdayMismatch: Bool = false) {
        self.day = day
        self.time = time
        self.matchedText = matchedText
        self.weekdayMismatch = weekdayMismatch
    }

    /// The moment this names in `timeZone`: the time if there is one, else the start of the day.
    public func date(in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var components = self.day
        components.hour = self.time?.hour ?? 0
        components.minute = self.time?.minute ?? 0
        return calendar.date(from: components)
    }
}

/// Finds dates in what teachers write in chat, in Dutch (Flemish and Netherlands forms) and
/// English: "dinsdag 14/1 om 10u", "observatie 14 januari", "volgende week donderdag om 13u30",
/// "morgen", "over twee weken", "next Tuesday at 2:30 pm".
///
/// Case and accents do not matter. What it understands:
/// - numeric dates `14/1`, `14/01`, `14-1`, `14.1`, `14/1/2025`, `14/1/25`, `2025-01-14`;
/// - written months `14 januari`, `14 jan.`, `de 14de januari`, `1ste februari 2025`,
///   `January 14`, `14th of January`;
/// - a weekday before a date, also abbreviated (`di 14/1`, `vr. 17 januari`, `dinsdag de 14de`);
///   when it contradicts the date, the date wins and ``ParsedDate/weekdayMismatch`` is set;
/// - a weekday alone: the first such day after today (`dinsdag`, `volgende dinsdag`,
///   `next tuesday`); `deze vrijdag`/`this friday` may be today; `vandaag woensdag` is today;
/// - a weekday in a week: `volgende week dinsdag`, `dinsdag volgende week`,
///   `over twee weken dinsdag`, `dinsdag deze week` (weeks run Monday to Sunday);
/// - relative days `vandaag`, `morgen`, `overmorgen`, `over 3 dagen`, `over een week`,
///   `over twee weken`, `over een maand`, `today`, `tomorrow`, `in 3 days`; `volgende week` and
///   `next week` alone mean seven days from today;
/// - a time after the day (or before it: "om 10u op dinsdag"): `om 10u`, `10 u`, `10u30`,
///   `10:30`, `10.30u`, `14h`, `om 10`, `half elf` (10:30), `kwart over tien`, `kwart voor elf`,
///   `vijf voor half elf`, `'s middags`, `at 10am`, `2:30 pm`. No lesson is at night: without
///   `am`, `'s morgens` or a leading zero (`02:00`), hours 1 to 6 are the afternoon (`om 2u`,
///   `half twee` are 14:00 and 13:30); after an evening day (`vanavond`, `dinsdagavond`) hours up
///   to 11 are the evening;
/// - a weekday or near day followed by its date (`volgende dinsdag 14/1`, `morgen, 9/1`): the
///   date wins, and a contradiction sets ``ParsedDate/weekdayMismatch``;
/// - days sharing a month (`14 en 16 januari`, `14-16 januari`): each day is a date of its own.
///
/// A date without a year is the first such date on or after today, this year or next (`14/1`
/// said in December is next January; `29/2` with no leap day within a year is no date).
/// Impossible dates (`31/2`, `32/1`, `0/5`) are no dates. A bare number is never a date, and
/// `7/10` or `4.2` after a score or a numbered thing ("gaf 7/10", "hoofdstuk 4.2", "groep 2-4",
/// "les 3-4") is not either; nor is a recurring day ("elke dinsdag", "om de 2 weken"). All
/// arithmetic uses a Gregorian calendar in the given time zone, weeks Monday to Sunday.
public enum DutchDateParser {
    /// Finds the first date (and optional time) in `text`, relative to `now` in `timeZone`.
    public static func parse(_ text: String, now: Date, timeZone: TimeZone) -> ParsedDate? {
        let characters = Array(text)
        let scanner = DatePhraseScanner(tokens: DateTokenizer.tokenize(characters), now: now, timeZone: timeZone)
        return scanner.firstMatch(from: 0).map { self.parsedDate($0, tokens: scanner.tokens, characters: characters) }
    }

    /// All dates in `text` in order (e.g. "dinsdag 14/1 en donderdag 16/1").
    public static func parseAll(_ text: String, now: Date, timeZone: TimeZone) -> [ParsedDate] {
        let characters = Array(text)
        let scanner = DatePhraseScanner(tokens: DateTokenizer.tokenize(characters), now: now, timeZone: timeZone)
        var found: [ParsedDate] = []
        var index = 0
        while let match = scanner.firstMatch(from: index) {
            found.append(self.parsedDate(match, tokens: scanner.tokens, characters: characters))
            index = match.end
        }
        return found
    }

    /// "dinsdag 14 januari 2025 om 10:00" style, for confirmations; `language` "nl" or "en"
    /// ("Tuesday 14 January 2025 at 10:00"). Any language other than English gets Dutch.
    public static func format(_ parsed: ParsedDate, language: String) -> String {
        let english = language.lowercased().hasPrefix("en")
        guard let year = parsed.day.year, let month = parsed.day.month, let day = parsed.day.day, (1...12).contains(month) else {
            return parsed.matchedText
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let monthName = (english ? DateLexicon.monthNamesEnglish : DateLexicon.monthNamesDutch)[month - 1]
        var text = "\(day) \(monthName) \(year)"
        if let date = calendar.date(from: DateComponents(year: year, month: month, day: day)) {
            let weekday = calendar.component(.weekday, from: date)
            text = (english ? DateLexicon.weekdayNamesEnglish : DateLexicon.weekdayNamesDutch)[weekday - 1] + " " + text
        }
        if let time = parsed.time, let hour = time.hour {
            let minute = time.minute ?? 0
            text += (english ? " at " : " om ") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
        }
        return text
    }

    private static func parsedDate(_ match: PhraseMatch, tokens: [DateToken], characters: [Character]) -> ParsedDate {
        let text = String(characters[tokens[match.start].start..<tokens[match.end - 1].end])
        return ParsedDate(
            day: DateComponents(year: match.day.year, month: match.day.month, day: match.day.day),
            time: match.time.map { DateComponents(hour: $0.hour, minute: $0.minute) },
            matchedText: text,
            weekdayMismatch: match.weekdayMismatch
        )
    }
}
