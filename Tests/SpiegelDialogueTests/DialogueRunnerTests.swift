import Foundation
import SpiegelDialogue
import Testing

@Suite struct DialogueRunnerTests {
    let runner = DialogueRunner(library: Fixtures.library)

    /// Starts `kort` and answers each of `inputs` in turn; returns every step.
    private func converse(_ inputs: [String], graph: String = "kort", language: String = "nl", facts: [String: String] = [:]) throws -> [DialogueStep] {
        var steps = [try self.runner.start(graph: graph, language: language, facts: facts, now: Fixtures.now)]
        for input in inputs {
            steps.append(self.runner.advance(steps.last!.state, input: input, now: Fixtures.now))
        }
        return steps
    }

    @Test func startSaysHelloAndAsksTheFirstQuestion() throws {
        let step = try self.runner.start(language: "nl", now: Fixtures.now)
        #expect(step.outputs == ["Dag! Fijn dat je even tijd maakt.", "Wat zou een goede uitkomst van dit gesprek zijn?"])
        #expect(step.state.position == .init(graph: "kort", node: "doel"))
        #expect(step.state.status == .active)
    }

    @Test func englishSpeakersGetTheEnglishText() throws {
        let step = try self.runner.start(language: "en", now: Fixtures.now)
        #expect(step.outputs.last == "What would be a good outcome of this conversation?")
    }

    @Test func anUnknownGraphCannotStart() {
        #expect(throws: DialogueRunnerError.self) { try self.runner.start(graph: "nope", language: "nl", now: Fixtures.now) }
    }

    @Test func anAnswerIsStoredAndMirroredBack() throws {
        let steps = try converse(["Rust in de klas"])
        #expect(steps[1].effects == [.storeAnswer(name: "doel", value: "Rust in de klas")])
        #expect(steps[1].outputs == ["Op een schaal van 1 tot 10: waar sta je nu met Rust in de klas?"])
    }

    @Test(arguments: [("7", 7), ("een 7", 7), ("zeven", 7), ("7/10", 7), ("ik geef mezelf een 6", 6), ("Tien!", 10), ("3 op 10", 3)])
    func scaleAnswersAreReadTolerantly(input: String, score: Int) throws {
        let steps = try converse(["doel", input])
        #expect(steps[2].state.answers["cijfer"] == String(score))
    }

    @Test(arguments: ["11", "0", "geen idee", "7 of 8", "🙂"])
    func aScaleAnswerOutOfRangeIsAskedAgain(input: String) throws {
        let steps = try converse(["doel", input])
        #expect(steps[2].outputs == ["Geef een getal van 1 tot 10."])
        #expect(steps[2].state.position == .init(graph: "kort", node: "cijfer"))
        #expect(steps[2].state.answers["cijfer"] == nil)
    }

    @Test func scaleFollowUpsGoByRange() throws {
        #expect(try converse(["doel", "4"])[2].state.position?.node == "laag")
        #expect(try converse(["doel", "4"])[2].outputs == ["Wat maakt het een 4 en geen 3?"])
        #expect(try converse(["doel", "8"])[2].state.position?.node == "hoog")
    }

    @Test(arguments: [("1", "les"), ("2", "leerling"), ("de les", "les"), ("Een leerling", "leerling"), ("een leerlin", "leerling"),
                      ("DE LÈS", "les"), ("een leerling graag", "leerling")])
    func choicesTakeTheNumberOrTheWords(input: String, value: String) throws {
        let steps = try converse(["doel", "8", "stap", input])
        #expect(steps[4].state.answers["thema"] == value)
        #expect(steps[4].state.position?.node == "gevoel")
    }

    @Test(arguments: ["3", "iets anders", "de"])
    func anUnclearChoiceIsAskedAgainWithTheOptions(input: String) throws {
        let steps = try converse(["doel", "8", "stap", input])
        #expect(steps[4].outputs == ["Dat begreep ik niet goed.", "Waar wil je verder over praten?\n1. De les\n2. Een leerling"])
        #expect(steps[4].state.position?.node == "keuze")
    }

    @Test(arguments: [
        ("Ik begrijp het niet, wat bedoel je?", "A", "uitleg"),
        ("Ik heb er eigenlijk geen zin in", "B", "motivatie"),
        ("Wie leest dit eigenlijk mee?", "C", "vertrouwen"),
        ("Het ging best goed", "none", "splits"),
    ])
    func resistanceIsDiagnosedAndAnsweredByType(answer: String, type: String, next: String) throws {
        let steps = try converse(["doel", "8", "stap", "1", answer])
        #expect(steps[5].state.answers["weerstand"] == type)
        if type == "none" {
            #expect(steps[5].state.position?.node == "plan")
        } else if type == "B" {
            #expect(steps[5].state.position?.node == next)
        } else {
            // A and C say something and ask the question again.
            #expect(steps[5].state.position?.node == "gevoel")
            #expect(steps[5].state.counters["vast"] == 1)
        }
    }

