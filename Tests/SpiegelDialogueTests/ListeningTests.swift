import Foundation
import SpiegelDialogue
import SpiegelUnderstanding
import Testing

/// What makes the conversation listen rather than run a form: a mirror in the teacher's own first
/// words, the question in other words on request, signs of little time counted, and the linter
/// against interpreting.
@Suite struct ListeningTests {
    static let graphs = [
        "les": """
            id: les
            languages: [nl, en]
            start: voelde
            count_heard: { krap: [no_time, dont_know] }
            nodes:
              voelde:
                ask: { nl: "Wat voelde je?", en: "What did you feel?" }
                rephrase: { nl: "Wat ging er door je heen?", en: "What went through you?" }
                store: voelde
                next: spiegel
              spiegel:
                say:
                  - nl: "{voelde:first}, zeg je."
                    en: "{voelde:first}, you say."
                    neutral: { nl: "Dank je.", en: "Thank you." }
                next: krap
              krap:
                branch:
                  - if: krap >= 2
                    next: kort
                otherwise: plan
              plan:
                ask: { nl: "Wat ga je doen?", en: "What will you do?" }
                store: plan
                next: krap_2
              krap_2:
                branch:
                  - if: krap >= 2
                    next: kort
                otherwise: klaar
              kort:
                end: { nl: "Kort dan.", en: "Briefly, then." }
              klaar:
                end: { nl: "Klaar.", en: "Done." }
            """,
    ]

    func runner() throws -> DialogueRunner {
        DialogueRunner(library: try Fixtures.library(with: Self.graphs))
    }

    func said(_ answer: String, language: String = "nl") throws -> [String] {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: language, now: Fixtures.now)
        return runner.advance(start.state, input: answer, now: Fixtures.now).outputs
    }

    @Test func theMirrorIsTheTeachersOwnFirstWords() throws {
        #expect(try self.said("Boos… ik trilde nog in de pauze") == ["Boos, zeg je.", "Wat ga je doen?"])
        #expect(try self.said("frustratie, en een beetje onmacht") == ["Frustratie, zeg je.", "Wat ga je doen?"])
        #expect(try self.said("Tired - really tired", language: "en") == ["Tired, you say.", "What will you do?"])
    }

    @Test func aLongOrEmptyStartIsNotMirrored() throws {
        #expect(try self.said("Ik dacht dat ik het allemaal wel onder controle had, maar niet dus") == ["Dank je.", "Wat ga je doen?"])
        #expect(try self.said("weet ik niet") == ["Dank je.", "Wat ga je doen?"])
    }

    @Test func askingForOtherWordsGetsTheRephrasingAndRepeatGetsTheSameQuestion() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        // Recognised as a request to repeat (in other words than the fixture's phrases).
        let repeating = Screening(scores: [.repeat: 0.95], labels: [.repeat])
        #expect(runner.advance(start.state, input: "stel de vraag anders", now: Fixtures.now, screening: repeating).outputs == ["Wat ging er door je heen?"])
        #expect(runner.advance(start.state, input: "herhaal", now: Fixtures.now).outputs == ["Wat voelde je?"])
        let english = try runner.start(graph: "les", language: "en", now: Fixtures.now)
        #expect(runner.advance(english.state, input: "ask it differently", now: Fixtures.now, screening: repeating).outputs == ["What went through you?"])
    }

    @Test func twoSignsOfLittleTimeOrNotKnowingAreCounted() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        let noTime = Screening(scores: [.noTime: 0.9], labels: [.noTime])
        let dontKnow = Screening(scores: [.dontKnow: 0.9], labels: [.dontKnow])
        let first = runner.advance(start.state, input: "snel, de bel gaat zo", now: Fixtures.now, screening: noTime)
        #expect(first.state.counters["krap"] == 1)
        #expect(first.outputs.last == "Wat ga je doen?")
        let second = runner.advance(first.state, input: "geen idee", now: Fixtures.now, screening: dontKnow)
        #expect(second.state.counters["krap"] == 2)
        #expect(second.outputs == ["Kort dan."])
        // Ordinary answers raise nothing.
        let calm = runner.advance(start.state, input: "rustig", now: Fixtures.now, screening: .nothing)
        #expect(calm.state.counters["krap"] == nil)
    }

    @Test func theLinterWarnsAboutInterpreting() throws {
        let interpreting = Self.graphs["les"]!.replacingOccurrences(of: "\"Dank je.\"", with: "\"Dat betekent dat het je raakt.\"")
        let findings = DialogueLinter.lint(try Fixtures.library(with: ["les": interpreting])).filter { $0.rule == .interpreting }
        #expect(findings.count == 1)
        #expect(findings.first?.message.contains("dat betekent") == true)
        #expect(DialogueLinter.lint(try Fixtures.library(with: Self.graphs)).filter { $0.rule == .interpreting }.isEmpty)
    }

    static let plan = """
        id: plan
        languages: [nl]
        start: plan
        nodes:
          plan:
            ask: { nl: "Wat ga je doen, en wanneer?" }
            store: plan
            next: plan_check
          plan_check:
            branch:
              - if: not when.plan
                next: wanneer
            otherwise: klaar
          wanneer:
            ask: { nl: "En wanneer probeer je het?" }
            store: plan_wanneer
            next: klaar
          klaar:
            end: { nl: "Klaar." }
        """

    @Test(arguments: [
        ("Donderdag een timer", true), ("in de volgende les een startopdracht", true), ("elke les een raadsel", true),
        ("een timer in 2C", true), ("next Monday, role cards", true), ("op 14/1 een quiz", true),
        ("een timer gebruiken", false), ("beter mijn best doen", false), ("rolkaartjes", false),
    ])
    func aPlanWithoutAWhenIsAskedWhen(plan: String, saysWhen: Bool) throws {
        let runner = DialogueRunner(library: try Fixtures.library(with: ["plan": Self.plan]))
        let start = try runner.start(graph: "plan", language: "nl", now: Fixtures.now)
        let step = runner.advance(start.state, input: plan, now: Fixtures.now)
        #expect(step.outputs == [saysWhen ? "Klaar." : "En wanneer probeer je het?"], "\(plan)")
    }

    @Test func whenOfAnAnswerNoPathStoresIsAnError() throws {
        let wrong = Self.plan.replacingOccurrences(of: "not when.plan", with: "not when.idee")
        let findings = DialogueLinter.lint(try Fixtures.library(with: ["plan": wrong]))
        #expect(findings.contains { $0.rule == .undefinedVariable && $0.message.contains("when.idee") })
    }

    @Test func aLabelThatDoesNotExistInCountHeardIsRefused() throws {
        let wrong = Self.graphs["les"]!.replacingOccurrences(of: "[no_time, dont_know]", with: "[no_time, moe]")
        #expect { try Fixtures.library(with: ["les": wrong]) } throws: { "\($0)".contains("count_heard.krap: there is no label `moe`") }
    }
}
