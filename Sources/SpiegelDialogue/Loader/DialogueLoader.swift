import Foundation
import SpiegelUnderstanding
import Yams

/// Reads Prompts files: dialogue graphs, and `global.yaml` with the intents, shared messages and
/// resistance cues.
public enum DialogueLoader {
    /// The file of a Prompts directory that holds what all graphs share.
    public static let globalFile = "global.yaml"
    /// The file of a Prompts directory that holds the resistance lexicon.
    public static let resistanceFile = "resistance.yaml"
    /// The folder of a Prompts directory with the labelled examples the screener learns from.
    public static let understandingFolder = "understanding"

    /// Loads every `*.yaml` file of `directory`.
    /// - Throws: ``DialogueLoadFailure`` with every error found, file by file.
    public static func loadLibrary(directory: String) throws(DialogueLoadFailure) -> DialogueLibrary {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        } catch {
            let location = SourceLocation(file: directory, line: 1, column: 1)
            throw DialogueLoadFailure(errors: [DialogueLoadError(.unreadable, at: location, "cannot list the Prompts directory; check that it exists")])
        }
        var files: [(path: String, text: String)] = []
        var errors: [DialogueLoadError] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                errors.append(DialogueLoadError(.unreadable, at: SourceLocation(file: path, line: 1, column: 1), "cannot read the file as UTF-8 text"))
                continue
            }
            files.append((path, text))
        }
        // The labelled examples: `understanding/*.tsv`, when there is such a folder.
        let examples = (directory as NSString).appendingPathComponent(self.understandingFolder)
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: examples)) ?? []).filter({ $0.hasSuffix(".tsv") }).sorted() {
            let path = (examples as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                errors.append(DialogueLoadError(.unreadable, at: SourceLocation(file: path, line: 1, column: 1), "cannot read the file as UTF-8 text"))
                continue
            }
            files.append((path, text))
        }
        do {
            return try self.loadLibrary(files: files)
        } catch {
            throw DialogueLoadFailure(errors: errors + error.errors)
        }
    }

    /// Loads a library from file texts; the file named ``globalFile`` holds what graphs share,
    /// `*.tsv` files hold labelled examples, the screener is trained on them.
    public static func loadLibrary(files: [(path: String, text: String)]) throws(DialogueLoadFailure) -> DialogueLibrary {
        var graphs: [DialogueGraph] = []
        var library = DialogueLibrary(graphs: [])
        var errors: [DialogueLoadError] = []
        for (path, text) in files {
            do {
                let name = (path as NSString).lastPathComponent
                if name.hasSuffix(".tsv") {
                    do {
                        library.understanding += try LabelledExample.parse(text, source: path)
                    } catch {
                        errors.append(DialogueLoadError(.invalidValue, at: SourceLocation(file: path, line: error.line, column: 1), error.message))
                    }
                } else if name == self.globalFile {
                    try self.readGlobal(text, file: path, into: &library)
                } else if name == self.resistanceFile {
                    let reader = YAMLReader(file: path)
                    library.resistance = try self.readResistance(try self.compose(text, reader: reader), reader: reader)
                } else {
                    let graph = try self.loadGraph(text, file: path)
                    if let other = graphs.first(where: { $0.id == graph.id }) {
                        errors.append(DialogueLoadError(
                            .duplicate, at: graph.location ?? SourceLocation(file: path, line: 1, column: 1),
                            "graph id `\(graph.id)` is also used by \(other.location?.file ?? "another file"); give each graph its own id"
                        ))
                        continue
                    }
                    graphs.append(graph)
                }
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw DialogueLoadFailure(errors: errors) }
        library.graphs = Dictionary(graphs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        library.defaultGraph = library.defaultGraph ?? graphs.first?.id
        library.screener = Screener.trained(on: library.understanding)
        return library
    }

    /// Parses one graph file.
    /// - Throws: ``DialogueLoadError`` at the first mistake, with file, line and column.
    public static func loadGraph(_ text: String, file: String) throws(DialogueLoadError) -> DialogueGraph {
        let reader = YAMLReader(file: file)
        let root = try self.compose(text, reader: reader)
        let top = try reader.entries(root, allowed: ["id", "title", "languages", "start", "resume", "facts", "resistance", "count_heard", "nodes"], in: "graph")
        for required in ["id", "languages", "start", "nodes"] where top[required] == nil {
            throw reader.error(.missingKey, at: root, "graph: missing `\(required)`; a graph needs id, languages, start and nodes")
        }
        let languages = try reader.stringList(top["languages"]!, "languages")
        let id = try reader.identifier(top["id"]!, "id")
        let title = try top["title"].map { node throws(DialogueLoadError) in try reader.localized(node, languages: languages, "title") }
        guard let nodesNode = top["nodes"], let mapping = nodesNode.mapping, !mapping.isEmpty else {
            throw reader.error(.invalidValue, at: top["nodes"]!, "nodes: expected a mapping of node ids to nodes")
        }
        var nodes: [DialogueNode] = []
        for (key, value) in mapping {
            let nodeID = try reader.identifier(key, "node id")
            nodes.append(try NodeReader(reader: reader, languages: languages, id: nodeID).read(value, key: key))
        }
        return DialogueGraph(
            id: id,
            title: title ?? LocalizedText(Dictionary(languages.map { ($0, id) }, uniquingKeysWith: { first, _ in first })),
            languages: languages,
            start: try reader.identifier(top["start"]!, "start"),
            resume: try top["resume"].map { node throws(DialogueLoadError) in try reader.identifier(node, "resume") },
            facts: try top["facts"].map { node throws(DialogueLoadError) in try reader.stringList(node, "facts") } ?? [],
            nodes: nodes,
            resistance: try top["resistance"].map { node throws(DialogueLoadError) in try self.resistanceHandling(node, reader: reader) },
            countHeard: try top["count_heard"].map { node throws(DialogueLoadError) in try self.countHeard(node, reader: reader) } ?? [:],
            location: reader.location(of: root)
        )
    }

    /// `count_heard: { krap: [no_time, dont_know] }`
    private static func countHeard(_ node: Node, reader: YAMLReader) throws(DialogueLoadError) -> [String: Set<UtteranceLabel>] {
        guard let mapping = node.mapping else {
            throw reader.error(.invalidValue, at: node, "count_heard: expected counters with the labels that raise them, such as `krap: [no_time, dont_know]`")
        }
        var result: [String: Set<UtteranceLabel>] = [:]
        for (key, value) in mapping {
            let counter = try reader.identifier(key, "count_heard")
            var labels: Set<UtteranceLabel> = []
            for name in try reader.stringList(value, "count_heard.\(counter)") {
                guard let label = UtteranceLabel(rawValue: name) else {
                    let known = UtteranceLabel.all.map(\.rawValue).joined(separator: ", ")
                    throw reader.error(.invalidValue, at: value, "count_heard.\(counter): there is no label `\(name)`; the labels are \(known)")
                }
                labels.insert(label)
            }
            result[counter] = labels
        }
        return result
    }

    /// `resistance: { call: weerstand, store: weerstand, increment: [vast] }`
    private static func resistanceHandling(_ node: Node, reader: YAMLReader) throws(DialogueLoadError) -> ResistanceHandling {
        let entries = try reader.entries(node, allowed: ["call", "store", "increment"], in: "resistance")
        guard let call = entries["call"], let store = entries["store"] else {
            throw reader.error(.missingKey, at: node, "resistance: needs `call` (the graph that answers resistance) and `store` (where the type A, B or C goes)")
        }
        return ResistanceHandling(
            graph: try reader.identifier(call, "resistance.call"),
            store: try reader.identifier(store, "resistance.store"),
            increments: try entries["increment"].map { node throws(DialogueLoadError) in try reader.stringList(node, "resistance.increment") } ?? []
        )
    }

    static func compose(_ text: String, reader: YAMLReader) throws(DialogueLoadError) -> Node {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let message = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
                throw DialogueLoadError(.syntax, at: SourceLocation(file: reader.file, line: mark.line, column: mark.column), "not valid YAML: \(message)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                throw DialogueLoadError(
                    .duplicate, at: SourceLocation(file: reader.file, line: context.mark.line, column: context.mark.column),
                    "`\(duplicates.joined(separator: "`, `"))` given twice in one mapping; node ids and keys must be unique"
                )
            default:
                throw DialogueLoadError(.syntax, at: SourceLocation(file: reader.file, line: 1, column: 1), "not valid YAML")
            }
        } catch {
            throw DialogueLoadError(.syntax, at: SourceLocation(file: reader.file, line: 1, column: 1), "not valid YAML")
        }
        guard let root else {
            throw DialogueLoadError(.missingKey, at: SourceLocation(file: reader.file, line: 1, column: 1), "the file is empty; expected a graph with id, languages, start and nodes")
        }
        return root
    }

    private static func readGlobal(_ text: String, file: String, into library: inout DialogueLibrary) throws(DialogueLoadError) {
        let reader = YAMLReader(file: file)
        let root = try self.compose(text, reader: reader)
        let top = try reader.entries(root, allowed: ["default_graph", "languages", "intents", "messages", "flows", "commands", "service", "resistance"], in: "global")
        let languages = try top["languages"].map { node throws(DialogueLoadError) in try reader.stringList(node, "languages") } ?? ["nl", "en"]
        library.location = reader.location(of: root)
        library.defaultGraph = try top["default_graph"].map { node throws(DialogueLoadError) in try reader.identifier(node, "default_graph") }
        if let intents = top["intents"] {
            let entries = try reader.entries(intents, allowed: GlobalIntent.allCases.map(\.rawValue), in: "intents")
            for key in entries.keys {
                library.intents[GlobalIntent(rawValue: key)!] = try self.phrasesPerLanguage(entries[key]!, reader: reader, "intents.\(key)")
            }
        }
        if let messages = top["messages"] {
            let entries = try reader.entries(messages, allowed: SharedMessage.allCases.map(\.rawValue), in: "messages")
            for key in entries.keys {
                library.messages[SharedMessage(rawValue: key)!] = try reader.localized(entries[key]!, languages: languages, "messages.\(key)")
            }
        }
        for (name, table) in try self.namedPhrases(top["flows"], reader: reader, "flows", example: "voorgesprek: { nl: [voorgesprek] }") {
            library.flows[name] = table.phrases
            library.flowLocations[name] = table.location
        }
        for (name, table) in try self.namedPhrases(top["commands"], reader: reader, "commands", example: "progress: { nl: [mijn voortgang] }") {
            library.commands[name] = table.phrases
        }
        if let service = top["service"] {
            guard let mapping = service.mapping else {
                throw reader.error(.invalidValue, at: service, "service: expected the service's lines by key, each with a text per language")
            }
            for (key, value) in mapping {
                let name = try reader.identifier(key, "service")
                library.serviceMessages[name] = try reader.localized(value, languages: languages, "service.\(name)")
            }
        }
        if let resistance = top["resistance"] {
            library.resistance = try self.readResistance(resistance, reader: reader)
        }
    }

    /// A mapping of names to phrases per language (`flows:`, `commands:`), with where each name is.
    private static func namedPhrases(
        _ node: Node?, reader: YAMLReader, _ context: String, example: String
    ) throws(DialogueLoadError) -> [(String, (phrases: [String: [String]], location: SourceLocation))] {
        guard let node else { return [] }
        guard let mapping = node.mapping else {
            throw reader.error(.invalidValue, at: node, "\(context): expected phrases per name, such as `\(example)`")
        }
        var result: [(String, (phrases: [String: [String]], location: SourceLocation))] = []
        for (key, value) in mapping {
            let name = try reader.identifier(key, context)
            result.append((name, (try self.phrasesPerLanguage(value, reader: reader, "\(context).\(name)"), reader.location(of: key))))
        }
        return result
    }

    /// `threshold`, `negations` and, per type A, B, C, phrases per language plus `strong` phrases.
    private static func readResistance(_ node: Node, reader: YAMLReader) throws(DialogueLoadError) -> ResistanceLexicon {
        let entries = try reader.entries(node, allowed: ["threshold", "negations", "A", "B", "C"], in: "resistance")
        var lexicon = ResistanceLexicon()
        if let threshold = entries["threshold"] {
            guard let value = threshold.scalar.flatMap({ Double($0.string) }), (0...1).contains(value) else {
                throw reader.error(.invalidValue, at: threshold, "resistance.threshold: expected a number from 0 to 1")
            }
            lexicon.threshold = value
        }
        if let negations = entries["negations"] {
            lexicon.negations = try reader.stringList(negations, "resistance.negations")
        }
        for key in ["A", "B", "C"] {
            guard let typeNode = entries[key], let mapping = typeNode.mapping else {
                if let typeNode = entries[key] {
                    throw reader.error(.invalidValue, at: typeNode, "resistance.\(key): expected phrases per language, such as `nl: [snap het niet]`, and `strong:`")
                }
                continue
            }
            let type = Resistance(rawValue: key)!
            var cues: [String: [String]] = [:]
            for (languageNode, value) in mapping {
                let language = languageNode.scalar?.string ?? ""
                if language == "strong" {
                    lexicon.strongCues[type] = try self.phrasesPerLanguage(value, reader: reader, "resistance.\(key).strong")
                } else {
                    guard language.count == 2 else {
                        throw reader.error(.invalidValue, at: languageNode, "resistance.\(key): expected a two-letter language code or `strong`")
                    }
                    cues[language] = try reader.stringList(value, "resistance.\(key).\(language)")
                }
            }
            lexicon.cues[type] = cues
        }
        return lexicon
    }

    private static func phrasesPerLanguage(_ node: Node, reader: YAMLReader, _ context: String) throws(DialogueLoadError) -> [String: [String]] {
        guard let mapping = node.mapping else {
            throw reader.error(.invalidValue, at: node, "\(context): expected phrases per language, such as `nl: [stop, pauze]`")
        }
        var result: [String: [String]] = [:]
        for (key, value) in mapping {
            guard let language = key.scalar?.string, language.count == 2 else {
                throw reader.error(.invalidValue, at: key, "\(context): expected a two-letter language code")
            }
            result[language] = try reader.stringList(value, "\(context).\(language)")
        }
        return result
    }
}