    @Test func repeatedResistanceLeadsIntoCoreReflectionAndBack() throws {
        let steps = try converse(["doel", "8", "stap", "1", "ik begrijp het niet", "snap het niet", "Mijn ideaal is rust", "Morgen"])
        #expect(steps[6].state.counters["vast"] == 2)
        #expect(steps[6].outputs.last == "Wat is voor jou het ideaal in deze situatie?")
        #expect(steps[6].state.stack.map(\.graph) == ["kort", "kern"])
        #expect(steps[7].state.stack == [.init(graph: "kort", node: "plan")])
        #expect(steps[7].outputs == ["Wat ga je als eerste proberen, en wanneer?"])
        #expect(steps[8].state.status == .ended)
    }

    @Test func theEndNamesTheSummaryAndAsksForAFollowUp() throws {
        let steps = try converse(["Rust", "8", "Stap", "1", "Goed", "Morgen starten"])
        let last = steps[6]
        #expect(last.state.status == .ended)
        #expect(last.outputs == ["Dank je. Je plan: Morgen starten."])
        #expect(last.effects.contains(.end(graph: "kort", summary: ["doel": "Rust", "cijfer": "8", "plan": "Morgen starten"])))
        #expect(last.effects.contains(.scheduleFollowUp(after: 7 * 86400, graph: "kort")))
        let after = self.runner.advance(last.state, input: "hallo?", now: Fixtures.now)
        #expect(after.outputs == ["Dit gesprek is afgelopen."])
    }

    @Test func stopPausesAndResumeGoesOnWithTheSameQuestion() throws {
        let steps = try converse(["Rust", "pauze", "7", "hervat", "7"])
        #expect(steps[2].state.status == .paused)
        #expect(steps[2].effects == [.pause])
        #expect(steps[3].outputs == ["We staan op pauze. Zeg “hervat” om verder te gaan."])
        #expect(steps[3].state.answers["cijfer"] == nil)
        #expect(steps[4].state.status == .active)
        #expect(steps[4].outputs == ["Fijn, we gaan verder.", "Op een schaal van 1 tot 10: waar sta je nu met Rust?"])
        #expect(steps[5].state.answers["cijfer"] == "7")
    }

    @Test func backReturnsToThePreviousQuestion() throws {
        let steps = try converse(["Rust", "8", "terug", "Vrede", "3"])
        #expect(steps[3].state.position?.node == "cijfer")
        #expect(steps[3].outputs == ["Op een schaal van 1 tot 10: waar sta je nu met Rust?"])
        let again = try converse(["Rust", "terug"])
        #expect(again[2].state.position?.node == "doel")
        #expect(again[2].outputs == ["Wat zou een goede uitkomst van dit gesprek zijn?"])
        let first = try converse(["terug"])
        #expect(first[1].outputs == ["Er is geen vorige vraag.", "Wat zou een goede uitkomst van dit gesprek zijn?"])
    }

    @Test func helpSaysWhereWeAreAndWhatCanBeSaidThenTheQuestion() throws {
        let step = try converse(["help"])[1]
        #expect(step.outputs.count == 2)
        #expect(step.outputs[0].hasPrefix("We zijn bij: Korte reflectie. Je kan altijd zeggen: “stop”, “hervat”, “terug”"))
        #expect(step.outputs[1] == "Wat zou een goede uitkomst van dit gesprek zijn?")
    }

    @Test func repeatAsksTheQuestionAgain() throws {
        let step = try converse(["Rust", "nog eens"])[2]
        #expect(step.outputs == ["Op een schaal van 1 tot 10: waar sta je nu met Rust?"])
    }

    @Test func recallListsTheAnswersWithTheirLabels() throws {
        let steps = try converse(["wat zei ik", "Rust", "8", "wat zei ik"])
        #expect(steps[1].outputs == ["Je hebt nog niets gezegd."])
        #expect(steps[4].outputs == ["Dit zei je tot nu toe:\n– je doel: Rust\n– cijfer: 8"])
    }

    @Test func recallLeavesOutWhatAreNotTheCoacheesOwnWords() throws {
        // `thema` is an unlabelled choice's value, `weerstand` the classifier's reading.
        let steps = try converse(["Rust", "8", "Een plan", "1", "Prima", "wat zei ik"])
        #expect(steps[5].state.answers["thema"] == "les")
        #expect(steps[5].state.answers["weerstand"] == "none")
        #expect(steps[6].outputs == ["Dit zei je tot nu toe:\n– je doel: Rust\n– cijfer: 8\n– stap: Een plan\n– gevoel: Prima"])
    }

