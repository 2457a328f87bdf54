import ArgumentParser
import Foundation
import SpiegelApp
import SpiegelDialogue
import SpiegelUnderstanding

/// `spiegel prompts`: check, draw and test the dialogue graphs.
struct PromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Check, draw and test the dialogue graphs in the Prompts directory.",
        subcommands: [Lint.self, Graph.self, Test.self, Record.self, Screen.self, Classify.self, Evaluate.self]
    )

    /// Loads the library at `path`, or prints every load error and exits 1.
    static func load(_ path: String) throws -> DialogueLibrary {
        do {
            return try DialogueLoader.loadLibrary(directory: path)
        } catch {
            for loadError in error.errors { printToStandardError("\(loadError.location): error: \(loadError.message) [load]") }
            throw ExitCode.failure
        }
    }

    static func directory(_ path: String?, _ options: GlobalOptions) throws -> String {
        if let path { return path }
        return try options.loadConfiguration().configuration.promptsDirectory
    }

    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report broken links, unreachable nodes, dead ends, loops, unknown names, missing translations, and NIVEA slips. Exit 1 on errors."
        )

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The Prompts directory. Default: prompts_dir from the configuration (./Prompts).")
        var path: String?

        func run() throws {
            let library = try PromptsCommand.load(try PromptsCommand.directory(self.path, self.options))
            let findings = DialogueLinter.lint(library)
            let errors = findings.filter { $0.severity == .error }
            let warnings = findings.filter { $0.severity == .warning }
            for finding in errors { print(finding) }
            for finding in warnings { print(finding) }
            print("\(library.graphs.count) graphs: \(errors.count) errors, \(warnings.count) warnings")
            if !errors.isEmpty { throw ExitCode.failure }
        }
    }

    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a graph as Graphviz DOT or Mermaid.")

        @OptionGroup var source: PromptsSource

        @Argument(help: "The graph's id.")
        var id: String

        @Option(help: "dot or mermaid.")
        var format: String = "dot"

        @Option(help: "The language of the captions.")
        var language: String = "nl"


        func validate() throws {
            guard GraphDrawing.Format(rawValue: self.format) != nil else {
                throw ValidationError("--format must be dot or mermaid")
            }
        }

        func run() throws {
            let library = try self.source.library()
            guard let graph = library.graphs[self.id] else {
                printToStandardError("spiegel: no graph `\(self.id)`; there are: \(library.graphs.keys.sorted().joined(separator: ", "))")
                throw ExitCode.failure
            }
            print(GraphDrawing.draw(graph, format: GraphDrawing.Format(rawValue: self.format)!, language: self.language), terminator: "")
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay conversation scripts (`> teacher`, `< bot`, `<~ part of bot`) against the graphs; report the first difference of each."
        )

        @OptionGroup var source: PromptsSource

        @Argument(help: "The scripts directory. Default: conversations/ in the Prompts directory.")
        var path: String?


        func run() throws {
            let promptsDirectory = try self.source.directory()
            let library = try PromptsCommand.load(promptsDirectory)
            let scripts = self.path ?? (promptsDirectory as NSString).appendingPathComponent("conversations")
            let result: (count: Int, failures: [ConversationFailure])
            do {
                result = try ConversationScript.replayAll(in: scripts, with: DialogueRunner(library: library))
            } catch {
                printToStandardError("spiegel: \(error)")
                throw ExitCode.failure
            }
            for failure in result.failures { print(failure) }
            print("conversations: \(result.count - result.failures.count) passed, \(result.failures.count) failed")
            if !result.failures.isEmpty || result.count == 0 { throw ExitCode.failure }
        }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a script's teacher lines (`>`) through the graphs and print the whole conversation, to read and keep as a golden transcript."
        )

        @OptionGroup var source: PromptsSource

        @Argument(help: "The script to record.")
        var script: String


        func run() throws {
            let library = try self.source.library()
            guard let data = FileManager.default.contents(atPath: self.script), let text = String(data: data, encoding: .utf8) else {
                printToStandardError("spiegel: cannot read \(self.script) as UTF-8 text")
                throw ExitCode.failure
            }
            do {
                print(try ConversationScript(text, file: self.script).record(with: DialogueRunner(library: library)), terminator: "")
            } catch {
                printToStandardError("spiegel: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Screen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read one message per line on standard input; print per line the labels that apply (comma-separated, or none), a tab and the confidence."
        )

        @OptionGroup var source: PromptsSource

        func run() throws {
            let screener = try self.source.library().screener
            while let line = readLine() {
                let screening = screener.screen(line)
                let labels = screening.labels.sorted()
                // The confidence: of the weakest label given, or that no label applies.
                let confidence = labels.isEmpty
                    ? 1 - (screening.scores.values.max() ?? 0)
                    : labels.map { screening.score($0) }.min() ?? 0
                print("\(labels.isEmpty ? "none" : labels.map(\.rawValue).joined(separator: ","))\t\(String(format: "%.2f", confidence))")
            }
        }
    }

    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read one utterance per line on standard input; print per line the resistance type (A, B, C or none), a tab and the confidence."
        )

        @OptionGroup var source: PromptsSource

        func run() throws {
            let library = try self.source.library()
            guard !library.understanding.isEmpty else {
                // No examples: the lexicon of resistance.yaml, as `diagnose` uses then.
                let classifier = ResistanceClassifier(lexicon: library.resistance)
                while let line = readLine() {
                    let result = classifier.classify(line)
                    print("\(result.type.rawValue)\t\(String(format: "%.2f", result.confidence))")
                }
                return
            }
            let screener = library.screener
            while let line = readLine() {
                let screening = screener.screen(line)
                let resistance = UtteranceLabel.resistance.filter(screening.contains).max { screening.score($0) < screening.score($1) }
                let confidence = resistance.map { screening.score($0) } ?? 1 - (screening.resistance?.confidence ?? 0)
                print("\(resistance?.rawValue ?? "none")\t\(String(format: "%.2f", confidence))")
            }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How well the screener recognises messages: k-fold cross-validation on the examples in Prompts/understanding/, and the figures on a held-out file.",
            discussion: "Per label precision, recall and F1, the macro F1 and a confusion table. With --require-macro-f1 and --require-distress-recall the command fails (exit 1) when the held-out figures are below them."
        )

        @OptionGroup var source: PromptsSource

        @Option(help: "Labelled messages never trained on, in the format of Prompts/understanding/*.tsv.")
        var heldOut: String?

        @Option(help: "Folds of the cross-validation on the training examples (0: none).")
        var folds = 5

        @Option(help: "Fail when the held-out macro F1 is below this.")
        var requireMacroF1: Double?

        @Option(help: "Fail when the held-out share of distress messages that get the care flow or the question “Gaat het wel met je?” is below this.")
        var requireDistressRecall: Double?

        @Option(help: ArgumentHelp("Cross-validate other settings: epochs,learning-rate,l2,boost,threshold,distress-threshold,character-weight,distress-unsure (for whoever tunes the model).", visibility: .hidden))
        var trySettings: String?

        func run() throws {
            let library = try self.source.library()
            let screener = library.screener
            print("Trained on \(library.understanding.count) examples; \(screener.model.size.features) features.")
            if let trySettings {
                let values = trySettings.split(separator: ",").compactMap { Double($0) }
                guard values.count == 8 else { throw ValidationError("--try-settings needs eight numbers") }
                var training = LinearModel.Configuration()
                training.epochs = Int(values[0])
                training.learningRate = Float(values[1])
                training.l2 = Float(values[2])
                training.positiveBoost = Float(values[3])
                training.characterWeight = Float(values[6])
                var thresholds = Screener.Thresholds()
                thresholds.standard = values[4]
                thresholds.perLabel[.distress] = values[5]
                thresholds.distressUnsure = values[7]
                var heldOutFigures = ""
                if let heldOut, let text = try? String(contentsOfFile: heldOut, encoding: .utf8), let examples = try? LabelledExample.parse(text, source: heldOut) {
                    // Reported beside the cross-validation, never chosen by.
                    let figures = Evaluation.of(Screener(examples: library.understanding, thresholds: thresholds, training: training), on: examples)
                    heldOutFigures = "; held out: macro F1 \(String(format: "%.3f", figures.macroF1)), distress caught \(String(format: "%.3f", figures.distressCaughtRecall))"
                }
                let evaluation = Evaluation.crossValidation(of: library.understanding, folds: self.folds, thresholds: thresholds, training: training)
                defer { if !heldOutFigures.isEmpty { print(heldOutFigures) } }
                print("\(trySettings): macro F1 \(String(format: "%.3f", evaluation.macroF1)), distress recall \(String(format: "%.3f", evaluation.figures(of: .distress).recall)), precision \(String(format: "%.3f", evaluation.figures(of: .distress).precision)), caught \(String(format: "%.3f", evaluation.distressCaughtRecall)), asked without \(evaluation.distressAsked.asked)/\(evaluation.distressAsked.of)")
                return
            }
            if self.folds > 1 {
                print(Evaluation.crossValidation(of: library.understanding, folds: self.folds, thresholds: screener.thresholds).report(title: "\(self.folds)-fold cross-validation on the training examples"))
                print("")
            }
            guard let heldOut else { return }
            let examples: [LabelledExample]
            do {
                let text = try String(contentsOfFile: heldOut, encoding: .utf8)
                examples = try LabelledExample.parse(text, source: heldOut)
            } catch let error as ExampleError {
                printToStandardError("spiegel: \(error)")
                throw ExitCode.failure
            } catch {
                printToStandardError("spiegel: cannot read \(heldOut)")
                throw ExitCode.failure
            }
            let evaluation = Evaluation.of(screener, on: examples)
            print(evaluation.report(title: "Held out (\(heldOut))"))
            // The resistance lexicon this screener replaced, on the same messages, for A, B and C.
            let lexicon = ResistanceClassifier(lexicon: library.resistance)
            var baseline = Evaluation()
            for example in examples {
                let type = lexicon.classify(example.text).type
                let given: Set<UtteranceLabel> = type == .none ? [] : [UtteranceLabel(rawValue: type.rawValue)].compactMap { $0 }.reduce(into: []) { $0.insert($1) }
                baseline.add(truth: example.labels.intersection(UtteranceLabel.resistance), given: given)
            }
            let resistanceF1 = UtteranceLabel.resistance.map { evaluation.figures(of: $0).f1 }.reduce(0, +) / 3
            let lexiconF1 = UtteranceLabel.resistance.map { baseline.figures(of: $0).f1 }.reduce(0, +) / 3
            print("")
            print("Resistance (A, B, C) macro F1 on the held-out messages: screener \(String(format: "%.2f", resistanceF1)), the old lexicon of resistance.yaml \(String(format: "%.2f", lexiconF1))")
            var failed = false
            if let required = self.requireMacroF1, evaluation.macroF1 < required {
                printToStandardError("spiegel: held-out macro F1 \(String(format: "%.3f", evaluation.macroF1)) is below \(required)")
                failed = true
            }
            if let required = self.requireDistressRecall, evaluation.distressCaughtRecall < required {
                printToStandardError("spiegel: held-out distress caught \(String(format: "%.3f", evaluation.distressCaughtRecall)) is below \(required)")
                failed = true
            }
            if failed { throw ExitCode.failure }
        }
    }
}

/// Where a `prompts` command finds the Prompts: `--prompts`, else `prompts_dir` of the configuration.
struct PromptsSource: ParsableArguments {
    @OptionGroup var options: GlobalOptions

    @Option(help: "The Prompts directory. Default: prompts_dir from the configuration (./Prompts).")
    var prompts: String?

    func directory() throws -> String {
        try PromptsCommand.directory(self.prompts, self.options)
    }

    /// The library in ``directory()``, or every load error printed and exit 1.
    func library() throws -> DialogueLibrary {
        try PromptsCommand.load(try self.directory())
    }
}
