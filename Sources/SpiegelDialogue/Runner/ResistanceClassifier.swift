/// What the resistance classifier knows: cue phrases per type and language, stronger cues, the
/// words that cancel a cue right after them, and the confidence below which a graph asks instead
/// of guessing. Kept in `Prompts/resistance.yaml` (or under `resistance:` in `global.yaml`).
public struct ResistanceLexicon: Sendable, Equatable {
    /// Cue phrases (weight 1) per type, per language.
    public var cues: [Resistance: [String: [String]]]
    /// Strong cue phrases (weight 2) per type, per language.
    public var strongCues: [Resistance: [String: [String]]]
    /// Words that cancel a one-word cue when one of them stands in the two words before it ("niet
    /// vaag", "not absurd"). Longer cues are specific enough to count as they are.
    public var negations: [String]
    /// Below this confidence a `diagnose` goes to its `unsure` outcome.
    public var threshold: Double

    public init(
        cues: [Resistance: [String: [String]]] = [:], strongCues: [Resistance: [String: [String]]] = [:],
        negations: [String] = [], threshold: Double = 0.5
    ) {
        self.cues = cues
        self.strongCues = strongCues
        self.negations = negations
        self.threshold = threshold
    }
}

/// Recognises resistance in an answer: type A ("ik begrijp het niet"), B ("ik wil het niet") or C
/// ("ik vertrouw je niet"), with a confidence.
///
/// An answer is scored per type by the cues it contains: whole words, where a cue word of five
/// letters or more also matches a longer form ("beloofd" in "beloofden") and, in cues of two words
/// or more, a word of six letters or more allows one typo. A one-word cue right after a negation does
/// not count. The confidence is the best score over all scores plus one half: one plain cue gives
/// 0.67, two agreeing cues 0.8, two disagreeing cues 0.4.
public struct ResistanceClassifier: Sendable {
    private struct Cue: Sendable {
        let type: Resistance
        let words: [String]
        let weight: Double
    }

    /// A classification: the type and how sure.
    public struct Result: Sendable, Equatable {
        public let type: Resistance
        public let confidence: Double
    }

    private let cues: [Cue]
    private let negations: Set<String>
    /// Below this confidence a graph should ask rather than act on the type.
    public let threshold: Double

    /// A classifier with `lexicon`.
    public init(lexicon: ResistanceLexicon) {
        var cues: [Cue] = []
        for type in [Resistance.notUnderstanding, .notWanting, .notTrusting] {
            for (table, weight) in [(lexicon.cues, 1.0), (lexicon.strongCues, 2.0)] {
                for phrases in (table[type] ?? [:]).values {
                    cues += phrases.map { Cue(type: type, words: TextMatching.normalize($0).split(separator: " ").map(String.init), weight: weight) }
                        .filter { !$0.words.isEmpty }
                }
            }
        }
        self.cues = cues
        self.negations = Set(lexicon.negations.map(TextMatching.normalize))
        self.threshold = lexicon.threshold
    }

    /// The type of resistance in `text`; `.none` with confidence 1 when no cue is there.
    public func classify(_ text: String) -> Result {
        let words = TextMatching.normalize(text).split(separator: " ").map(String.init)
        var scores: [Resistance: Double] = [:]
        for cue in self.cues where cue.words.count <= words.count {
            for start in 0...(words.count - cue.words.count) where self.matches(cue.words, words, at: start) {
                if cue.words.count == 1, words[max(0, start - 2)..<start].contains(where: self.negations.contains) {
                    continue
                }
                scores[cue.type, default: 0] += cue.weight
                break
            }
        }
        let order = [Resistance.notUnderstanding, .notWanting, .notTrusting]
        guard let best = order.max(by: { (scores[$0] ?? 0) < (scores[$1] ?? 0) }), let top = scores[best], top > 0 else {
            return Result(type: .none, confidence: 1)
        }
        // On a tie the earlier of A, B, C: a misunderstanding is addressed first.
        let winner = order.first { scores[$0] == top } ?? best
        let total = scores.values.reduce(0, +)
        return Result(type: winner, confidence: top / (total + 0.5))
    }

    private func matches(_ cue: [String], _ words: [String], at start: Int) -> Bool {
        for (offset, cueWord) in cue.enumerated() {
            let word = words[start + offset]
            if word == cueWord { continue }
            if cueWord.count >= 5 && word.hasPrefix(cueWord) { continue }
            guard cue.count > 1, cueWord.count >= 6, TextMatching.editDistance(word, cueWord, limit: 1) <= 1 else { return false }
        }
        return true
    }
}
