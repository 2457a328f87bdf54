import SpiegelUnderstanding
import Testing

/// The language of a first message, by its common words.
@Suite struct LanguageGuessTests {
    @Test(arguments: [
        ("Hi, I just had a rough lesson", "en"),
        ("hello", "en"),
        ("My class was chaos again today", "en"),
        ("I don't know what to do with 3B", "en"),
        ("Hoi, ik had net een zware les", "nl"),
        ("k heb ff een vraag over mijn klas", "nl"),
        ("Amai, dat was een lastige les", "nl"),
        ("hallo", "nl"),
    ])
    func aClearMessageTellsItsLanguage(text: String, language: String) {
        #expect(LanguageGuess.language(of: text) == language, "\(text)")
    }

    @Test(arguments: ["", "7", "ok", "🙂", "Sam en Noor"])
    func anUnclearMessageTellsNothing(text: String) {
        #expect(LanguageGuess.language(of: text) == nil, "\(text)")
    }
}
