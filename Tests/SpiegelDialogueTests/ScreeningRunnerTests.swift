import Foundation
import SpiegelDialogue
import SpiegelUnderstanding
import Testing

/// How the runner acts on what a message was recognised as, with screenings stated by the test:
/// distress keeps the answer and puts the care graph before the next question; `close: true`
/// ends the conversation; an intent in other words counts when sure and short, never over a choice
/// the message answers; `heard.<label>` in conditions.
@Suite struct ScreeningRunnerTests {
    static let graphs = [
        "les": """
            id: les
            languages: [nl]
            start: doel
            nodes:
              doel:
                ask: { nl: "Wat is je doel?" }
                store: doel
                next: doel_check
              doel_check:
                branch:
                  - if: heard.advice
                    next: nivea
                otherwise: keuze
              nivea:
                say: [{ nl: "Ik vul het niet voor je in." }]
                next: keuze
              keuze:
                choice: { nl: "Waarover?" }
                store: thema
                options:
                  - { nl: "Even pauze", next: klaar }
                  - { nl: "De les", next: klaar }
              klaar:
                end: { nl: "Klaar." }
            """,
        "zorg": """
            id: zorg
            languages: [nl]
            start: erkennen
            nodes:
              erkennen:
                say: [{ nl: "Dat klinkt zwaar." }]
                next: keuze
              keuze:
                choice: { nl: "Wat wil je nu?" }
                store: zorg
                options:
                  - { nl: "Verder", next: verder }
                  - { nl: "Stoppen", next: stoppen }
              verder:
                end: ~
              stoppen:
                end: { nl: "Zorg goed voor jezelf." }
                close: true
            """,
    ]

    static func screening(_ labels: Set<UtteranceLabel>, score: Double = 0.9, unsure: Bool = false) -> Screening {
        Screening(scores: Dictionary(uniqueKeysWithValues: labels.map { ($0, score) }), labels: labels, distressUnsure: unsure)
    }

    func started() throws -> (DialogueRunner, DialogueStep) {
        let runner = DialogueRunner(library: try Fixtures.library(with: Self.graphs))
        return (runner, try runner.start(graph: "les", language: "nl", now: Fixtures.now))
    }

    @Test func distressKeepsTheAnswerAndBringsTheCareGraphBeforeTheNextQuestion() throws {
        let (runner, start) = try self.started()
        let care = runner.advance(start.state, input: "ik kan niet meer", now: Fixtures.now, screening: Self.screening([.distress]))
        #expect(care.outputs == ["Dat klinkt zwaar.", "Wat wil je nu?\n1. Verder\n2. Stoppen"])
        #expect(care.state.answers["doel"] == "ik kan niet meer", "the answer counts: the teacher is not asked it again")
        let back = runner.advance(care.state, input: "1", now: Fixtures.now)
        #expect(back.outputs == ["Waarover?\n1. Even pauze\n2. De les"])
        #expect(back.state.status == .active)
        // Within the care flow a heavy answer is the answer to it, not a second care flow.
        let within = runner.advance(care.state, input: "ik weet het niet meer", now: Fixtures.now, screening: Self.screening([.distress]))
        #expect(within.outputs.first == "Dat begreep ik niet goed.")
        #expect(within.state.stack.filter { $0.graph == "zorg" }.count == 1)
    }

    @Test func aDoubtAsksFirstAndAllIsWellIsNotAskedAgain() throws {
        var graphs = Self.graphs
        graphs["zorg_vraag"] = """
            id: zorg_vraag
            languages: [nl]
            start: vraag
            nodes:
              vraag:
                choice: { nl: "Gaat het wel met je?" }
                store: zorg_vraag
                options:
                  - { nl: "Ja", next: klaar, value: goed }
                  - { nl: "Niet zo", next: klaar, value: niet_goed }
              klaar:
                end: ~
            """
        let runner = DialogueRunner(library: try Fixtures.library(with: graphs))
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        let doubt = Self.screening([], unsure: true)
        let asked = runner.advance(start.state, input: "moe", now: Fixtures.now, screening: doubt)
        #expect(asked.state.answers["doel"] == "moe")
        #expect(asked.outputs == ["Gaat het wel met je?\n1. Ja\n2. Niet zo"])
        let fine = runner.advance(asked.state, input: "1", now: Fixtures.now)
        #expect(fine.outputs == ["Waarover?\n1. Even pauze\n2. De les"])
        let again = runner.advance(fine.state, input: "de les", now: Fixtures.now, screening: doubt)
        #expect(again.outputs == ["Klaar."], "asked once a conversation when all is well")
    }

    @Test func stoppingInTheCareGraphClosesTheConversation() throws {
        let (runner, start) = try self.started()
        let care = runner.advance(start.state, input: "ik kan niet meer", now: Fixtures.now, screening: Self.screening([.distress]))
        let stop = runner.advance(care.state, input: "2", now: Fixtures.now)
        #expect(stop.outputs == ["Zorg goed voor jezelf."])
        #expect(stop.state.status == .ended)
        #expect(stop.effects.contains { if case .end = $0 { true } else { false } })
    }

    @Test func anIntentInOtherWordsCountsWhenSureAndShortOnly() throws {
        let (runner, start) = try self.started()
        let pause = runner.advance(start.state, input: "ff pauze aub", now: Fixtures.now, screening: Self.screening([.stop]))
        #expect(pause.state.status == .paused)
        let unsure = runner.advance(start.state, input: "ff pauze aub", now: Fixtures.now, screening: Self.screening([.stop], score: 0.6))
        #expect(unsure.state.answers["doel"] == "ff pauze aub")
        let long = "ik wil dat ze na de pauze sneller aan de slag gaan en minder praten tijdens de uitleg"
        let answer = runner.advance(start.state, input: long, now: Fixtures.now, screening: Self.screening([.stop]))
        #expect(answer.state.answers["doel"] == long)
    }

    @Test func anOptionOfTheWaitingChoiceIsThatAnswerWhateverItSoundsLike() throws {
        let (runner, start) = try self.started()
        let atChoice = runner.advance(start.state, input: "rust", now: Fixtures.now)
        #expect(atChoice.outputs.last?.hasPrefix("Waarover?") == true)
        let chosen = runner.advance(atChoice.state, input: "even pauze", now: Fixtures.now, screening: Self.screening([.stop]))
        #expect(chosen.state.status == .ended)
        #expect(chosen.outputs == ["Klaar."])
    }

    @Test func conditionsReadWhatTheMessageWasRecognisedAs() throws {
        let (runner, start) = try self.started()
        let advice = runner.advance(start.state, input: "zeg jij het maar", now: Fixtures.now, screening: Self.screening([.advice]))
        #expect(advice.outputs.first == "Ik vul het niet voor je in.")
        let plain = runner.advance(start.state, input: "rust in de klas", now: Fixtures.now, screening: .nothing)
        #expect(plain.outputs.first?.hasPrefix("Waarover?") == true)
    }
}
