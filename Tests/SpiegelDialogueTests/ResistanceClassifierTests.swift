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
}
