import Foundation

/// A date on the calendar, without a time or a zone.
struct CivilDay: Sendable, Equatable, Comparable {
    var year: Int
    var month: Int
    var day: Int

    static func < (lhs: CivilDay, rhs: CivilDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

/// A day phrase: the day it names and the token after it.
struct DayMatch: Sendable {
    /// What a phrase rests on; a weekday or a near day may be followed by the date it means
    /// ("volgende dinsdag 14/1", "morgen, 9/1").
    enum Anchor: Sendable, Equatable {
        case calendar
        case weekday(Int)
        case nearDay
        case span
    }

    var day: CivilDay
    var end: Int
    var weekdayMismatch = false
    var anchor = Anchor.calendar
}

/// A time phrase: the time it names and the token after it.
struct TimeMatch: Sendable {
    var hour: Int
    var minute: Int
    var end: Int
}

/// A whole date phrase: tokens `start..<end`.
struct PhraseMatch: Sendable {
    var day: CivilDay
    var time: TimeMatch?
    var start: Int
    var end: Int
    var weekdayMismatch: Bool
}

/// Finds date phrases in a tokenized message. At each token it tries every phrase shape and keeps
/// the longest; a phrase is a day (a calendar date, a weekday, a relative day) with an optional
/// time after it, or a time followed by a day ("om 10u op dinsdag").
///
/// All date arithmetic goes through a Gregorian `Calendar` in the caller's time zone, with weeks
/// starting on Monday.
struct DatePhraseScanner {
    let tokens: [DateToken]
    let calendar: Calendar
    let todayStart: Date
    let today: CivilDay

    init(tokens: [DateToken], now: Date, timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        self.tokens = tokens
        self.calendar = calendar
        self.todayStart = calendar.startOfDay(for: now)
        let components = calendar.dateComponents([.year, .month, .day], from: now)
        self.today = CivilDay(year: components.year ?? 1970, month: components.month ?? 1, day: components.day ?? 1)
    }

    /// The first phrase that starts at or after token `index`.
    func firstMatch(from index: Int) -> PhraseMatch? {
        var index = index
        while index < self.tokens.count {
            if let found = self.match(at: index) { return found }
            index += 1
        }
        return nil
    }

    /// The longest phrase starting at token `index`.
    func match(at index: Int) -> PhraseMatch? {
        var best: PhraseMatch?
        if let day = self.dayPhrase(at: index) {
            var found = PhraseMatch(day: day.day, time: nil, start: index, end: day.end, weekdayMismatch: day.weekdayMismatch)
            var next = day.end
            if self.isSymbol(next, ",") { next += 1 }
            if self.isWord(next, ["de", "the"]) { next += 1 }
            if day.anchor != .calendar, day.anchor != .span, let date = self.calendarDate(at: next) {
                // The date wins over the weekday or near day before it.
                found.day = date.day
                found.end = date.end
                switch day.anchor {
                case .weekday(let weekday): found.weekdayMismatch = self.weekday(of: date.day) != weekday
                default: found.weekdayMismatch = day.weekdayMismatch || date.day != day.day
                }
            }
            next = found.end
            if self.isSymbol(next, ",") { next += 1 }
            if let time = self.time(at: next, afterDay: true) {
                found.time = self.inEvening(index..<found.end) ? self.evening(time) : time
                found.end = time.end
            }
            best = found
        }
        if let time = self.time(at: index, afterDay: false) {
            var next = time.end
            if self.isSymbol(next, ",") { next += 1 }
            if self.isWord(next, ["op", "on"]) { next += 1 }
            if let day = self.dayPhrase(at: next), day.end > (best?.end ?? index) {
                let time = self.inEvening(next..<day.end) ? self.evening(time) : time
                best = PhraseMatch(day: day.day, time: time, start: index, end: day.end, weekdayMismatch: day.weekdayMismatch)
            }
        }
        return best
    }

    /// Whether the day phrase in `range` names the evening: "vanavond", "dinsdagavond", "tonight".
    func inEvening(_ range: Range<Int>) -> Bool {
        range.contains { self.word($0).map { $0.hasSuffix("avond") || $0 == "tonight" } ?? false }
    }

    /// `time` in the evening: 8 becomes 20.
    func evening(_ time: TimeMatch) -> TimeMatch {
        var time = time
        if (1...11).contains(time.hour) { time.hour += 12 }
        return time
    }

    // MARK: - Days

    /// The longest day phrase starting at `index`.
    func dayPhrase(at index: Int) -> DayMatch? {
        let candidates = [
            self.calendarDate(at: index),
            self.weekdayWithDate(at: index),
            self.relativeDay(at: index),
            self.weekdayPhrase(at: index),
        ]
        var best: DayMatch?
        for case let candidate? in candidates where candidate.end > (best?.end ?? index) {
            best = candidate
        }
        return best
    }

    /// A date with day and month: numeric, ISO or with the month written out.
    func calendarDate(at index: Int) -> DayMatch? {
        self.numericDate(at: index) ?? self.writtenDate(at: index) ?? self.monthFirstDate(at: index)
    }

    /// `14/1`, `14-01`, `14.1`, `14/1/2025`, `14/1/25`, `2025-01-14`.
    func numericDate(at index: Int) -> DayMatch? {
        guard let first = self.number(index), self.isAdjacent(index + 1), self.isAdjacent(index + 2),
              let separator = self.symbol(index + 1), ["/", "-", "."].contains(separator),
              let second = self.number(index + 2)
        else { return nil }
        var end = index + 3
        let year: Int?
        let month: Int
        let day: Int
        if first.digits == 4 {
            guard second.digits <= 2, self.isAdjacent(end), self.symbol(end) == separator, self.isAdjacent(end + 1),
                  let third = self.number(end + 1), third.digits <= 2
            else { return nil }
            (year, month, day) = (first.value, second.value, third.value)
            end += 2
        } else {
            guard first.digits <= 2, second.digits <= 2 else { return nil }
            (month, day) = (second.value, first.value)
            if self.isAdjacent(end), self.symbol(end) == separator, self.isAdjacent(end + 1),
               let third = self.number(end + 1), third.digits == 2 || third.digits == 4 {
                year = third.digits == 2 ? 2000 + third.value : third.value
                end += 2
            } else {
                year = nil
            }
        }
        // Not part of a longer run of numbers ("1-2-3", "10:14/1") or glued to a word.
        if index > 0, !self.tokens[index].spaceBefore {
            let previous = self.tokens[index - 1]
            if previous.kind != .symbol || [separator, ".", ":"].contains(previous.text) { return nil }
            // A decimal comma: "7,5/10" (but "14/1,16/1" is a list).
            if previous.text == ",", index >= 2, self.number(index - 2) != nil, !self.tokens[index - 1].spaceBefore,
               !(index >= 3 && !self.tokens[index - 2].spaceBefore && self.symbol(index - 3) == separator) {
                return nil
            }
        }
        if end < self.tokens.count, self.isAdjacent(end) {
            let next = self.tokens[end]
            if next.kind != .symbol || next.text == separator || next.text == ":" { return nil }
            if [".", ","].contains(next.text), self.isAdjacent(end + 1), self.number(end + 1) != nil { return nil }
        }
        // A score, a chapter, a group or a time rather than a date: "gaf 7/10", "hoofdstuk 4.2", "om 9.15".
        if let previous = self.previousWord(before: index) {
            if DateLexicon.numericBlockers.contains(previous) { return nil }
            if separator != "/", DateLexicon.dashAndDotBlockers.contains(previous) { return nil }
        }
        if self.isWord(end, ["u", "uur", "h", "am", "pm", "punten", "ptn", "points", "procent"]) { return nil }
        guard let resolved = self.resolve(year: year, month: month, day: day) else { return nil }
        return DayMatch(day: resolved, end: end)
    }

    /// `14 januari`, `14 jan.`, `14de januari`, `1ste februari 2025`, `14th of January`.
    func writtenDate(at index: Int) -> DayMatch? {
        guard let first = self.number(index), first.digits <= 2 else { return nil }
        if index > 0, !self.tokens[index].spaceBefore {
            let previous = self.tokens[index - 1]
            if previous.kind != .symbol || [".", ":", "/"].contains(previous.text) { return nil }
        }
        var end = index + 1
        if self.isAdjacent(end), let suffix = self.word(end), DateLexicon.ordinalSuffixes.contains(suffix) { end += 1 }
        if self.isWord(end, ["of"]) { end += 1 }
        guard let (month, year, monthEnd) = self.month(at: end) ?? self.monthAfterList(at: end) else { return nil }
        // In a list ("14 en 16 januari", "14-16 januari") the phrase is the day alone.
        if monthEnd > end { end = monthEnd }
        guard let resolved = self.resolve(year: year, month: month, day: first.value) else { return nil }
        return DayMatch(day: resolved, end: end)
    }

    /// A month name (maybe with its abbreviation dot) and maybe a year: "januari", "jan. 2025".
    func month(at index: Int) -> (month: Int, year: Int?, end: Int)? {
        guard let monthWord = self.word(index), let month = DateLexicon.months[monthWord] else { return nil }
        var end = index + 1
        if DateLexicon.monthAbbreviations.contains(monthWord), self.isAdjacent(end), self.isSymbol(end, ".") { end += 1 }
        guard let year = self.year(at: end) else { return (month, nil, end) }
        return (month, year.value, year.end)
    }

    /// The month after more days: ", 15 en 16 januari", "-16 januari"; the end is `index` itself.
    func monthAfterList(at index: Int) -> (month: Int, year: Int?, end: Int)? {
        var next = index
        for _ in 0..<6 {
            guard self.isSymbol(next, ",") || self.isSymbol(next, "-") || self.isSymbol(next, "&")
                || self.isWord(next, ["en", "and", "tot", "of", "or"])
            else { return nil }
            next += 1
            guard let day = self.number(next), day.digits <= 2 else { return nil }
            next += 1
            if self.isAdjacent(next), let suffix = self.word(next), DateLexicon.ordinalSuffixes.contains(suffix) { next += 1 }
            if let found = self.month(at: next) { return (found.month, found.year, index) }
        }
        return nil
    }

    /// `January 14`, `Jan. 14th, 2025`, `Sept 3`.
    func monthFirstDate(at index: Int) -> DayMatch? {
        guard let monthWord = self.word(index), let month = DateLexicon.months[monthWord] else { return nil }
        var end = index + 1
        let dotted = self.isAdjacent(end) && self.isSymbol(end, ".")
        guard DateLexicon.monthFirst.contains(monthWord) || (dotted && DateLexicon.monthAbbreviations.contains(monthWord)) else {
            return nil
        }
        if dotted { end += 1 }
        guard let dayNumber = self.number(end), dayNumber.digits <= 2 else { return nil }
        end += 1
        var ordinal = false
        if self.isAdjacent(end), let suffix = self.word(end), DateLexicon.ordinalSuffixes.contains(suffix) {
            end += 1
            ordinal = true
        }
        var year: Int?
        if let found = self.year(at: end) {
            year = found.value
            end = found.end
        } else if !ordinal {
            // "in april 3 lessen", "may 10:30" are no dates.
            if let next = self.word(end), !["at", "om", "and", "en", "to", "tot", "till", "until", "from", "van", "on", "op"].contains(next) {
                return nil
            }
            if end < self.tokens.count, self.isAdjacent(end), self.tokens[end].kind != .symbol || self.isSymbol(end, ":") || self.isSymbol(end, ".") && self.number(end + 1) != nil {
                return nil
            }
        }
        guard let resolved = self.resolve(year: year, month: month, day: dayNumber.value) else { return nil }
        return DayMatch(day: resolved, end: end)
    }

    /// A weekday before a date: `dinsdag 14/1`, `di. 14 januari`, `dinsdag, de 14de`.
    func weekdayWithDate(at index: Int) -> DayMatch? {
        guard let weekday = self.fullWeekday(index) ?? self.word(index).flatMap({ DateLexicon.weekdayAbbreviations[$0] }) else {
            return nil
        }
        var next = index + 1
        if self.isAdjacent(next), self.isSymbol(next, ".") { next += 1 }
        if self.isSymbol(next, ",") { next += 1 }
        if self.isWord(next, ["de", "the"]) { next += 1 }
        if let date = self.calendarDate(at: next) {
            return DayMatch(day: date.day, end: date.end, weekdayMismatch: self.weekday(of: date.day) != weekday)
        }
        // Only the day of the month, as an ordinal: "dinsdag de 14de".
        guard let dayNumber = self.number(next), dayNumber.digits <= 2, self.isAdjacent(next + 1),
              let suffix = self.word(next + 1), DateLexicon.ordinalSuffixes.contains(suffix),
              let day = self.nextDay(ofMonth: dayNumber.value)
        else { return nil }
        return DayMatch(day: day, end: next + 2, weekdayMismatch: self.weekday(of: day) != weekday)
    }

    /// `vandaag`, `morgen`, `overmorgen`, `over 3 dagen`, `over een week`, `volgende week`,
    /// `tomorrow`, `in 3 days`; after today and tomorrow a weekday may follow ("morgen, donderdag").
    func relativeDay(at index: Int) -> DayMatch? {
        guard let word = self.word(index) else { return nil }
        var days = 0
        var months = 0
        var end = index + 1
        var mayNameWeekday = false
        switch word {
        case "vandaag", "today", "vanavond", "vanmiddag", "vannamiddag", "vanochtend", "vanmorgen", "vanvoormiddag", "tonight":
            mayNameWeekday = true
        case "morgen":
            if let previous = self.previousWord(before: index), DateLexicon.morningBefore.contains(previous) { return nil }
            days = 1
            mayNameWeekday = true
        case "tomorrow", "morgenvroeg", "morgenochtend", "morgenvoormiddag", "morgenmiddag", "morgennamiddag", "morgenavond":
            days = 1
            mayNameWeekday = true
        case "overmorgen":
            days = 2
        case "gisteren", "yesterday":
            days = -1
        case "eergisteren":
            days = -2
        case "day":
            guard self.isWord(index + 1, ["after"]), self.isWord(index + 2, ["tomorrow"]) else { return nil }
            days = 2
            end = index + 3
        case "over", "in":
            let english = word == "in"
            guard let count = self.count(at: index + 1, english: english), let unit = self.word(index + 2) else { return nil }
            switch (english, unit) {
            case (false, "dag"), (false, "dagen"), (true, "day"), (true, "days"): days = count
            case (false, "week"), (false, "weken"), (true, "week"), (true, "weeks"): days = 7 * count
            case (false, "maand"), (false, "maanden"), (true, "month"), (true, "months"): months = count
            default: return nil
            }
            end = index + 3
        case "volgende", "komende", "next":
            guard self.isWord(index + 1, ["week"]) else { return nil }
            days = 7
            end = index + 2
        default:
            return nil
        }
        guard let date = self.calendar.date(byAdding: DateComponents(month: months, day: days), to: self.todayStart) else {
            return nil
        }
        var found = DayMatch(day: self.civilDay(of: date), end: end, anchor: (-2...2).contains(days) && months == 0 ? .nearDay : .span)
        if mayNameWeekday {
            var next = end
            if self.isSymbol(next, ",") { next += 1 }
            if let weekday = self.fullWeekday(next) {
                found.end = next + 1
                found.weekdayMismatch = self.weekday(of: found.day) != weekday
            }
        }
        return found
    }

    /// `dinsdag`, `volgende dinsdag`, `deze vrijdag`, `next tuesday`, `dinsdag volgende week`,
    /// `volgende week dinsdag`, `over twee weken op dinsdag`, `dinsdag deze week`.
    func weekdayPhrase(at index: Int) -> DayMatch? {
        if let modifier = self.word(index), let weekday = self.fullWeekday(index + 1) {
            if ["volgende", "komende", "aanstaande", "eerstvolgende", "next", "coming"].contains(modifier) {
                return self.next(weekday, includingToday: false).map { DayMatch(day: $0, end: index + 2, anchor: .weekday(weekday)) }
            }
            if ["deze", "this"].contains(modifier) {
                return self.next(weekday, includingToday: true).map { DayMatch(day: $0, end: index + 2, anchor: .weekday(weekday)) }
            }
        }
        if let week = self.weekPhrase(at: index) {
            var next = week.end
            if self.isSymbol(next, ",") { next += 1 }
            if self.isWord(next, ["op", "on"]) { next += 1 }
            if let weekday = self.fullWeekday(next) {
                return self.weekday(weekday, weeksAhead: week.weeks).map { DayMatch(day: $0, end: next + 1, anchor: .weekday(weekday)) }
            }
        }
        guard let weekday = self.fullWeekday(index) else { return nil }
        // "elke dinsdag", "every tuesday" is no single date.
        if let previous = self.previousWord(before: index), ["elke", "iedere", "alle", "every", "each"].contains(previous) { return nil }
        var next = index + 1
        if self.isSymbol(next, ",") { next += 1 }
        if self.isWord(next, ["van", "of"]) { next += 1 }
        if let week = self.weekPhrase(at: next) {
            return self.weekday(weekday, weeksAhead: week.weeks).map { DayMatch(day: $0, end: week.end, anchor: .weekday(weekday)) }
        }
        return self.next(weekday, includingToday: false).map { DayMatch(day: $0, end: index + 1, anchor: .weekday(weekday)) }
    }

    /// `volgende week` (1), `deze week` (0), `over twee weken` (2), `next week`, `in 2 weeks`.
    func weekPhrase(at index: Int) -> (weeks: Int, end: Int)? {
        guard let word = self.word(index) else { return nil }
        switch word {
        case "volgende", "komende", "next":
            return self.isWord(index + 1, ["week"]) ? (1, index + 2) : nil
        case "deze", "this":
            return self.isWord(index + 1, ["week"]) ? (0, index + 2) : nil
        case "over", "in":
            let english = word == "in"
            guard let count = self.count(at: index + 1, english: english),
                  self.isWord(index + 2, english ? ["week", "weeks"] : ["week", "weken"])
            else { return nil }
            return (count, index + 3)
        default:
            return nil
        }
    }

    // MARK: - Times

    /// A time, maybe after `om`/`at`: `10u`, `10u30`, `10:30`, `10.30u`, `14h`, `10am`,
    /// `2:30 pm`, `half elf`, `kwart over tien`, `vijf voor half twee`. A bare hour needs `om`/`at`;
    /// `10.30` needs `om`/`at` or a day before it.
    func time(at index: Int, afterDay: Bool) -> TimeMatch? {
        var start = index
        var connector = false
        if let word = self.word(start), DateLexicon.timeConnectors.contains(word) {
            start += 1
            connector = true
        }
        return self.numericTime(at: start, connector: connector, afterDay: afterDay)
            ?? self.spokenTime(at: start, connector: connector)
    }

    func numericTime(at index: Int, connector: Bool, afterDay: Bool) -> TimeMatch? {
        guard let hourNumber = self.number(index), hourNumber.digits <= 2 else { return nil }
        if index > 0, !self.tokens[index].spaceBefore, self.tokens[index - 1].kind != .symbol || ["/", "-", ".", ":"].contains(self.tokens[index - 1].text) {
            return nil
        }
        var hour = hourNumber.value
        var minute = 0
        var end = index + 1
        var marked = false
        var dotted = false
        if self.isAdjacent(end), self.isSymbol(end, ":") || self.isSymbol(end, "."), self.isAdjacent(end + 1),
           let minutes = self.number(end + 1), minutes.digits == 2 {
            minute = minutes.value
            if self.isSymbol(end, ":") { marked = true } else { dotted = true }
            end += 2
        }
        if self.isWord(end, ["u", "uur", "h", "hr", "hrs"]) {
            let hadMinutes = marked || dotted
            end += 1
            marked = true
            if !hadMinutes, self.isAdjacent(end), let minutes = self.number(end), minutes.digits == 2 {
                minute = minutes.value
                end += 1
            }
        }
        let meridiem = self.meridiem(at: end)
        if let meridiem {
            end = meridiem.end
            marked = true
        }
        if !marked {
            if dotted {
                guard connector || afterDay else { return nil }
            } else {
                guard connector else { return nil }
                if let next = self.word(end), DateLexicon.notAfterBareHour.contains(next) { return nil }
            }
        }
        if end < self.tokens.count, self.isAdjacent(end), self.tokens[end].kind != .symbol || ["/", ":"].contains(self.tokens[end].text) {
            return nil
        }
        if let meridiem {
            guard (1...12).contains(hour) else { return nil }
            hour = hour % 12 + (meridiem.pm ? 12 : 0)
        } else if let part = self.daypart(at: end) {
            if part.afternoon, (1...11).contains(hour) { hour += 12 }
            end = part.end
        } else if hourNumber.digits == 1, (1...6).contains(hour) {
            // No lesson is at 2 at night: "om 2u" is 14:00 ("om 02:00" stays as written).
            hour += 12
        }
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        return TimeMatch(hour: hour, minute: minute, end: end)
    }

    /// Times said in words. Without `'s morgens`, `am` or `pm`, hours 1 to 6 are taken as the
    /// afternoon ("half twee" is 13:30), as a school day runs from about 8 to 17.
    func spokenTime(at index: Int, connector: Bool) -> TimeMatch? {
        var end = index
        var offset = 0
        var hasOffset = false
        if let lead = self.minutes(at: end), let direction = self.direction(at: end + 1) {
            offset = lead * direction
            hasOffset = true
            end += 2
        }
        var half = false
        if self.isWord(end, ["half"]) {
            half = true
            end += 1
        }
        guard let hourWord = self.hourWord(at: end) else { return nil }
        end += 1
        var hour = hourWord.value
        var minute = 0
        if half {
            // Dutch "half elf" is 10:30; British "half ten" is 10:30 too.
            if !hourWord.english { hour -= 1 }
            minute = 30
        }
        if !half && !hasOffset {
            if self.isWord(end, ["uur"]) {
                end += 1
            } else if self.isWord(end, ["oclock"]) {
                end += 1
            } else if self.isWord(end, ["o"]), self.isSymbol(end + 1, "'"), self.isWord(end + 2, ["clock"]) {
                end += 3
            } else {
                guard connector, !hourWord.digits else { return nil }
                if let next = self.word(end), !["en", "tot", "and", "to", "until", "op", "on", "in", "s", "of"].contains(next) {
                    return nil
                }
            }
        }
        minute += offset
        if minute < 0 {
            minute += 60
            hour -= 1
        } else if minute >= 60 {
            minute -= 60
            hour += 1
        }
        if hour <= 0 { hour += 12 }
        if hour > 12 { hour -= 12 }
        if let meridiem = self.meridiem(at: end) {
            hour = hour % 12 + (meridiem.pm ? 12 : 0)
            end = meridiem.end
        } else if let part = self.daypart(at: end) {
            if part.afternoon, hour < 12 { hour += 12 }
            end = part.end
        } else if (1...6).contains(hour) {
            hour += 12
        }
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        return TimeMatch(hour: hour, minute: minute, end: end)
    }

    /// `am`, `pm`, `a.m.`, `p.m.`
    func meridiem(at index: Int) -> (pm: Bool, end: Int)? {
        if let word = self.word(index), word == "am" || word == "pm" {
            return (word == "pm", index + 1)
        }
        guard let letter = self.word(index), letter == "a" || letter == "p", self.isAdjacent(index + 1), self.isSymbol(index + 1, "."),
              self.isAdjacent(index + 2), self.isWord(index + 2, ["m"])
        else { return nil }
        var end = index + 3
        if self.isAdjacent(end), self.isSymbol(end, ".") { end += 1 }
        return (letter == "p", end)
    }

    /// `'s middags`, `s'avonds`, `'s morgens`, `in de namiddag`, `in the afternoon`.
    func daypart(at index: Int) -> (afternoon: Bool, end: Int)? {
        let parts: [String: Bool] = [
            "middags": true, "namiddags": true, "avonds": true, "morgens": false, "ochtends": false, "voormiddags": false,
        ]
        let spelledParts: [String: Bool] = [
            "middag": true, "namiddag": true, "avond": true, "afternoon": true, "evening": true,
            "ochtend": false, "voormiddag": false, "morning": false,
        ]
        var next = index
        if self.isSymbol(next, "'") { next += 1 }
        if self.isWord(next, ["s"]) {
            next += 1
            if self.isSymbol(next, "'") { next += 1 }
            if let word = self.word(next), let afternoon = parts[word] { return (afternoon, next + 1) }
            return nil
        }
        if let word = self.word(index), word.hasPrefix("s"), let afternoon = parts[String(word.dropFirst())] {
            return (afternoon, index + 1)
        }
        if self.isWord(index, ["in"]), self.isWord(index + 1, ["de", "the"]), let word = self.word(index + 2),
           let afternoon = spelledParts[word] {
            return (afternoon, index + 3)
        }
        return nil
    }

    /// Minutes before `over`/`voor`/`past`/`to`: a number, `kwart`, `quarter`, English `half`.
    func minutes(at index: Int) -> Int? {
        if let number = self.number(index), number.digits <= 2, (1...29).contains(number.value) { return number.value }
        guard let word = self.word(index) else { return nil }
        switch word {
        case "kwart", "quarter": return 15
        case "half": return self.isWord(index + 1, ["past"]) ? 30 : nil
        default:
            let value = DateLexicon.dutchNumbers[word] ?? DateLexicon.englishNumbers[word]
            return word == "a" || word == "an" ? nil : value
        }
    }

    func direction(at index: Int) -> Int? {
        guard let word = self.word(index) else { return nil }
        switch word {
        case "over", "na", "past", "after": return 1
        case "voor", "to", "before": return -1
        default: return nil
        }
    }

    /// An hour 1 to 12 as a word or a number.
    func hourWord(at index: Int) -> (value: Int, english: Bool, digits: Bool)? {
        if let number = self.number(index), number.digits <= 2, (1...12).contains(number.value) {
            if self.isAdjacent(index + 1), index + 1 < self.tokens.count, self.tokens[index + 1].kind != .symbol { return nil }
            return (number.value, false, true)
        }
        guard let word = self.word(index) else { return nil }
        if let value = DateLexicon.dutchNumbers[word], value <= 12 { return (value, false, false) }
        if word != "a", word != "an", let value = DateLexicon.englishNumbers[word], value <= 12 { return (value, true, false) }
        return nil
    }

    // MARK: - Calendar

    /// The date with the given parts; without a year, the first such date on or after today, this
    /// year or next.
    func resolve(year: Int?, month: Int, day: Int) -> CivilDay? {
        if let year {
            let candidate = CivilDay(year: year, month: month, day: day)
            return (1900...2199).contains(year) && self.isValid(candidate) ? candidate : nil
        }
        for year in [self.today.year, self.today.year + 1] {
            let candidate = CivilDay(year: year, month: month, day: day)
            if self.isValid(candidate), candidate >= self.today { return candidate }
        }
        return nil
    }

    /// The first date on or after today whose day of the month is `day`.
    func nextDay(ofMonth day: Int) -> CivilDay? {
        guard let firstOfMonth = self.calendar.date(from: DateComponents(year: self.today.year, month: self.today.month, day: 1)) else {
            return nil
        }
        for ahead in 0...12 {
            guard let month = self.calendar.date(byAdding: .month, value: ahead, to: firstOfMonth) else { return nil }
            var candidate = self.civilDay(of: month)
            candidate.day = day
            if self.isValid(candidate), candidate >= self.today { return candidate }
        }
        return nil
    }

    /// The first `weekday` after today (or from today on).
    func next(_ weekday: Int, includingToday: Bool) -> CivilDay? {
        for ahead in (includingToday ? 0 : 1)...7 {
            guard let date = self.calendar.date(byAdding: .day, value: ahead, to: self.todayStart) else { return nil }
            if self.calendar.component(.weekday, from: date) == weekday { return self.civilDay(of: date) }
        }
        return nil
    }

    /// `weekday` in the Monday-to-Sunday week `weeks` after the current one.
    func weekday(_ weekday: Int, weeksAhead weeks: Int) -> CivilDay? {
        guard let week = self.calendar.dateInterval(of: .weekOfYear, for: self.todayStart),
              let date = self.calendar.date(byAdding: .day, value: 7 * weeks + (weekday + 5) % 7, to: week.start)
        else { return nil }
        return self.civilDay(of: date)
    }

    func isValid(_ day: CivilDay) -> Bool {
        guard (1...12).contains(day.month), (1...31).contains(day.day),
              let date = self.calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))
        else { return false }
        return self.civilDay(of: date) == day
    }

