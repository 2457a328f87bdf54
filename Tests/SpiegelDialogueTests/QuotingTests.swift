import Foundation
import SpiegelDialogue
import SpiegelUnderstanding
import Testing

/// An answer goes into a text that quotes it (`“{name}”`) only when it is fit to quote: short, not
/// "weet ik niet", not recognised as not knowing, distress, a question to the bot or resistance.
/// Otherwise the text's neutral form is said.
@Suite struct QuotingTests {
    static let graphs = [
        "les": """
            id: les
            languages: [nl, en]
            start: uitdaging
            nodes:
              uitdaging:
                ask: { nl: "Wat is de uitdaging?", en: "What is the challenge?" }
                store: uitdaging
                next: wonder
              wonder:
                ask:
                  nl: "Stel dat “{uitdaging}” morgen opgelost is. Wat is er anders?"
                  en: "Suppose “{uitdaging}” is solved tomorrow. What is different?"
                  neutral: { nl: "Stel dat die uitdaging morgen opgelost is. Wat is er anders?", en: "Suppose that challenge is solved tomorrow. What is different?" }
                store: wonder
                next: zonder
              zonder:
                say: [{ nl: "Je zei: “{wonder}”.", en: "You said: “{wonder}”." }]
                next: klaar
              klaar:
                end: ~
            """,
    ]

    func runner() throws -> DialogueRunner {
        DialogueRunner(library: try Fixtures.library(with: Self.graphs))
    }

    func afterChallenge(_ answer: String, language: String = "nl", screening: Screening = .nothing) throws -> DialogueStep {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: language, now: Fixtures.now)
        return runner.advance(start.state, input: answer, now: Fixtures.now, screening: screening)
    }

    @Test func aShortAnswerIsQuoted() throws {
        #expect(try self.afterChallenge("de overgang na de pauze").outputs == ["Stel dat “de overgang na de pauze” morgen opgelost is. Wat is er anders?"])
        #expect(try self.afterChallenge("the noise", language: "en").outputs == ["Suppose “the noise” is solved tomorrow. What is different?"])
    }

    @Test func aLongAnswerIsReferredTo() throws {
        let long = "Volhouden. Mijn huisarts zei vorige week al dat ik het rustiger aan moet doen, maar het lukt niet"
        #expect(try self.afterChallenge(long).outputs == ["Stel dat die uitdaging morgen opgelost is. Wat is er anders?"])
        // Fifteen words (a plan of one sentence) are still quoted, sixteen are not.
        let fifteen = "een twee drie vier vijf zes zeven acht negen tien elf twaalf dertien veertien vijftien"
        #expect(try self.afterChallenge(fifteen).outputs.first?.contains("“\(fifteen)”") == true)
        #expect(try self.afterChallenge(fifteen + " zestien").outputs == ["Stel dat die uitdaging morgen opgelost is. Wat is er anders?"])
    }

    @Test func notKnowingIsNeverQuoted() throws {
        for answer in ["weet ik echt niet", "Geen idee.", "idk", "I don't know"] {
            #expect(try self.afterChallenge(answer).outputs == ["Stel dat die uitdaging morgen opgelost is. Wat is er anders?"], "\(answer)")
        }
        // Recognised as not knowing in other words, by the screening.
        let screened = Screening(scores: [.dontKnow: 0.9], labels: [.dontKnow])
        #expect(try self.afterChallenge("geen flauw benul eerlijk gezegd", screening: screened).outputs == ["Stel dat die uitdaging morgen opgelost is. Wat is er anders?"])
        // An unsure reading does not stop the quote.
        let unsure = Screening(scores: [.dontKnow: 0.55], labels: [.dontKnow])
        #expect(try self.afterChallenge("de start van de les", screening: unsure).outputs == ["Stel dat “de start van de les” morgen opgelost is. Wat is er anders?"])
    }

    @Test func aQuestionOrResistanceIsNotQuotedButAnAdviceRequestIs() throws {
        let question = Screening(scores: [.question: 0.9], labels: [.question])
        #expect(try self.afterChallenge("hoe lang duurt dit nog?", screening: question).outputs == ["Stel dat die uitdaging morgen opgelost is. Wat is er anders?"])
        let resistance = Screening(scores: [.notWanting: 0.75], labels: [.notWanting])
        #expect(try self.afterChallenge("dit heeft geen zin", screening: resistance).outputs == ["Stel dat die uitdaging morgen opgelost is. Wat is er anders?"])
        // A teacher's own question about teaching is theirs to see quoted.
        let advice = Screening(scores: [.advice: 0.8], labels: [.advice])
        #expect(try self.afterChallenge("hoe krijg ik ze stil?", screening: advice).outputs == ["Stel dat “hoe krijg ik ze stil?” morgen opgelost is. Wat is er anders?"])
    }

    @Test func aNewAnswerIsJudgedAnew() throws {
        let runner = try self.runner()
        let start = try runner.start(graph: "les", language: "nl", now: Fixtures.now)
        let vague = runner.advance(start.state, input: "weet ik niet", now: Fixtures.now)
        #expect(vague.state.unquotable.isEmpty, "a lexical \"weet ik niet\" is judged when said, not stored as a mark")
        let screened = runner.advance(start.state, input: "snap ik niet", now: Fixtures.now, screening: Screening(scores: [.notUnderstanding: 0.9], labels: [.notUnderstanding]))
        #expect(screened.state.unquotable == ["uitdaging"])
        let back = runner.advance(screened.state, input: "terug", now: Fixtures.now)
        let again = runner.advance(back.state, input: "de overgang", now: Fixtures.now)
        #expect(again.state.unquotable.isEmpty)
        #expect(again.outputs == ["Stel dat “de overgang” morgen opgelost is. Wat is er anders?"])
    }

    @Test func aStateSavedBeforeQuotingWasJudgedStillReads() throws {
        let json = #"{"version":1,"language":"nl","stack":["les:wonder"],"answers":{"uitdaging":"de overgang"},"updatedAt":0}"#
        let state = try JSONDecoder().decode(DialogueState.self, from: Data(json.utf8))
        #expect(state.unquotable.isEmpty)
        let encoded = try JSONEncoder().encode(DialogueState(language: "nl", stack: [], updatedAt: Fixtures.now))
        #expect(String(decoding: encoded, as: UTF8.self).contains("unquotable"))
    }

    @Test func theLinterAsksForANeutralForm() throws {
        let without = try Fixtures.library(with: ["les": Self.graphs["les"]!])
        let findings = DialogueLinter.lint(without).filter { $0.rule == .quoteWithoutNeutral }
        #expect(findings.count == 1)
        #expect(findings.first?.severity == .warning)
        #expect(findings.first?.message.contains("node `zonder` quotes “{wonder}”") == true)
        let quotingNeutral = Self.graphs["les"]!.replacingOccurrences(of: "Stel dat die uitdaging", with: "Stel dat “{uitdaging}”")
        let errors = DialogueLinter.lint(try Fixtures.library(with: ["les": quotingNeutral])).filter { $0.rule == .quoteWithoutNeutral && $0.severity == .error }
        #expect(errors.count == 1)
    }
}