    @Test(arguments: [("mijn gegevens", DialogueEffect.requestExport), ("vergeet mij", .requestErasure), ("delen", .requestShare), ("Vergeet mij!", .requestErasure)])
    func serviceHooksAreEffects(input: String, effect: DialogueEffect) throws {
        let step = try converse(["Rust", input])[2]
        #expect(step.effects == [effect])
        #expect(step.state.position?.node == "cijfer")
    }

    @Test func intentsTolerateATypo() throws {
        #expect(try converse(["Rust", "hervta"])[2].outputs == ["Op een schaal van 1 tot 10: waar sta je nu met Rust?"])
        #expect(try converse(["Rust", "pauz"])[2].state.status == .paused)
    }

    @Test func aStateSurvivesARestartAsJSON() throws {
        let steps = try converse(["Rust", "8"])
        let data = try JSONEncoder().encode(steps[2].state)
        let restored = try JSONDecoder().decode(DialogueState.self, from: data)
        #expect(restored == steps[2].state)
        let next = self.runner.advance(restored, input: "Stap", now: Fixtures.now)
        #expect(next.state.position?.node == "keuze")
        #expect(data.count < 1024)
    }

    @Test func aStateFromANewerSpiegelIsRefusedAndAnOlderOneRead() throws {
        let step = try converse(["Rust"])[1]
        var object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(step.state)) as? [String: Any])
        object["version"] = DialogueState.currentVersion + 1
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(DialogueState.self, from: try JSONSerialization.data(withJSONObject: object))
        }
        // A minimal state of version 1, as the first release wrote it: what it lacks takes its default.
        let minimal = #"{"version":1,"language":"nl","stack":[{"graph":"kort","node":"cijfer"}],"answers":{"doel":"Rust"},"updatedAt":0}"#
        let state = try JSONDecoder().decode(DialogueState.self, from: Data(minimal.utf8))
        #expect(state.status == .active)
        #expect(self.runner.advance(state, input: "6", now: Fixtures.now).state.answers["cijfer"] == "6")
        // Positions are written compactly now, as graph:node, and read back.
        let written = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        #expect(written.contains(#""stack":["kort:cijfer"]"#))
        #expect(try JSONDecoder().decode(DialogueState.self, from: Data(written.utf8)) == state)
    }

    @Test func aRemovedNodeFallsBackToTheResumePoint() throws {
        let steps = try converse(["Rust", "8"])
        var state = steps[2].state
        state.stack = [.init(graph: "kort", node: "bestaat-niet-meer")]
        let step = self.runner.advance(state, input: "iets", now: Fixtures.now)
        #expect(step.outputs.first == "Dit gesprek is intussen aangepast; we gaan verder vanaf hier.")
        #expect(step.state.position?.node == "cijfer")
        #expect(step.state.answers["doel"] == "iets")
    }

    @Test func aRemovedGraphFallsBackToTheDefaultGraph() throws {
        var state = try converse(["Rust"])[1].state
        state.stack = [.init(graph: "verdwenen", node: "x")]
        let step = self.runner.advance(state, input: "Vrede", now: Fixtures.now)
        // A graph that is gone starts the default graph afresh; the input is not taken as an answer.
        #expect(step.outputs == [
            "Dit gesprek is intussen aangepast; we gaan verder vanaf hier.", "Dag! Fijn dat je even tijd maakt.",
            "Wat zou een goede uitkomst van dit gesprek zijn?",
        ])
        #expect(step.state.position == .init(graph: "kort", node: "doel"))
    }

    @Test func aTenMegabyteLineIsRefusedWithoutStoringIt() throws {
        let huge = String(repeating: "a", count: 10 << 20)
        let step = try converse([huge])[1]
        #expect(step.outputs == ["Dat is wat lang voor mij. Kan je het korter zeggen?"])
        #expect(step.state.answers.isEmpty)
        #expect(step.state.position?.node == "doel")
    }

    @Test func invalidUTF8EmptyInputAndEmojiAreHandled() throws {
        let invalid = String(decoding: [0x66, 0xFF, 0xFE, 0x6F], as: UTF8.self)
        let stored = try converse([invalid])[1]
        #expect(stored.state.answers["doel"] == invalid)
        let empty = try converse(["   \n "])[1]
        #expect(empty.outputs == ["Ik kreeg niets binnen."])
        #expect(empty.state.position?.node == "doel")
        let emoji = try converse(["🙂👍"])[1]
        #expect(emoji.state.answers["doel"] == "🙂👍")
    }

    @Test func factsFromEarlierSessionsAreReadable() throws {
        let step = try converse([], facts: ["vorige.cijfer": "5"])[0]
        #expect(step.state.value(of: "vorige.cijfer") == "5")
    }
}
