/// A piece of text in each language a graph speaks, `nl` first.
public struct LocalizedText: Sendable, Equatable, Hashable {
    /// Text by language code.
    public var translations: [String: String]
    /// The text without the coachee's words, per language: said instead when an answer it quotes
    /// (`“{name}”`) is not fit to quote (long, a question, "weet ik niet"). Empty when there is none.
    public var neutral: [String: String]
    /// Where the text stands in its file.
    public var location: SourceLocation?

    /// Creates a text from its translations.
    public init(_ translations: [String: String], neutral: [String: String] = [:], location: SourceLocation? = nil) {
        self.translations = translations
        self.neutral = neutral
        self.location = location
    }

    /// The neutral form in `language` (else in the first of `fallbacks`), `nil` when there is none.
    public func neutralText(in language: String, fallbacks: [String] = []) -> String? {
        guard !self.neutral.isEmpty else { return nil }
        return LocalizedText(self.neutral).text(in: language, fallbacks: fallbacks)
    }

    /// The text in `language`, else in the first of `fallbacks` that has one.
    public func text(in language: String, fallbacks: [String] = []) -> String {
        if let text = self.translations[language] { return text }
        for fallback in fallbacks {
            if let text = self.translations[fallback] { return text }
        }
        return self.translations.sorted { $0.key < $1.key }.first?.value ?? ""
    }
}

/// A place in a Prompts file, counted from 1.
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(self.file):\(self.line):\(self.column)" }
}
