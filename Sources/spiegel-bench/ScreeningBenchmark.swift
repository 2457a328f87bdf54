import ArgumentParser
import Foundation
import Histogram
import SpiegelDialogue
import SpiegelUnderstanding

/// `spiegel-bench screening`: how long the screener takes per message (all labels at once), how
/// long it takes to learn from the examples of `Prompts/understanding/`, and how big it is.
struct ScreeningBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "screening",
        abstract: "Screening time per message (p50, p99), training time and the model's size, on the examples in Prompts/understanding/."
    )

    @Option(help: "The Prompts directory.")
    var prompts = "Prompts"

    @Option(help: "Messages to screen (the examples, over and over).")
    var messages = 100_000

    @Option(help: "Training runs; the median is reported.")
    var rounds = 5

    func run() throws {
        let library = try DialogueLoader.loadLibrary(directory: self.prompts)
        let examples = library.understanding
        guard !examples.isEmpty else { throw ValidationError("no examples in \(self.prompts)/understanding") }
        var trainings: [Double] = []
        var screener = Screener.empty
        for _ in 0..<self.rounds {
            let start = ContinuousClock.now
            screener = Screener(examples: examples)
            trainings.append((ContinuousClock.now - start) / .milliseconds(1))
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 1_000_000_000)
        var labelled = 0
        for index in 0..<self.messages {
            let text = examples[index % examples.count].text
            let start = ContinuousClock.now
            let screening = screener.screen(text)
            let elapsed = ContinuousClock.now - start
            histogram.record(UInt64(elapsed / .nanoseconds(1)))
            labelled += screening.labels.isEmpty ? 0 : 1
        }
        let size = screener.model.size
        print("Screening: \(examples.count) examples, \(size.features) features, \(UtteranceLabel.all.count) labels; weights and index \(size.bytes / 1024) KiB")
        print(String(format: "Training: median %.0f ms of %d runs", trainings.median, self.rounds))
        print(String(format: "Screen one message, all labels: p50 %.1f µs, p99 %.1f µs, max %.1f µs (%d messages, %d with a label)",
                     Double(histogram.valueAtPercentile(50)) / 1000, Double(histogram.valueAtPercentile(99)) / 1000,
                     Double(histogram.max) / 1000, self.messages, labelled))
    }
}
