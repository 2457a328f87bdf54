import Foundation
import SpiegelDialogue
import SpiegelUnderstanding
import Testing

/// Resistance heard at any open question of a graph that says how to answer it (`resistance:`):
/// the type is stored, the counter goes up, the handler runs and the question comes again (the
/// message was resistance, not an answer); only when the screener is sure, never twice in one step,
/// never over distress.
@Suite struct HeardResistanceTests {
    static let graphs = [
        "les": """
            id: les
            languages: [nl]
            start: moment
            resistance: { call: weerstand, store: weerstand, increment: [vast] }
            nodes:
              moment:
                ask: { nl: "Wat gebeurde er?" }
                store: moment
                next: doel
              doel:
                ask: { nl: "Wat is je doel?" }
                store: doel
                next: doel_d
              doel_d:
                diagnose: doel
                store: weerstand
                outcomes: { A: doel_w, B: doel_w, C: doel_w, none: keuze }
              doel_w:
                call: weerstand
                next: keuze
              keuze:
                choice: { nl: "Waarover?" }
                store: thema
                options:
                  - { nl: "De les", next: klaar }
                  - { nl: "Iets anders", next: klaar }
              klaar:
                end: { nl: "Klaar." }
            """,
        "zonder": """
            id: zonder
            languages: [nl]
            start: moment
            nodes:
              moment:
                ask: { nl: "Wat gebeurde er?" }
                store: moment
                next: klaar
              klaar:
                end: { nl: "Klaar." }
            """,
        "vraag": """
            id: vraag
            languages: [nl]
            start: doel
            resistance: { call: weerstand, store: weerstand }
            nodes:
              doel:
                ask: { nl: "Wat is je doel?" }
                store: doel
                next: doel_check
              doel_check:
                branch:
                  - if: heard.question
                    next: uitleg
                otherwise: moment
              uitleg:
                say: [{ nl: "Ik ben een bot die vragen stelt." }]
                next: moment
              moment:
                ask: { nl: "Wat gebeurde er?" }
                store: moment
                next: klaar
              klaar:
                end: ~
            """,
        "weerstand": """
            id: weerstand
            languages: [nl]
            start: zeg
            nodes:
              zeg:
                say: [{ nl: "Weerstand {weerstand}." }]
                next: klaar
              klaar:
                end: ~
            """,
        "zorg": """
            id: zorg
            languages: [nl]
            start: erkennen
            nodes:
              erkennen:
                say: [{ nl: "Dat klinkt zwaar." }]
                next: klaar
              klaar:
                end: ~
            """,
    ]

    static func screening(_ scores: [UtteranceLabel: Double]) -> Screening {
        Screening(scores: scores, labels: Set(scores.filter { $0.value >= 0.5 }.keys))
    }

    func runner() throws -> DialogueRunner {
        DialogueRunner(library: try Fixtures.library(with: Self.graphs))
    }

