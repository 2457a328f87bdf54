/// Recognises resistance in an answer by the cue phrases of `global.yaml`: type A ("ik begrijp het
/// niet"), B ("ik wil het niet") or C ("ik vertrouw je niet").
struct ResistanceClassifier: Sendable {
    private let cues: [(Resistance, String)]

    init(cues: [Resistance: [String: [String]]]) {
        var list: [(Resistance, String)] = []
        for type in [Resistance.notUnderstanding, .notWanting, .notTrusting] {
            for phrases in (cues[type] ?? [:]).values {
                list += phrases.map { (type, " " + TextMatching.normalize($0) + " ") }
            }
        }
        self.cues = list
    }

    /// The type with the most cue phrases in `text`, `.none` when no cue is there; on a tie the
    /// earlier of A, B, C (a misunderstanding is addressed first).
    func classify(_ text: String) -> Resistance {
        let padded = " " + TextMatching.normalize(text) + " "
        var counts: [Resistance: Int] = [:]
        for (type, cue) in self.cues where padded.contains(cue) {
            counts[type, default: 0] += 1
        }
        let best = [Resistance.notUnderstanding, .notWanting, .notTrusting].max { (counts[$0] ?? 0) < (counts[$1] ?? 0) }
        guard let best, (counts[best] ?? 0) > 0 else { return .none }
        return [Resistance.notUnderstanding, .notWanting, .notTrusting].first { counts[$0] == counts[best] } ?? best
    }
}
