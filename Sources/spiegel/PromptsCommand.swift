import ArgumentParser
import Foundation
import SpiegelApp
import SpiegelDialogue

/// `spiegel prompts`: check, draw and test the dialogue graphs.
struct PromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Check, draw and test the dialogue graphs in the Prompts directory.",
        subcommands: [Lint.self, Graph.self, Test.self, Record.self, Classify.self]
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

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The graph's id.")
        var id: String

        @Option(help: "dot or mermaid.")
        var format: String = "dot"

        @Option(help: "The language of the captions.")
        var language: String = "nl"

        @Option(help: "The Prompts directory. Default: prompts_dir from the configuration (./Prompts).")
        var prompts: String?

        func validate() throws {
            guard GraphDrawing.Format(rawValue: self.format) != nil else {
                throw ValidationError("--format must be dot or mermaid")
            }
        }

        func run() throws {
            let library = try PromptsCommand.load(try PromptsCommand.directory(self.prompts, self.options))
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

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The scripts directory. Default: conversations/ in the Prompts directory.")
        var path: String?

        @Option(help: "The Prompts directory. Default: prompts_dir from the configuration (./Prompts).")
        var prompts: String?

        func run() throws {
            let promptsDirectory = try PromptsCommand.directory(self.prompts, self.options)
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

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The script to record.")
        var script: String

        @Option(help: "The Prompts directory. Default: prompts_dir from the configuration (./Prompts).")
        var prompts: String?

        func run() throws {
            let library = try PromptsCommand.load(try PromptsCommand.directory(self.prompts, self.options))
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

    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read one utterance per line on standard input; print per line the resistance type (A, B, C or none), a tab and the confidence."
        )

        @OptionGroup var options: GlobalOptions

        @Option(help: "The Prompts directory. Default: prompts_dir from the configuration (./Prompts).")
        var prompts: String?

        func run() throws {
            let library = try PromptsCommand.load(try PromptsCommand.directory(self.prompts, self.options))
            let classifier = ResistanceClassifier(lexicon: library.resistance)
            while let line = readLine() {
                let result = classifier.classify(line)
                print("\(result.type.rawValue)\t\(String(format: "%.2f", result.confidence))")
            }
        }
    }
}
