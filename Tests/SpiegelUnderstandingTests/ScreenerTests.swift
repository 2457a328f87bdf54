import SpiegelUnderstanding
import Testing

/// The screener on a small set of examples made for these tests: it learns, it is deterministic,
/// and its evaluation counts right.
@Suite struct ScreenerTests {
    static let examples: [LabelledExample] = {
        var examples: [LabelledExample] = []
        let distress = ["ik kan echt niet meer", "ik ben op, leeg, kapot", "ik slaap al weken niet", "ik huil elke avond in de auto", "ik zie het niet meer zitten"]
        let advice = ["wat moet ik doen volgens jou", "heb je tips voor mij", "zeg jij het maar", "geef me een tip", "wat zou jij doen"]
        let plain = ["de start van de les ging goed", "ze werkten mooi samen in groepjes", "een 7", "morgen probeer ik een timer", "de uitleg duurde te lang"]
        for text in distress { examples.append(LabelledExample(text, labels: [.distress])) }
        for text in advice { examples.append(LabelledExample(text, labels: [.advice])) }
        for text in plain { examples.append(LabelledExample(text, labels: [])) }
        return examples
    }()

    @Test func whatItLearnedItRecognises() {
        let screener = Screener(examples: Self.examples)
        #expect(screener.screen("ik kan niet meer, ik ben op").contains(.distress))
        #expect(screener.screen("heb je een tip voor mij?").contains(.advice))
        #expect(screener.screen("de groepjes werkten goed samen").labels.isEmpty)
    }

    @Test func theSameExamplesGiveTheSameScores() {
        let first = Screener(examples: Self.examples).screen("ik weet niet wat ik moet doen")
        let second = Screener(examples: Self.examples).screen("ik weet niet wat ik moet doen")
        #expect(first == second)
    }

    @Test func aNumberAloneAndNoExamplesSayNothing() {
        #expect(Screener(examples: Self.examples).screen("7") == .nothing)
        #expect(Screener.empty.screen("ik kan echt niet meer") == .nothing)
    }

    @Test func examplesParseAndBadLinesNameTheirLine() throws {
        let parsed = try LabelledExample.parse("# comment\ndistress,dont_know\tweet het niet meer\n\nnone\tok\n", source: "x.tsv")
        #expect(parsed == [LabelledExample("weet het niet meer", labels: [.distress, .dontKnow]), LabelledExample("ok", labels: [])])
        let noTab = #expect(throws: ExampleError.self) { try LabelledExample.parse("none\tok\nzonder tab\n", source: "x.tsv") }
        #expect(noTab?.description == "x.tsv:2: expected the labels, a TAB and the message")
        let unknown = #expect(throws: ExampleError.self) { try LabelledExample.parse("sadness\tmeh\n", source: "x.tsv") }
        #expect(unknown?.line == 1 && unknown?.message.hasPrefix("unknown label “sadness”") == true)
    }

    @Test func precisionRecallAndF1AreCountedPerLabel() {
        var evaluation = Evaluation()
        evaluation.add(truth: [.distress], given: [.distress])
        evaluation.add(truth: [.distress], given: [])
        evaluation.add(truth: [], given: [.distress])
        evaluation.add(truth: [.advice], given: [.advice])
        let distress = evaluation.figures(of: .distress)
        #expect(distress.precision == 0.5 && distress.recall == 0.5 && distress.f1 == 0.5 && distress.support == 2)
        #expect(evaluation.figures(of: .advice).f1 == 1)
        #expect(evaluation.macroF1 == 0.75)
        #expect(evaluation.exact == 2)
        #expect(evaluation.confusion[.distress]?[nil] == 1 && evaluation.confusion[nil]?[.distress] == 1)
    }
}
