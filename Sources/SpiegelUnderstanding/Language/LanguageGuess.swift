/// Which of Spiegel's languages a message is written in, by its common words: enough to answer
/// "Hi, I just had a rough lesson" in English. Pure, no model.
public enum LanguageGuess {
    /// Words that mark English and not Dutch (in the normalised form: lower case, no accents).
    static let english: Set<String> = [
        "i", "im", "ive", "the", "a", "an", "just", "my", "me", "it", "its", "is", "was", "with", "and", "to", "of",
        "you", "your", "what", "how", "why", "this", "that", "they", "them", "had", "have", "didn", "don", "doesn", "wasn",
        "lesson", "class", "pupils", "students", "rough", "bad", "good", "today", "hi", "hello", "hey", "morning",
        "afternoon", "evening", "there", "not", "went", "well", "again", "need", "help", "would", "like", "some",
        "teaching", "taught", "could", "should", "about", "really", "very", "tired", "please", "thanks", "thank",
    ]
    /// Words that mark Dutch (Netherlands and Flanders) and not English.
    static let dutch: Set<String> = [
        "ik", "k", "de", "het", "een", "en", "mijn", "les", "klas", "niet", "nie", "wat", "hoe", "waarom", "dit", "dat",
        "ze", "zij", "heb", "heeft", "hebben", "was", "waren", "net", "gewoon", "echt", "goed", "slecht", "vandaag",
        "hoi", "hallo", "dag", "goedemorgen", "goeiemorgen", "goedemiddag", "goeienavond", "ff", "even", "leerlingen",
        "gegeven", "gehad", "moe", "weer", "nog", "al", "maar", "met", "van", "voor", "op", "aan", "ben", "is", "zijn",
        "graag", "alsjeblieft", "aub", "bedankt", "merci", "allez", "amai", "zo", "lastig", "moeilijk", "ging", "gaat",
    ]

    /// `en` or `nl` when the message says so clearly (a greeting alone counts), else `nil`.
    public static func language(of text: String) -> String? {
        let words = UtteranceNormalizer.words(text)
        guard !words.isEmpty else { return nil }
        let english = words.filter(Self.english.contains).count
        let dutch = words.filter(Self.dutch.contains).count
        // "is" and "was" are both; a single shared word decides nothing.
        if english > dutch, english >= 2 || (words.count == 1 && english == 1) || Self.greetings.contains(words.joined(separator: " ")) { return "en" }
        if dutch > english, dutch >= 2 || words.count <= 2 { return "nl" }
        return nil
    }

    /// English greetings that are a whole message.
    static let greetings: Set<String> = ["hi", "hello", "hey", "good morning", "good afternoon", "good evening", "hi there", "hello there"]
}
