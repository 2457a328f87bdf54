@testable import SpiegelDialogue
import Testing

/// The text helpers on the path of every message.
@Suite struct TextMatchingTests {
    @Test(arguments: [
        ("  ja  ", "ja"), ("\t\nnee\r\n", "nee"), ("\u{00A0}alles\u{2003}", "alles"), ("   ", ""), ("", ""),
        (" pas 2 aan: rust 😅 ", "pas 2 aan: rust 😅"), ("é\u{0301} ", "é\u{0301}"), ("a b", "a b"),
    ])
    func whiteSpaceGoesFromBothEndsOnly(text: String, trimmed: String) {
        #expect(text.trimmingWhitespace() == trimmed)
        #expect(text[...].trimmingWhitespace() == trimmed)
    }

    @Test(arguments: [
        ("Meer RUST, in de klas!", "meer rust in de klas"), ("Één  ÉN… twee?", "een en twee"), ("  ", ""),
        ("Ça va — très bien", "ca va tres bien"), ("klas 3B", "klas 3b"), ("😅 oké", "oke"),
    ])
    func normalizeFoldsCaseAccentsAndPunctuation(text: String, normalized: String) {
        #expect(TextMatching.normalize(text) == normalized)
    }
}
