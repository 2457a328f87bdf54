import Foundation
import SpiegelDialogue
import Testing

@Suite struct ResistanceClassifierTests {
    static let lexicon = ResistanceLexicon(
        cues: [
            .notUnderstanding: ["nl": ["vaag", "wat bedoel je"]],
            .notWanting: ["nl": ["geen tijd", "opgelegd"]],
            .notTrusting: ["nl": ["wie leest dit", "beloofd"]],
        ],
        strongCues: [.notUnderstanding: ["nl": ["snap het niet"]]],
        negations: ["niet", "not"],
        threshold: 0.5
    )
    let classifier = ResistanceClassifier(lexicon: lexicon)

    @Test(arguments: [
        ("wat bedoel je?", Resistance.notUnderstanding, 0.67),
        ("ik snap het niet", .notUnderstanding, 0.8),
        ("ik snap het niet en het is vaag", .notUnderstanding, 0.86),
        ("Geen tijd voor, sorry", .notWanting, 0.67),
        ("dat hebben ze vorig jaar ook beloofd", .notTrusting, 0.67),
        ("ze beloofden van alles", .notTrusting, 0.67),
        ("wie leest dit?? en het is opgelegd", .notUnderstanding, 0.0),
        ("het ging goed vandaag", .none, 1.0),
        ("het was niet vaag", .none, 1.0),
        ("wat bedoelje", .none, 1.0),
        ("wat bedoel je niet vaag", .notUnderstanding, 0.67),
    ])
    func answersAreClassifiedWithAConfidence(text: String, type: Resistance, confidence: Double) {
        let result = self.classifier.classify(text)
        if confidence == 0 {
            // Two types tie: the earlier of A, B, C would win, but not confidently.
            #expect(result.type == .notWanting || result.type == .notTrusting || result.type == .notUnderstanding)
            #expect(result.confidence < 0.5)
        } else {
            #expect(result.type == type, "\(text)")
            #expect(abs(result.confidence - confidence) < 0.01, "\(text): \(result.confidence)")
        }
    }

    @Test func aTypoIsAllowedInLongerWordsOfLongerCues() {
        let classifier = ResistanceClassifier(lexicon: ResistanceLexicon(cues: [.notTrusting: ["nl": ["vertrouw dit niet", "trust"]]]))
        #expect(classifier.classify("ik vertrouw dit niet").type == .notTrusting)
        #expect(classifier.classify("ik vertrou dit niet").type == .notTrusting)
        // One-word cues take no typos: "rust" is not "trust".
        #expect(classifier.classify("ik wil meer rust").type == .none)
    }

    @Test func anUnsureDiagnosisGoesToTheCheckQuestion() throws {
        let graph = """
            id: d
            languages: [nl]
            start: a
            nodes:
              a:
                ask: Hoe kijk je terug?
                store: antwoord
                next: b
              b:
                diagnose: antwoord
                store: weerstand
                outcomes: { A: uitleg, B: wens, C: vertrouwen, none: einde }
                unsure: check
              uitleg: { end: uitleg }
              wens: { end: wens }
              vertrouwen: { end: vertrouwen }
              check: { end: check }
              einde: { end: einde }
            """
        var library = try DialogueLoader.loadLibrary(files: [(path: "d.yaml", text: graph)])
        library.resistance = Self.lexicon
        let runner = DialogueRunner(library: library)
        func end(_ answer: String) throws -> [String] {
            let start = try runner.start(graph: "d", language: "nl", now: Fixtures.now)
            return runner.advance(start.state, input: answer, now: Fixtures.now).outputs
        }
        #expect(try end("ik snap het niet") == ["uitleg"])
        #expect(try end("geen tijd") == ["wens"])
        #expect(try end("wie leest dit") == ["vertrouwen"])
        #expect(try end("geen tijd en wie leest dit") == ["check"])
        #expect(try end("het ging prima") == ["einde"])
    }

    // MARK: - The real lexicon against labelled teacher utterances

    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let utterances = Fixtures.directory.appendingPathComponent("Resistance/utterances.tsv").path

    struct Labelled {
        let set: String
        let label: Resistance
        let text: String
    }

    static func labelled() throws -> [Labelled] {
        try String(contentsOfFile: utterances, encoding: .utf8).split(separator: "\n").compactMap { line in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 3, let label = Resistance(rawValue: columns[1]) else { return nil }
            return Labelled(set: columns[0], label: label, text: columns[2])
        }
    }

    /// Precision, recall and F1 per type, and their macro average over A, B and C.
    static func scores(_ items: [Labelled], _ classifier: ResistanceClassifier) -> (perType: [Resistance: (Double, Double, Double)], macroF1: Double) {
        var perType: [Resistance: (Double, Double, Double)] = [:]
        for type in [Resistance.notUnderstanding, .notWanting, .notTrusting, .none] {
            let predicted = items.map { classifier.classify($0.text).type }
            let truePositives = Double(zip(items, predicted).filter { $0.label == type && $1 == type }.count)
            let predictedCount = Double(predicted.filter { $0 == type }.count)
            let actualCount = Double(items.filter { $0.label == type }.count)
            let precision = predictedCount == 0 ? 0 : truePositives / predictedCount
            let recall = actualCount == 0 ? 0 : truePositives / actualCount
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            perType[type] = (precision, recall, f1)
        }
        let macro = [Resistance.notUnderstanding, .notWanting, .notTrusting].map { perType[$0]!.2 }.reduce(0, +) / 3
        return (perType, macro)
    }

    @Test func theLexiconReachesMacroF1OfAtLeast080OnHeldOutUtterances() throws {
        let library = try DialogueLoader.loadLibrary(directory: Self.prompts)
        let classifier = ResistanceClassifier(lexicon: library.resistance)
        let items = try Self.labelled()
        #expect(items.count >= 150)
        for set in ["tune", "heldout"] {
            let part = items.filter { $0.set == set }
            let (perType, macro) = Self.scores(part, classifier)
            let lines = [Resistance.notUnderstanding, .notWanting, .notTrusting, .none].map { type in
                let (p, r, f) = perType[type]!
                return "\(type.rawValue): precision \(String(format: "%.2f", p)) recall \(String(format: "%.2f", r)) F1 \(String(format: "%.2f", f))"
            }
            print("resistance classifier, \(set) (\(part.count) utterances): macro-F1 \(String(format: "%.3f", macro)); " + lines.joined(separator: "; "))
            if set == "heldout" {
                #expect(macro >= 0.8, "held-out macro-F1 \(macro): \(lines)")
            }
        }
    }
}
