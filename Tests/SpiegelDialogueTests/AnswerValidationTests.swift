import SpiegelDialogue
import Testing

@Suite struct AnswerValidationTests {
    static let graph = """
        id: v
        languages: [nl, en]
        start: datum
        nodes:
          datum:
            ask: { nl: Wanneer probeer je het?, en: When will you try it? }
            validate: date
            reask: { nl: Welke dag?, en: Which day? }
            store: datum
            next: aantal
          aantal:
            ask: { nl: Hoeveel leerlingen deden mee?, en: How many pupils took part? }
            validate: number
            store: aantal
            next: kort
          kort:
            ask: { nl: Wat is je plan in een zin?, en: What is your plan in one sentence? }
            max_length: 20
            store: plan
            next: vrij
          vrij:
            ask: { nl: Wat wil je nog kwijt?, en: What else would you like to say? }
            store: rest
            next: einde
          einde:
            end: ~
        """

    let runner = DialogueRunner(library: try! Fixtures.library(with: ["v": graph]))

    private func answer(_ inputs: [String]) throws -> DialogueStep {
        var step = try self.runner.start(graph: "v", language: "nl", now: Fixtures.now)
        for input in inputs { step = self.runner.advance(step.state, input: input, now: Fixtures.now) }
        return step
    }

    @Test(arguments: ["14/1", "14-01-2027", "2027-01-14", "14 januari", "3 mrt", "29/2", "1 December 2026"])
    func datesAreAccepted(input: String) throws {
        #expect(try answer([input]).state.answers["datum"] == input)
    }

    @Test(arguments: ["morgen misschien", "32/1", "14/13", "30 februari", "januari"])
    func nonDatesAreAskedAgain(input: String) throws {
        let step = try answer([input])
        #expect(step.outputs == ["Geef een datum, bijvoorbeeld 14/1.", "Welke dag?"])
        #expect(step.state.answers["datum"] == nil)
    }

    @Test func numbersAreChecked() throws {
        #expect(try answer(["14/1", "veel"]).outputs == ["Antwoord met een getal, bijvoorbeeld 12."])
        #expect(try answer(["14/1", "23"]).state.answers["aantal"] == "23")
        #expect(try answer(["14/1", "twaalf"]).state.answers["aantal"] == nil)
        #expect(try answer(["14/1", "zeven"]).state.answers["aantal"] == "zeven")
    }

    @Test func aTooLongAnswerIsAskedShorter() throws {
        let step = try answer(["14/1", "23", "Een plan dat veel te lang is voor hier"])
        #expect(step.outputs == ["Dat is wat lang voor mij. Kan je het korter zeggen?"])
        #expect(step.state.position?.node == "kort")
    }

    @Test func anEmptyAnswerIsAskedAgain() throws {
        let step = try answer(["14/1", "23", "Kort plan", ""])
        #expect(step.outputs == ["Ik kreeg niets binnen."])
        let done = try answer(["14/1", "23", "Kort plan", "Niets"])
        #expect(done.state.status == .ended)
    }
}