    func weekday(of day: CivilDay) -> Int? {
        self.calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))
            .map { self.calendar.component(.weekday, from: $0) }
    }

    func civilDay(of date: Date) -> CivilDay {
        let components = self.calendar.dateComponents([.year, .month, .day], from: date)
        return CivilDay(year: components.year ?? 0, month: components.month ?? 0, day: components.day ?? 0)
    }

    // MARK: - Tokens

    /// A four-digit year after a written date, maybe after a comma: "14 januari 2025".
    func year(at index: Int) -> (value: Int, end: Int)? {
        var next = index
        if self.isSymbol(next, ",") { next += 1 }
        guard let year = self.number(next), year.digits == 4, (1900...2199).contains(year.value) else { return nil }
        if next + 1 < self.tokens.count, self.isAdjacent(next + 1), self.tokens[next + 1].kind != .symbol || self.isSymbol(next + 1, ":") {
            return nil
        }
        return (year.value, next + 1)
    }

    /// A count for "over 3 dagen" (Dutch words) or "in three days" (English words).
    func count(at index: Int, english: Bool) -> Int? {
        if let number = self.number(index), number.digits <= 3, (1...366).contains(number.value) { return number.value }
        guard let word = self.word(index) else { return nil }
        return english ? DateLexicon.englishNumbers[word] : DateLexicon.dutchNumbers[word]
    }

    /// A full weekday name, also glued to a part of the day ("dinsdagnamiddag").
    func fullWeekday(_ index: Int) -> Int? {
        guard let word = self.word(index) else { return nil }
        if let weekday = DateLexicon.weekdays[word] { return weekday }
        for part in DateLexicon.weekdayDayparts where word.hasSuffix(part) {
            if let weekday = DateLexicon.weekdays[String(word.dropLast(part.count))] { return weekday }
        }
        return nil
    }

    func word(_ index: Int) -> String? {
        index >= 0 && index < self.tokens.count && self.tokens[index].kind == .word ? self.tokens[index].text : nil
    }

    func number(_ index: Int) -> (value: Int, digits: Int)? {
        guard index >= 0, index < self.tokens.count, self.tokens[index].kind == .number, self.tokens[index].text.count <= 4,
              let value = Int(self.tokens[index].text)
        else { return nil }
        return (value, self.tokens[index].text.count)
    }

    func symbol(_ index: Int) -> String? {
        index >= 0 && index < self.tokens.count && self.tokens[index].kind == .symbol ? self.tokens[index].text : nil
    }

    func isSymbol(_ index: Int, _ text: String) -> Bool {
        self.symbol(index) == text
    }

    func isWord(_ index: Int, _ words: Set<String>) -> Bool {
        self.word(index).map(words.contains) ?? false
    }

    /// Whether token `index` exists and follows the previous one without a space.
    func isAdjacent(_ index: Int) -> Bool {
        index < self.tokens.count && !self.tokens[index].spaceBefore
    }

    /// The word before token `index`, looking past a dot ("nr. 3", "blz. 4.2") or an apostrophe.
    func previousWord(before index: Int) -> String? {
        var previous = index - 1
        if self.isSymbol(previous, ".") || self.isSymbol(previous, "'") { previous -= 1 }
        return self.word(previous)
    }
}
