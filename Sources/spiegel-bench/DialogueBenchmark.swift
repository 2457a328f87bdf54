import ArgumentParser
import Foundation
import Histogram
import SpiegelDialogue

/// `spiegel-bench dialogue`: runner steps on a 200-node graph, and load plus lint of a Prompts
/// directory.
struct DialogueBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialogue",
        abstract: "Runner steps per second on a 200-node graph; load and lint time of a Prompts directory."
    )

    @Option(help: "Runner steps to time.")
    var steps = 200_000

    @Option(help: "The Prompts directory to load and lint. Default: ./Prompts, or the test fixtures while it does not exist.")
    var prompts: String?

    @Option(help: "Load-and-lint runs; the median is reported.")
    var rounds = 21

    func run() throws {
        try self.measureSteps()
        try self.measureLoadAndLint()
    }

    /// A ring of 200 nodes: say, ask, scale with a follow-up, choice, branch, over and over.
    static func ring() -> DialogueGraph {
        func text(_ words: String) -> LocalizedText { LocalizedText(["nl": words, "en": words]) }
        var nodes: [DialogueNode] = []
        for index in 0..<200 {
            let next = "n\((index + 1) % 200)"
            let kind: DialogueNode.Kind = switch index % 5 {
            case 0: .say(messages: [text("Je zei: {doel}.")], next: next)
            case 1: .ask(question: text("Wat zou een goede uitkomst zijn?"), store: "doel", validation: AnswerValidation(), reask: nil, next: next)
            case 2: .scale(question: text("Waar sta je nu, van 1 tot 10?"), store: "cijfer", range: 1...10,
                           followUps: [ScaleFollowUp(range: 1...5, next: next)], reask: nil, next: next)
            case 3: .choice(question: text("Waarover verder?"), store: "thema",
                            options: [ChoiceOption(text: text("De les"), next: next), ChoiceOption(text: text("Een leerling"), next: next)], reask: nil)
            default: .branch(rules: [BranchRule(condition: try! Condition("cijfer >= 7 and doel contains 'rust'"), next: next)], otherwise: next)
            }
            nodes.append(DialogueNode(id: "n\(index)", kind: kind))
        }
        return DialogueGraph(id: "ring", title: text("ring"), languages: ["nl", "en"], start: "n0", nodes: nodes)
    }

    private func measureSteps() throws {
        let intents: [GlobalIntent: [String: [String]]] = [
            .stop: ["nl": ["stop", "pauze"], "en": ["stop", "pause"]], .resume: ["nl": ["hervat"], "en": ["resume"]],
            .back: ["nl": ["terug"], "en": ["back"]], .help: ["nl": ["help"], "en": ["help"]],
            .repeat: ["nl": ["herhaal"], "en": ["repeat"]], .recall: ["nl": ["wat zei ik"], "en": ["what did i say"]],
            .export: ["nl": ["mijn gegevens"], "en": ["my data"]], .forget: ["nl": ["vergeet mij"], "en": ["forget me"]],
            .share: ["nl": ["delen"], "en": ["share"]],
        ]
        let runner = DialogueRunner(library: DialogueLibrary(graphs: [Self.ring()], intents: intents, defaultGraph: "ring"))
        let now = Date()
        var step = try runner.start(language: "nl", now: now)
        let answers = ["Meer rust in de klas bij de start van de les", "een 7", "de les"]
        var histogram = Histogram<UInt64>(highestTrackableValue: 1_000_000_000)
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<self.steps {
            let before = clock.now
            step = runner.advance(step.state, input: answers[index % answers.count], now: now)
            let elapsed = clock.now - before
            histogram.record(UInt64(elapsed.components.attoseconds / 1_000_000_000))
        }
        let total = clock.now - start
        let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
        print("Dialogue runner, 200-node ring graph, \(self.steps) steps")
        print("| steps/s | mean | p50 | p99 | p99.9 |")
        print("|---:|---:|---:|---:|---:|")
        let micro: (UInt64) -> String = { String(format: "%.1f µs", Double($0) / 1000) }
        print("| \(String(format: "%.0f", Double(self.steps) / seconds)) | \(String(format: "%.1f µs", histogram.mean / 1000)) | "
              + "\(micro(histogram.valueAtPercentile(50))) | \(micro(histogram.valueAtPercentile(99))) | \(micro(histogram.valueAtPercentile(99.9))) |")
        print("(final node: \(step.state.position?.node ?? "-"), answers kept: \(step.state.answers.count))")
        print("")
    }

    private func measureLoadAndLint() throws {
        let directory = self.prompts ?? (FileManager.default.fileExists(atPath: "Prompts") ? "Prompts" : "Tests/SpiegelDialogueTests/Fixtures/Prompts")
        var loads: [Double] = []
        var lints: [Double] = []
        var library: DialogueLibrary?
        var findings = 0
        let clock = ContinuousClock()
        for _ in 0..<self.rounds {
            let start = clock.now
            let loaded = try DialogueLoader.loadLibrary(directory: directory)
            let loadedAt = clock.now
            findings = DialogueLinter.lint(loaded).count
            let end = clock.now
            loads.append(Self.milliseconds(loadedAt - start))
            lints.append(Self.milliseconds(end - loadedAt))
            library = loaded
        }
        let nodes = library?.graphs.values.reduce(0) { $0 + $1.nodes.count } ?? 0
        print("Load and lint \(directory): \(library?.graphs.count ?? 0) graphs, \(nodes) nodes, \(findings) findings, median of \(self.rounds)")
        print("| load | lint | together |")
        print("|---:|---:|---:|")
        let together = zip(loads, lints).map { $0 + $1 }
        print(String(format: "| %.2f ms | %.2f ms | %.2f ms |", loads.median, lints.median, together.median))
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
