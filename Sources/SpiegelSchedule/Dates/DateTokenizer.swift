import Foundation

/// One piece of a chat message for the date parser: a run of letters, a run of ASCII digits, or a
/// single other character. Whitespace only separates tokens.
struct DateToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case word
        case number
        case symbol
    }

    var kind: Kind
    /// Lowercased, without accents; curly apostrophes become `'`.
    var text: String
    /// Offsets (in `Character`s) of the token in the original text.
    var start: Int
    var end: Int
    /// Whether whitespace (or the start of the text) comes right before the token.
    var spaceBefore: Bool
}

enum DateTokenizer {
    /// Splits `characters` into tokens; `14de` gives `14` and `de` with no space between them.
    static func tokenize(_ characters: [Character]) -> [DateToken] {
        var tokens: [DateToken] = []
        var index = 0
        var spaceBefore = true
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                spaceBefore = true
                index += 1
                continue
            }
            let start = index
            let kind: DateToken.Kind
            if self.isDigit(character) {
                kind = .number
                while index < characters.count, self.isDigit(characters[index]) { index += 1 }
            } else if character.isLetter {
                kind = .word
                while index < characters.count, characters[index].isLetter { index += 1 }
            } else {
                kind = .symbol
                index += 1
            }
            var text = String(characters[start..<index])
            switch kind {
            case .word:
                text = text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
            case .symbol:
                if ["\u{2019}", "\u{2018}", "`", "\u{00B4}"].contains(text) { text = "'" }
            case .number:
                break
            }
            tokens.append(DateToken(kind: kind, text: text, start: start, end: index, spaceBefore: spaceBefore))
            spaceBefore = false
        }
        return tokens
    }

    private static func isDigit(_ character: Character) -> Bool {
        character.isASCII && character.isNumber
    }
}
