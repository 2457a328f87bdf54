import Foundation
import SpiegelSchedule
import Testing

/// What a phrase should parse to.
struct ExpectedDate: Sendable, CustomTestStringConvertible {
    let text: String
    let year: Int
    let month: Int
    let day: Int
    let hour: Int?
    let minute: Int?

    init(_ text: String, _ year: Int, _ month: Int, _ day: Int, _ hour: Int? = nil, _ minute: Int? = nil) {
        self.text = text
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
    }

    var testDescription: String { self.text }
}

@Suite struct DutchDateParserTests {
    static let brussels = TimeZone(identifier: "Europe/Brussels")!

    /// Wednesday 8 January 2025, 09:00 in Brussels.
    static let wednesday = Self.moment(2025, 1, 8, 9)
    /// Friday 20 December 2024, 15:00 in Brussels.
    static let december = Self.moment(2024, 12, 20, 15)

    static func moment(_ year: Int, _ month: Int, _ day: Int, _ hour: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.brussels
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour))!
    }

    static func check(_ expected: ExpectedDate, now: Date) throws {
        let parsed = try #require(DutchDateParser.parse(expected.text, now: now, timeZone: Self.brussels), "no date in \(expected.text)")
        #expect(parsed.day == DateComponents(year: expected.year, month: expected.month, day: expected.day), "\(expected.text)")
        if let hour = expected.hour {
            #expect(parsed.time == DateComponents(hour: hour, minute: expected.minute ?? 0), "\(expected.text)")
        } else {
            #expect(parsed.time == nil, "\(expected.text)")
        }
        #expect(!parsed.matchedText.isEmpty)
    }

    static let phrasings: [ExpectedDate] = [
        // From the chat, Flemish.
        ExpectedDate("onze les is dinsdag 14/1 om 10u", 2025, 1, 14, 10, 0),
        ExpectedDate("observatie 14 januari", 2025, 1, 14),
        ExpectedDate("volgende week donderdag om 13u30", 2025, 1, 16, 13, 30),
        ExpectedDate("morgen het derde uur", 2025, 1, 9),
        // Numeric.
        ExpectedDate("14/1", 2025, 1, 14),
        ExpectedDate("de les van 14/01 ging goed", 2025, 1, 14),
        ExpectedDate("14-1", 2025, 1, 14),
        ExpectedDate("op 14.1 kom ik kijken", 2025, 1, 14),
        ExpectedDate("14/1/2025", 2025, 1, 14),
        ExpectedDate("14/1/25", 2025, 1, 14),
        ExpectedDate("2025-01-14", 2025, 1, 14),
        ExpectedDate("14/1/2026", 2026, 1, 14),
        // Written months.
        ExpectedDate("14 jan", 2025, 1, 14),
        ExpectedDate("op 14 jan. geef ik les", 2025, 1, 14),
        ExpectedDate("maandag 13 januari 2025", 2025, 1, 13),
        ExpectedDate("de 14de januari", 2025, 1, 14),
        ExpectedDate("14e januari", 2025, 1, 14),
        ExpectedDate("1ste februari", 2025, 2, 1),
        ExpectedDate("DINSDAG 14 JANUARI", 2025, 1, 14),
        ExpectedDate("14 februari", 2025, 2, 14),
        ExpectedDate("January 14", 2025, 1, 14),
        ExpectedDate("14 January", 2025, 1, 14),
        ExpectedDate("Jan. 14th, 2025", 2025, 1, 14),
        ExpectedDate("the 3rd of February at 9am", 2025, 2, 3, 9, 0),
        ExpectedDate("Tuesday, January 14 at 2:30 pm", 2025, 1, 14, 14, 30),
        // Weekdays.
        ExpectedDate("maandag", 2025, 1, 13),
        ExpectedDate("woensdag", 2025, 1, 15),
        ExpectedDate("woensdagnamiddag", 2025, 1, 15),
        ExpectedDate("vandaag, woensdag, om 14u", 2025, 1, 8, 14, 0),
        ExpectedDate("di 14/1", 2025, 1, 14),
        ExpectedDate("ma 13/1", 2025, 1, 13),
        ExpectedDate("vr. 17/1 om 9u", 2025, 1, 17, 9, 0),
        ExpectedDate("dinsdag de 14de", 2025, 1, 14),
        ExpectedDate("volgende dinsdag", 2025, 1, 14),
        ExpectedDate("dinsdag volgende week", 2025, 1, 14),
        ExpectedDate("volgende week dinsdag", 2025, 1, 14),
        ExpectedDate("dinsdag van volgende week om 10u", 2025, 1, 14, 10, 0),
        ExpectedDate("deze vrijdag", 2025, 1, 10),
        ExpectedDate("deze woensdag", 2025, 1, 8),
        ExpectedDate("over twee weken dinsdag", 2025, 1, 21),
        ExpectedDate("next tuesday", 2025, 1, 14),
        ExpectedDate("next Thursday at 2:30 pm", 2025, 1, 9, 14, 30),
        // Relative days.
        ExpectedDate("vandaag", 2025, 1, 8),
        ExpectedDate("morgen", 2025, 1, 9),
        ExpectedDate("overmorgen", 2025, 1, 10),
        ExpectedDate("over 3 dagen", 2025, 1, 11),
        ExpectedDate("over een week", 2025, 1, 15),
        ExpectedDate("over twee weken", 2025, 1, 22),
        ExpectedDate("over veertien dagen", 2025, 1, 22),
        ExpectedDate("volgende week", 2025, 1, 15),
        ExpectedDate("over een maand", 2025, 2, 8),
        ExpectedDate("today", 2025, 1, 8),
        ExpectedDate("tomorrow at 10am", 2025, 1, 9, 10, 0),
        ExpectedDate("in 3 days", 2025, 1, 11),
        // Times.
        ExpectedDate("morgen om 10 u", 2025, 1, 9, 10, 0),
        ExpectedDate("morgen 10u30", 2025, 1, 9, 10, 30),
        ExpectedDate("morgen om 10:30", 2025, 1, 9, 10, 30),
        ExpectedDate("morgen om 10.30u", 2025, 1, 9, 10, 30),
        ExpectedDate("morgen om 10", 2025, 1, 9, 10, 0),
        ExpectedDate("morgen om half elf", 2025, 1, 9, 10, 30),
        ExpectedDate("morgen om kwart over tien", 2025, 1, 9, 10, 15),
        ExpectedDate("morgen om kwart voor elf", 2025, 1, 9, 10, 45),
        ExpectedDate("donderdag om half twee", 2025, 1, 9, 13, 30),
        ExpectedDate("morgen om 2u 's middags", 2025, 1, 9, 14, 0),
        ExpectedDate("vrijdag om 14h", 2025, 1, 10, 14, 0),
        ExpectedDate("vrijdag 14h30", 2025, 1, 10, 14, 30),
        ExpectedDate("Vrijdag 17 januari om vijf voor half elf", 2025, 1, 17, 10, 25),
        ExpectedDate("14/1 10.30", 2025, 1, 14, 10, 30),
        ExpectedDate("om 10u op dinsdag 14/1", 2025, 1, 14, 10, 0),
        ExpectedDate("mijn les is op 14/1 van 10u tot 11u", 2025, 1, 14, 10, 0),
        ExpectedDate("morgen om 2u", 2025, 1, 9, 14, 0),
        ExpectedDate("morgen om 8u 's avonds", 2025, 1, 9, 20, 0),
        ExpectedDate("vanavond om 8u", 2025, 1, 8, 20, 0),
        ExpectedDate("dinsdagnamiddag om 2u", 2025, 1, 14, 14, 0),
        ExpectedDate("kwart na tien morgen", 2025, 1, 9, 10, 15),
        ExpectedDate("observatie les 14/1", 2025, 1, 14),
        ExpectedDate("volgende week dinsdag 14/1", 2025, 1, 14),
    ]

    @Test(arguments: Self.phrasings)
    func phrasing(_ expected: ExpectedDate) throws {
        try Self.check(expected, now: Self.wednesday)
    }

    /// Said on Friday 20 December 2024: dates without a year roll over into 2025.
    static let december2024: [ExpectedDate] = [
        ExpectedDate("14/1", 2025, 1, 14),
        ExpectedDate("dinsdag 14 januari", 2025, 1, 14),
        ExpectedDate("3 januari om 9u", 2025, 1, 3, 9, 0),
        ExpectedDate("20/12", 2024, 12, 20),
        ExpectedDate("19/12", 2025, 12, 19),
        ExpectedDate("maandag", 2024, 12, 23),
        ExpectedDate("volgende week woensdag", 2024, 12, 25),
        ExpectedDate("over twee weken", 2025, 1, 3),
    ]

    @Test(arguments: Self.december2024)
    func yearRollOver(_ expected: ExpectedDate) throws {
        try Self.check(expected, now: Self.december)
    }

    @Test(arguments: [
        ("dinsdag 15/1", 15, true),
        ("vrijdag 14 januari", 14, true),
        ("dinsdag 14/1", 14, false),
        ("wo 15/1", 15, false),
        ("volgende dinsdag 21/1", 21, false),
        ("volgende dinsdag 22/1", 22, true),
        ("morgen, 10/1", 10, true),
    ])
    func weekdayAgainstDate(text: String, day: Int, mismatch: Bool) throws {
        let parsed = try #require(DutchDateParser.parse(text, now: Self.wednesday, timeZone: Self.brussels))
        #expect(parsed.day == DateComponents(year: 2025, month: 1, day: day))
        #expect(parsed.weekdayMismatch == mismatch)
    }

    @Test func todayWithTheWrongWeekday() throws {
        let parsed = try #require(DutchDateParser.parse("vandaag donderdag", now: Self.wednesday, timeZone: Self.brussels))
        #expect(parsed.day == DateComponents(year: 2025, month: 1, day: 8))
        #expect(parsed.weekdayMismatch)
        #expect(parsed.matchedText == "vandaag donderdag")
    }

    @Test(arguments: ["31/2", "32/1", "0/5", "14/13", "30 februari", "31 april", "29/2", "29/2/2025", "2025-02-30"])
    func invalidDates(text: String) {
        #expect(DutchDateParser.parse(text, now: Self.wednesday, timeZone: Self.brussels) == nil)
    }

    @Test(arguments: [
        "ik gaf 7 op 10",
        "les 3 was sterk",
        "groep 2 en 4 werken samen",
        "we observeren om de 2 weken",
        "we zitten aan hoofdstuk 4.2",
        "hij haalde 7/10 op de toets",
        "groep 5-6 werkt in duo's",
        "goeie morgen allemaal",
        "ik sta 's morgens voor de klas",
        "om 10u begint de les",
        "in 2025 doen we verder",
        "de ma van Jan is ziek",
        "Do you want to join?",
        "over een paar dagen",
        "in april 3 lessen geven",
        "er zitten 24 leerlingen in de klas",
        "een gemiddelde van 7,5/10",
        "we werken elke dinsdag in duo's",
        "les 3-4 ging over breuken",
    ])
    func noDate(text: String) {
        #expect(DutchDateParser.parse(text, now: Self.wednesday, timeZone: Self.brussels) == nil)
        #expect(DutchDateParser.parseAll(text, now: Self.wednesday, timeZone: Self.brussels).isEmpty)
    }

    @Test func matchedTextIsTheDatePhraseAsWritten() throws {
        let parsed = try #require(DutchDateParser.parse("Onze les is Dinsdag 14/1 om 10u, in 2B.", now: Self.wednesday, timeZone: Self.brussels))
        #expect(parsed.matchedText == "Dinsdag 14/1 om 10u")
    }

    @Test func threeLessonDates() {
        let text = "We observeren dinsdag 14/1 om 10u, donderdag 16 januari om 13u30 en vrijdag 24/1."
        let all = DutchDateParser.parseAll(text, now: Self.wednesday, timeZone: Self.brussels)
        #expect(all.map(\.day) == [
            DateComponents(year: 2025, month: 1, day: 14),
            DateComponents(year: 2025, month: 1, day: 16),
            DateComponents(year: 2025, month: 1, day: 24),
        ])
        #expect(all.map(\.time) == [DateComponents(hour: 10, minute: 0), DateComponents(hour: 13, minute: 30), nil])
        #expect(all.map(\.matchedText) == ["dinsdag 14/1 om 10u", "donderdag 16 januari om 13u30", "vrijdag 24/1"])
        #expect(all.allSatisfy { !$0.weekdayMismatch })
    }

    @Test func listOfNumericDates() {
        let all = DutchDateParser.parseAll("14/1, 16/1 en 21/1", now: Self.wednesday, timeZone: Self.brussels)
        #expect(all.map(\.day.day) == [14, 16, 21])
    }

    @Test func daysSharingAMonth() {
        let all = DutchDateParser.parseAll("de observaties zijn op 14 en 16 januari", now: Self.wednesday, timeZone: Self.brussels)
        #expect(all.map(\.day) == [DateComponents(year: 2025, month: 1, day: 14), DateComponents(year: 2025, month: 1, day: 16)])
    }

    @Test func formatInDutchAndEnglish() throws {
        let parsed = try #require(DutchDateParser.parse("dinsdag 14/1 om 10u", now: Self.wednesday, timeZone: Self.brussels))
        #expect(DutchDateParser.format(parsed, language: "nl") == "dinsdag 14 januari 2025 om 10:00")
        #expect(DutchDateParser.format(parsed, language: "en") == "Tuesday 14 January 2025 at 10:00")
        let dayOnly = ParsedDate(day: DateComponents(year: 2025, month: 1, day: 24), matchedText: "vrijdag 24/1")
        #expect(DutchDateParser.format(dayOnly, language: "nl") == "vrijdag 24 januari 2025")
        #expect(DutchDateParser.format(dayOnly, language: "en") == "Friday 24 January 2025")
        let early = ParsedDate(day: DateComponents(year: 2025, month: 3, day: 3), time: DateComponents(hour: 9, minute: 5), matchedText: "3/3 om 9u05")
        #expect(DutchDateParser.format(early, language: "nl") == "maandag 3 maart 2025 om 9:05")
    }

    @Test func dateInTimeZone() throws {
        let parsed = try #require(DutchDateParser.parse("morgen om 10u", now: Self.wednesday, timeZone: Self.brussels))
        #expect(parsed.date(in: Self.brussels) == Self.moment(2025, 1, 9, 10))
    }
}

