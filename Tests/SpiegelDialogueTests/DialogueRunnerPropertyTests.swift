import Foundation
import SpiegelDialogue
import SpiegelTestKit
import Testing

/// Random inputs against random graphs: the runner never crashes, never leaves the graph, and
/// `back` after an answered question returns to that question.
@Suite struct DialogueRunnerPropertyTests {
    static let inputs = [
        "1", "2", "3", "7", "een 7", "zeven", "optie een", "optie twee", "ja", "nee", "terug", "stop", "hervat", "help",
        "herhaal", "wat zei ik", "mijn gegevens", "delen", "", "   ", "🙂", "ik begrijp het niet", "geen zin", "wie leest dit",
        "14/1", String(repeating: "x", count: 3000), String(repeating: "é", count: 20_000), "\u{0}\u{1}", "{v1}", "a\nb",
    ]

    static func text(_ words: String) -> LocalizedText { LocalizedText(["nl": words, "en": words]) }

    static func randomGraph(id: String, nodeCount: Int, calls: String?, using random: inout SeededGenerator) -> DialogueGraph {
        let ids = (0..<nodeCount).map { "\(id)\($0)" }
        func target() -> String { ids.randomElement(using: &random)! }
        let variables = ["v0", "v1", "v2", "v3"]
        var nodes: [DialogueNode] = []
        for (index, nodeID) in ids.enumerated() {
            let kind: DialogueNode.Kind
            switch index == nodeCount - 1 ? 99 : Int.random(in: 0..<10, using: &random) {
            case 0: kind = .say(messages: [text("zeg {v1}")], next: target())
            case 1: kind = .ask(question: text("wat {v0}?"), store: variables.randomElement(using: &random)!, validation: AnswerValidation(), reask: nil, next: target())
            case 2:
                kind = .choice(question: text("kies"), store: "v2",
                               options: [ChoiceOption(text: text("optie een"), next: target()), ChoiceOption(text: text("optie twee"), next: target())], reask: nil)
            case 3: kind = .scale(question: text("hoeveel"), store: "v1", range: 1...10, followUps: [ScaleFollowUp(range: 1...4, next: target())], reask: nil, next: target())
            case 4: kind = .branch(rules: [BranchRule(condition: try! Condition("v1 >= 5 or v2 contains 'een'"), next: target())], otherwise: target())
            case 5: kind = .diagnose(subject: "v0", store: "w", outcomes: [.notUnderstanding: target(), .none: target()], unsure: Bool.random(using: &random) ? target() : nil)
            case 6: kind = .goto(target: target())
            case 7: kind = calls.map { .call(graph: $0, next: target()) } ?? .goto(target: target())
            case 8: kind = .ask(question: text("datum?"), store: "v3", validation: AnswerValidation(format: .date), reask: text("opnieuw"), next: target())
            default: kind = .end(message: text("klaar {v0}"), summary: ["v0", "v1"], followUp: nil)
            }
            nodes.append(DialogueNode(id: nodeID, kind: kind))
        }
        return DialogueGraph(id: id, title: text(id), languages: ["nl", "en"], start: ids[0], nodes: nodes)
    }

    static func isValid(_ state: DialogueState, in library: DialogueLibrary) -> Bool {
        guard state.status == .active else { return true }
        guard let position = state.position, let node = library.graphs[position.graph]?.nodes[position.node] else { return false }
        return node.isQuestion
    }

    @Test(arguments: 0..<40)
    func randomConversationsStayInTheGraph(seed: UInt64) throws {
        _ = try Self.exercise(seed: seed)
    }

    @Test func thePropertiesAreExercised() throws {
        let backChecks = try (100..<120).map { try Self.exercise(seed: $0) }.reduce(0, +)
        #expect(backChecks > 50, "only \(backChecks) answered questions were checked with back")
    }

    /// Runs 60 random inputs against random graphs from `seed`; returns how many times `back` was checked.
    static func exercise(seed: UInt64) throws -> Int {
        var backChecks = 0
        var random = SeededGenerator(seed: seed)
        let base = Fixtures.library
        let library = DialogueLibrary(
            graphs: [
                Self.randomGraph(id: "r", nodeCount: Int.random(in: 2...30, using: &random), calls: "s", using: &random),
                Self.randomGraph(id: "s", nodeCount: Int.random(in: 2...8, using: &random), calls: nil, using: &random),
            ],
            intents: base.intents, messages: base.messages, resistance: base.resistance, defaultGraph: "r"
        )
        let runner = DialogueRunner(library: library)
        var step = try runner.start(language: ["nl", "en"].randomElement(using: &random)!, now: Fixtures.now)
        #expect(Self.isValid(step.state, in: library))
        for _ in 0..<60 {
            let input = Self.inputs.randomElement(using: &random)!
            let before = step.state
            step = runner.advance(before, input: input, now: Fixtures.now)
            #expect(Self.isValid(step.state, in: library), "seed \(seed): after “\(input.prefix(20))” the state points at \(String(describing: step.state.position))")
            #expect(step.state.history.count <= 50)

            let answered = step.state.history.count == before.history.count + 1 || (before.history.count == 50 && step.state.history != before.history)
            if answered, step.state.status == .active {
                backChecks += 1
                let back = runner.advance(step.state, input: "terug", now: Fixtures.now)
                #expect(back.state.stack == before.stack, "seed \(seed): back after “\(input.prefix(20))” went to \(String(describing: back.state.position))")
            }
            if step.state.status == .ended {
                step = try runner.start(language: "nl", now: Fixtures.now)
            } else if step.state.status == .paused, Bool.random(using: &random) {
                step = runner.advance(step.state, input: "hervat", now: Fixtures.now)
            }
        }
        return backChecks
    }

    @Test func aLoopWithoutQuestionsPausesInsteadOfSpinning() throws {
        let loop = DialogueGraph(
            id: "loop", title: Self.text("loop"), languages: ["nl", "en"], start: "a",
            nodes: [DialogueNode(id: "a", kind: .goto(target: "b")), DialogueNode(id: "b", kind: .say(messages: [], next: "a"))]
        )
        let runner = DialogueRunner(library: DialogueLibrary(graphs: [loop], messages: Fixtures.library.messages))
        let step = try runner.start(graph: "loop", language: "nl", now: Fixtures.now)
        #expect(step.state.status == .paused)
        #expect(step.effects == [.pause])
    }
}
