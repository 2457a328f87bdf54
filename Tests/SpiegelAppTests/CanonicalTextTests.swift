import Foundation
import SpiegelTestKit
import Testing

@testable import SpiegelApp

/// The gateway's composed form (NFC) of a user id and a text: the same as Foundation's, with or
/// without its shortcut for text that is composed already.
@Suite struct CanonicalTextTests {
    @Test(arguments: [
        ("", ""),
        ("Onze les was rommelig.", "Onze les was rommelig."),
        ("@jos\u{E9}:school.example", "@jos\u{E9}:school.example"),
        ("@jose\u{301}:school.example", "@jos\u{E9}:school.example"),
        ("ge\u{308}e\u{308}rgerd", "g\u{EB}\u{EB}rgerd"),
        ("\u{1100}\u{1161}", "\u{AC00}"),
        ("\u{212B}ngstr\u{F6}m", "\u{C5}ngstr\u{F6}m"),
        ("moe 😩👩🏾‍🏫", "moe 😩👩🏾‍🏫"),
        ("\u{2FF}\u{300}", "\u{2FF}\u{300}"),
    ])
    func textIsComposed(_ text: String, _ composed: String) {
        let canonical = ChatGateway.canonical(text)
        #expect(Array(canonical.unicodeScalars) == Array(composed.unicodeScalars))
    }

    /// Random text over the scalars around the shortcut's edge (Latin, the combining marks, Greek,
    /// Hangul, symbols, emoji) comes out exactly as Foundation composes it.
    @Test func randomTextIsComposedAsFoundationComposesIt() {
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0xA0...0x2FF, 0x300...0x36F, 0x370...0x3FF, 0x1100...0x1175, 0xAC00...0xAC40,
            0x1E00...0x1EFF, 0x2000...0x2BFF, 0x1F300...0x1F64F,
        ]
        var random = SeededGenerator(seed: 23)
        var shortcut = 0
        for _ in 0..<5_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...12, using: &random) {
                let range = ranges.randomElement(using: &random)!
                if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &random)) { scalars.append(scalar) }
            }
            let text = String(scalars)
            if text.unicodeScalars.allSatisfy({ $0.value < 0x300 }) { shortcut += 1 }
            let canonical = ChatGateway.canonical(text)
            #expect(Array(canonical.unicodeScalars) == Array(text.precomposedStringWithCanonicalMapping.unicodeScalars), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        // Both ways were taken many times.
        #expect(shortcut > 100)
        #expect(shortcut < 4_900)
    }
}
