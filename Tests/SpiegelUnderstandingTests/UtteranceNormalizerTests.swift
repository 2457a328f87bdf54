import SpiegelUnderstanding
import Testing

/// Chat forms, accents and repeated letters come out as plain words.
@Suite struct UtteranceNormalizerTests {
    @Test(arguments: [
        ("'k Weet het nie", ["ik", "weet", "het", "niet"]),
        ("ff pauze aub!!", ["even", "pauze", "alsjeblieft"]),
        ("Idk tbh", ["i", "dont", "know", "to", "be", "honest"]),
        ("Nieeeee, dat lukte écht niet", ["niee", "dat", "lukte", "echt", "niet"]),
        ("m'n klas, ge zijt er nie", ["mijn", "klas", "je", "bent", "er", "niet"]),
        ("kheb geen tijd", ["ik", "heb", "geen", "tijd"]),
    ])
    func chatFormsAreWrittenOut(text: String, words: [String]) {
        #expect(UtteranceNormalizer.words(text) == words)
    }
}