    @Test func sureResistanceAtAnOpenQuestionIsAnsweredThenTheQuestionComesAgain() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        let step = runner.advance(start.state, input: "nu moet dit er ook nog bij", now: Fixtures.now, screening: Self.screening([.notWanting: 0.85]))
        #expect(step.outputs == ["Weerstand B.", "Wat gebeurde er?"])
        #expect(step.state.answers["moment"] == nil, "resistance is not the answer")
        #expect(step.state.answers["weerstand"] == "B")
        #expect(step.state.counters["vast"] == 1)
        let answered = runner.advance(step.state, input: "de overgang na de pauze", now: Fixtures.now, screening: Self.screening([:]))
        #expect(answered.outputs == ["Wat is je doel?"])
        #expect(answered.state.answers["moment"] == "de overgang na de pauze")
        // A worry about who reads along is answered as C.
        let trust = runner.advance(start.state, input: "leest de directie mee?", now: Fixtures.now, screening: Self.screening([.trust: 0.85, .notTrusting: 0.3]))
        #expect(trust.outputs == ["Weerstand C.", "Wat gebeurde er?"])
    }

    @Test func anUnsureReadingOfAnOrdinaryAnswerIsTheAnswer() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        // Sure enough for a `diagnose` (0.5), and more, not for a question that does not ask for it.
        let step = runner.advance(start.state, input: "dit lukt weer niet, ik verlies tijd", now: Fixtures.now, screening: Self.screening([.notWanting: 0.75]))
        #expect(step.outputs == ["Wat is je doel?"])
        #expect(step.state.answers["weerstand"] == nil)
        #expect(step.state.counters["vast"] == nil)
    }

    @Test func aGraphWithoutAWayOfAnsweringResistanceGoesOn() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "zonder", language: "nl", now: Fixtures.now)
        let step = runner.advance(start.state, input: "dit heeft geen zin", now: Fixtures.now, screening: Self.screening([.notWanting: 0.95]))
        #expect(step.outputs == ["Klaar."])
        #expect(step.state.answers["weerstand"] == nil)
    }

    @Test func whereADiagnoseReadsTheAnswerItDecides() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        let atGoal = runner.advance(start.state, input: "de groepjes liepen vast", now: Fixtures.now, screening: Self.screening([:]))
        // This library has no examples, so the diagnose reads with the (empty) lexicon: no
        // resistance. The screening's B does not add a second reading on top.
        let step = runner.advance(atGoal.state, input: "waarom moet dit", now: Fixtures.now, screening: Self.screening([.notWanting: 0.9]))
        #expect(step.outputs == ["Waarover?\n1. De les\n2. Iets anders"])
        #expect(step.state.answers["weerstand"] == "none")
        #expect(step.state.counters["vast"] == nil)
    }

    @Test func aBranchThatWentByWhatWasHeardAnsweredIt() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "vraag", language: "nl", now: Fixtures.now)
        let step = runner.advance(start.state, input: "ben jij een robot?", now: Fixtures.now, screening: Self.screening([.question: 0.9, .notTrusting: 0.9]))
        #expect(step.outputs == ["Ik ben een bot die vragen stelt.", "Wat gebeurde er?"])
        #expect(step.state.answers["weerstand"] == nil)
        // Without the question, the same distrust is answered.
        let distrust = runner.advance(start.state, input: "wat weet een bot nu van lesgeven", now: Fixtures.now, screening: Self.screening([.notTrusting: 0.9]))
        #expect(distrust.outputs == ["Weerstand C.", "Wat is je doel?"])
    }

    @Test func distressComesBeforeResistance() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        let step = runner.advance(start.state, input: "ik kan niet meer, dit heeft geen zin", now: Fixtures.now, screening: Self.screening([.distress: 0.9, .notWanting: 0.8]))
        #expect(step.outputs == ["Dat klinkt zwaar.", "Wat is je doel?"])
        #expect(step.state.answers["weerstand"] == nil)
    }

    @Test func aChoiceIsAnsweredByItsOption() throws {
        let runner = try self.runner()
        var state = try runner.start(graph: "les", language: "nl", now: Fixtures.now).state
        state = runner.advance(state, input: "de groepjes liepen vast", now: Fixtures.now, screening: Self.screening([:])).state
        state = runner.advance(state, input: "rust in de klas", now: Fixtures.now, screening: Self.screening([:])).state
        let step = runner.advance(state, input: "iets anders", now: Fixtures.now, screening: Self.screening([.notWanting: 0.9]))
        #expect(step.outputs == ["Klaar."])
        #expect(step.state.answers["weerstand"] == "none")
    }

    @Test func theLinterNamesAnUnknownHandler() throws {
        let library = try Fixtures.library(with: ["les": Self.graphs["les"]!.replacingOccurrences(of: "call: weerstand, store", with: "call: tegenzin, store")])
        let findings = DialogueLinter.lint(library)
        #expect(findings.contains { $0.message.contains("resistance calls `tegenzin`") })
    }
}
