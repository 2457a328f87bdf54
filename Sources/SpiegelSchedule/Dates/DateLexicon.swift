/// The words the date parser knows, folded (lowercase, no accents). Weekdays use Foundation's
/// numbering: 1 is Sunday, 2 Monday, … 7 Saturday.
enum DateLexicon {
    /// Month names and abbreviations, Dutch and English.
    static let months: [String: Int] = [
        "januari": 1, "january": 1, "jan": 1,
        "februari": 2, "february": 2, "feb": 2, "febr": 2,
        "maart": 3, "march": 3, "mrt": 3, "mar": 3, "maa": 3,
        "april": 4, "apr": 4,
        "mei": 5, "may": 5,
        "juni": 6, "june": 6, "jun": 6,
        "juli": 7, "july": 7, "jul": 7,
        "augustus": 8, "august": 8, "aug": 8,
        "september": 9, "sep": 9, "sept": 9,
        "oktober": 10, "october": 10, "okt": 10, "oct": 10,
        "november": 11, "nov": 11,
        "december": 12, "dec": 12,
    ]

    /// Months that may come before the day ("January 14"): English names, and abbreviations that
    /// are not also a Dutch first name or an English word ("jan" and "mar" need a dot: "Jan. 14").
    static let monthFirst: Set<String> = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
        "nov", "dec",
    ]

    /// Month abbreviations that may be followed by a dot belonging to them.
    static let monthAbbreviations: Set<String> = [
        "jan", "feb", "febr", "mrt", "mar", "maa", "apr", "jun", "jul", "aug", "sep", "sept", "okt",
        "oct", "nov", "dec",
    ]

    /// Full weekday names, Dutch and English.
    static let weekdays: [String: Int] = [
        "zondag": 1, "maandag": 2, "dinsdag": 3, "woensdag": 4, "donderdag": 5, "vrijdag": 6, "zaterdag": 7,
        "sunday": 1, "monday": 2, "tuesday": 3, "wednesday": 4, "thursday": 5, "friday": 6, "saturday": 7,
    ]

    /// Weekday abbreviations; only a weekday when a date follows ("di 14/1").
    static let weekdayAbbreviations: [String: Int] = [
        "zo": 1, "ma": 2, "di": 3, "wo": 4, "do": 5, "vr": 6, "za": 7,
        "sun": 1, "mon": 2, "tue": 3, "tues": 3, "wed": 4, "thu": 5, "thur": 5, "thurs": 5, "fri": 6, "sat": 7,
    ]

    /// Parts of the day that may be glued to a Dutch weekday: "dinsdagnamiddag".
    static let weekdayDayparts = ["voormiddag", "namiddag", "ochtend", "morgen", "middag", "avond"]

    /// Dutch and English names of the weekday, for `format`; index 0 is Sunday.
    static let weekdayNamesDutch = ["zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"]
    static let weekdayNamesEnglish = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    /// Dutch and English month names, for `format`; index 0 is January.
    static let monthNamesDutch = [
        "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
        "oktober", "november", "december",
    ]
    static let monthNamesEnglish = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ]

    /// Endings of an ordinal day: "14de", "14e", "1ste", "1st", "2nd", "3rd", "14th".
    static let ordinalSuffixes: Set<String> = ["e", "de", "ste", "st", "nd", "rd", "th"]

    /// Numbers written as words, for "over twee weken", "half elf", "in three days".
    static let dutchNumbers: [String: Int] = [
        "een": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7, "acht": 8,
        "negen": 9, "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14,
    ]
    static let englishNumbers: [String: Int] = [
        "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    ]

    /// Words that introduce a time after a date: "om 10u", "at 10am", "rond 9u".
    static let timeConnectors: Set<String> = [
        "om", "at", "rond", "omstreeks", "rondom", "around", "vanaf", "from", "van", "tussen", "between", "tegen",
    ]

    /// Words after which `7/10` or `4.2` is a score, a chapter or a group, never a date.
    static let numericBlockers: Set<String> = [
        // scores
        "gaf", "geef", "geeft", "geven", "gegeven", "kreeg", "krijgt", "kregen", "gekregen", "haalde", "haalt",
        "haalden", "behaalde", "scoorde", "scoort", "scoorden", "score", "scores", "cijfer", "cijfers", "punt",
        "punten", "resultaat", "gemiddeld", "gemiddelde", "een",
        "scored", "got", "gave", "grade", "mark", "marks", "points",
        // numbered things
        "hoofdstuk", "hoofdstukken", "hfst", "hfdst", "paragraaf", "pagina", "paginas", "blz", "bladzijde", "p",
        "pp", "nr", "nummer", "oefening", "oefeningen", "opdracht", "opdrachten", "vraag", "vragen", "lesuur", "lesuren", "uur", "uren", "groep", "groepen", "klas", "klassen", "leerjaar", "jaar", "graad",
        "niveau", "stap", "stappen", "fase", "fases", "module", "thema", "versie", "tafel", "tafels", "kaart",
        "chapter", "page", "exercise", "question", "group", "class", "level", "step", "version",
        // a time, not a date
        "om", "at", "rond", "omstreeks", "around",
    ]

    /// Words after which `3-4` or `2.3` is not a date, but `14/1` is ("les 3-4", "les 14/1").
    static let dashAndDotBlockers: Set<String> = ["les", "lessen", "lesson", "lessons"]

    /// Words that turn `morgen` into "morning" ("goeie morgen", "deze morgen").
    static let morningBefore: Set<String> = [
        "deze", "die", "de", "elke", "iedere", "goede", "goeie", "goeiemorgen", "n", "een", "zondag", "maandag",
        "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag",
    ]

    /// Words after a bare hour ("om 10") that show it is a count, not a time.
    static let notAfterBareHour: Set<String> = [
        "minuten", "minuut", "min", "minutes", "seconden", "leerlingen", "lln", "kinderen", "dagen", "weken",
        "keer", "punten", "procent", "euro", "students", "pupils", "days", "weeks", "times", "points",
    ]
}
