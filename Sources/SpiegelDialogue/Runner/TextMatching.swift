import Foundation
import SpiegelSchedule

/// Tolerant matching of what a coachee types: case, accents, punctuation and small typos.
enum TextMatching {
    /// Lower case, accents off, punctuation as spaces, runs of spaces as one.
    ///
    /// On the path of every message: plain ASCII (most chat input) skips Foundation's folding.
    static func normalize(_ text: String) -> String {
        let isASCII = text.utf8.allSatisfy { $0 < 0x80 }
        let source = isASCII ? text : text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        // UTF-8 bytes, decoded once at the end: appending scalar by scalar to a string cost most of
        // the time here.
        var result: [UInt8] = []
        result.reserveCapacity(source.utf8.count)
        var pendingSpace = false
        for scalar in source.unicodeScalars {
            let value = scalar.value
            let word: Unicode.Scalar?
            switch value {
            case 0x30...0x39, 0x61...0x7A: word = scalar
            case 0x41...0x5A: word = Unicode.Scalar(value + 0x20)
            case 0..<0x80: word = nil
            default: word = scalar.properties.isAlphabetic || scalar.properties.numericType != nil ? scalar : nil
            }
            guard let word else {
                pendingSpace = true
                continue
            }
            if pendingSpace && !result.isEmpty { result.append(0x20) }
            pendingSpace = false
            if word.isASCII {
                result.append(UInt8(word.value))
            } else {
                UTF8.encode(word) { result.append($0) }
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// How many typos a phrase of this length tolerates: none for short words, where one typo
    /// makes another word ("nee" and "nu").
    static func tolerance(forLength length: Int) -> Int {
        switch length {
        case ..<5: 0
        case ..<10: 1
        default: 2
        }
    }

    /// Whether normalized `input` is `phrase` (already normalized), give or take a few typos.
    static func matches(_ input: String, phrase: String) -> Bool {
        if input == phrase { return true }
        let tolerance = self.tolerance(forLength: phrase.count)
        guard tolerance > 0, abs(input.count - phrase.count) <= tolerance else { return false }
        return self.editDistance(input, phrase, limit: tolerance) <= tolerance
    }

    /// Edit distance counting a swap of two neighbouring letters as one typo (optimal string
    /// alignment), stopping early once it exceeds `limit`.
    static func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMinimum = current[0]
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], beforePrevious[j - 2] + 1)
                }
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > limit { return limit + 1 }
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }

    private static let numberWords: [String: Int] = [
        "nul": 0, "een": 1, "één": 1, "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7, "acht": 8,
        "negen": 9, "tien": 10, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
        "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    ]

    /// The one score in an answer such as `7`, `een 7`, `zeven`, `7/10`, `3 op 10` or
    /// `ik geef mezelf een 6`. `nil` when there is none or more than one.
    static func score(in text: String) -> Int? {
        var words = self.normalize(text).split(separator: " ").map(String.init)
        // "7/10", "7 op 10", "7 out of 10": the 10 is the scale, not a second score.
        if let last = words.last, last == "10", words.count >= 2,
            text.contains("/") || ["op", "of", "de", "van"].contains(words[words.count - 2])
        {
            words.removeLast()
        }
        let digits = words.compactMap { Int($0) }
        if digits.count == 1 { return digits[0] }
        if digits.count > 1 { return nil }
        // "een" is also the article ("een 7" is handled above): count it only when alone.
        if words == ["een"] { return 1 }
        let spelled = words.filter { $0 != "een" }.compactMap { self.numberWords[$0] }
        return spelled.count == 1 ? spelled[0] : nil
    }

    /// Whether the answer is a number (decimal comma or point).
    static func isNumber(_ text: String) -> Bool {
        Double(text.trimmingWhitespace().replacingOccurrences(of: ",", with: ".")) != nil
            || self.score(in: text) != nil
    }

    private static let months: [String: Int] = [
        "januari": 1, "februari": 2, "maart": 3, "april": 4, "mei": 5, "juni": 6, "juli": 7, "augustus": 8,
        "september": 9, "oktober": 10, "november": 11, "december": 12, "january": 1, "february": 2, "march": 3,
        "may": 5, "june": 6, "july": 7, "august": 8, "october": 10,
        "jan": 1, "feb": 2, "mrt": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "okt": 10,
        "oct": 10, "nov": 11, "dec": 12,
    ]

    /// Whether the answer names a calendar date: `14/1`, `14-01-2027`, `2027-01-14`, `14 januari`.
    static func isDate(_ text: String) -> Bool {
        let trimmed = text.trimmingWhitespace().lowercased()
        if let match = trimmed.wholeMatch(of: /(\d{1,2})[\/\-.](\d{1,2})([\/\-.](\d{2}|\d{4}))?/) {
            return self.isValid(day: Int(match.1) ?? 0, month: Int(match.2) ?? 0)
        }
        if let match = trimmed.wholeMatch(of: /(\d{4})-(\d{1,2})-(\d{1,2})/) {
            return self.isValid(day: Int(match.3) ?? 0, month: Int(match.2) ?? 0)
        }
        let words = self.normalize(trimmed).split(separator: " ").map(String.init)
        guard words.count == 2 || words.count == 3, let day = Int(words[0]), let month = self.months[words[1]] else { return false }
        return words.count == 2 || Int(words[2]) != nil ? self.isValid(day: day, month: month) : false
    }

    private static func isValid(day: Int, month: Int) -> Bool {
        let days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...12).contains(month) && (1...days[month - 1]).contains(day)
    }
}

/// Fills `{name}` placeholders with stored answers, so the bot mirrors the coachee's own words.
enum Interpolation {
    /// `text` with each `{name}` replaced by its value; a name without a value becomes `…`.
    /// `{name+1}` and `{name-1}` (any whole number) add to a numeric value, so a scaling question
    /// can say "Wat maakt het een {cijfer} en geen {cijfer-1}?". `{name:first}` is the answer's
    /// first words up to a comma, full stop or dash, for a mirror: "Boos… ik trilde" gives "Boos",
    /// capitalised at the start of the text.
    static func fill(_ text: String, values: [String: String]) -> String {
        guard text.utf8.contains(UInt8(ascii: "{")) else { return text }
        var result = ""
        var rest = text[...]
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                result += rest[open...]
                return result
            }
            let placeholder = Self.parse(String(rest[rest.index(after: open)..<close]))
            if let value = values[placeholder.name] {
                if placeholder.offset != 0, let number = Int(value) {
                    result += String(number + placeholder.offset)
                } else if placeholder.firstWords {
                    let words = Self.firstWords(of: value)
                    result += result.isEmpty ? words.prefix(1).uppercased() + words.dropFirst() : words
                } else {
                    result += value
                }
            } else {
                result += "…"
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// English "a" before a number said with a vowel: "What would an 8 be?", "an 11", "an 18".
    static func englishArticles(_ text: String) -> String {
        guard text.contains("a 8") || text.contains("a 1") || text.contains("A 8") || text.contains("A 1") else { return text }
        return text.replacing(/\b([Aa]) (?=(?:8\d?|11|18)\b)/) { match in "\(match.1)n " }
    }

    /// The placeholders that repeat the coachee's words: those in quotes (`“{plan}”`) and the
    /// mirrors (`{voelde:first}`).
    static func quotations(in text: String) -> [(name: String, firstWords: Bool)] {
        var names: [(String, Bool)] = []
        var rest = text[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            let placeholder = Self.parse(String(rest[rest.index(after: open)..<close]))
            if placeholder.firstWords || (open > rest.startIndex && ["“", "\"", "‘", "'"].contains(rest[rest.index(before: open)])) {
                names.append((placeholder.name, placeholder.firstWords))
            }
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// The names of the placeholders that repeat the coachee's words.
    static func quotedNames(in text: String) -> [String] {
        self.quotations(in: text).map(\.name)
    }

    /// Most words of a mirror (`{name:first}`); an answer that starts with more is not mirrored.
    static let maxMirroredWords = 5

    /// The first words of an answer, up to a comma, full stop, dash, ellipsis or line break.
    static func firstWords(of value: String) -> String {
        let stops: Set<Character> = [",", ".", ";", ":", "!", "?", "…", "-", "–", "—", "\n", "("]
        let trimmed = value.trimmingWhitespace()
        return String(trimmed.prefix { !stops.contains($0) }).trimmingWhitespace()
    }

    /// Whether the placeholder can repeat `value`: quotable, and a mirror short.
    static func canRepeat(_ value: String, firstWords: Bool) -> Bool {
        guard firstWords else { return self.isQuotable(value) }
        let words = self.firstWords(of: value)
        return self.isQuotable(words) && words.split(whereSeparator: \.isWhitespace).count <= self.maxMirroredWords
    }

    /// Most words of an answer that is still quoted; a longer one is referred to, not repeated.
    static let maxQuotedWords = 15

    /// Answers that say nothing to build on: quoting them back ("Stel dat “weet ik niet” morgen
    /// opgelost is") would mock the teacher.
    private static let emptyAnswers: Set<String> = [
        "weet ik niet", "weet niet", "ik weet het niet", "weet het niet", "ik weet niet", "geen idee", "geen flauw idee",
        "idk", "geen", "niets", "niks", "pas", "nvt", "i dont know", "i don t know", "dont know", "no idea", "nothing", "pass",
        "weet ik echt niet", "ik weet het echt niet", "geen idee eigenlijk", "not sure", "geen flauw benul",
    ]

    /// Whether `value` can be quoted back as the coachee said it: short and not an empty "weet ik
    /// niet". (A question to the bot is known by the screening, not by its question mark: "Hoe
    /// krijg ik meer leerlingen aan het woord?" is a teacher's own question, well worth quoting.)
    static func isQuotable(_ value: String) -> Bool {
        let trimmed = value.trimmingWhitespace()
        guard !trimmed.isEmpty else { return false }
        let normalized = TextMatching.normalize(trimmed)
        guard !normalized.isEmpty, !Self.emptyAnswers.contains(normalized) else { return false }
        return trimmed.split(whereSeparator: \.isWhitespace).count <= Self.maxQuotedWords
    }

    /// The names of the placeholders in `text`.
    static func names(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(Self.parse(String(rest[rest.index(after: open)..<close])).name)
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// A placeholder's name, the whole number added to it and whether it mirrors the first words:
    /// `cijfer+1` is (`cijfer`, 1, false), `voelde:first` is (`voelde`, 0, true).
    private static func parse(_ placeholder: String) -> (name: String, offset: Int, firstWords: Bool) {
        var trimmed = placeholder.trimmingWhitespace()
        if trimmed.hasSuffix(":first") {
            trimmed.removeLast(":first".count)
            return (trimmed.trimmingWhitespace(), 0, true)
        }
        guard let sign = trimmed.lastIndex(where: { $0 == "+" || $0 == "-" }), sign != trimmed.startIndex,
              let amount = Int(trimmed[trimmed.index(after: sign)...].trimmingWhitespace())
        else { return (trimmed, 0, false) }
        let name = trimmed[..<sign].trimmingWhitespace()
        return (name, trimmed[sign] == "+" ? amount : -amount, false)
    }
}

/// Whether a coachee's words can be quoted back as they said them, for texts built outside the
/// graphs (a follow-up message): short, and not an empty "weet ik niet".
public enum Quoting {
    public static func canQuote(_ value: String) -> Bool {
        Interpolation.isQuotable(value)
    }
}

/// Whether an answer says when: a day ("donderdag", "volgende week", "14/1", "next Monday"), or a
/// lesson or a moment in the week ("in de volgende les", "elke les", "in 2C", "vanaf nu").
enum TimeReference {
    private static let words: Set<String> = [
        "les", "lessen", "lesuur", "uur", "lesson", "lessons", "period", "vanaf", "elke", "iedere", "telkens", "every",
        "from", "next", "volgende", "komende", "straks", "vandaag", "today", "tonight", "week", "weekend", "nu", "now",
        "morgen", "tomorrow", "ochtend", "namiddag", "middag", "morning", "afternoon",
    ]

    static func isNamed(in answer: String, now: Date) -> Bool {
        let words = TextMatching.normalize(answer).split(separator: " ").map(String.init)
        if words.contains(where: { Self.words.contains($0) || Self.isClassName($0) }) { return true }
        return DutchDateParser.parse(answer, now: now, timeZone: TimeZone(identifier: "UTC")!) != nil
    }

    /// A class such as "2C", "3b", "5A".
    private static func isClassName(_ word: String) -> Bool {
        word.count == 2 && word.first?.isNumber == true && word.last?.isLetter == true
    }
}

extension StringProtocol {
    /// The text without white space or line breaks at either end.
    ///
    /// On the path of every message, where Foundation's `trimmingCharacters(in:)` goes through
    /// `NSString` and costs a twentieth of a message's time.
    public func trimmingWhitespace() -> String {
        let scalars = Substring(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(Substring(scalars[first...last]))
    }
}
