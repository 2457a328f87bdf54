import SpiegelUnderstanding

/// Checks a library for what would trip a coachee up: broken links, unreachable or dead-end nodes,
/// loops with no way out, names used before anything stores them, missing translations, options
/// that cannot be told apart, and NIVEA slips.
public enum DialogueLinter {
    /// Every finding, errors and warnings, in file order.
    public static func lint(_ library: DialogueLibrary) -> [LintFinding] {
        var findings: [LintFinding] = []
        let graphs = library.graphs.values.sorted { ($0.location?.file ?? $0.id) < ($1.location?.file ?? $1.id) }
        if let id = library.defaultGraph, library.graphs[id] == nil {
            findings.append(.init(.error, .unknownTarget, at: library.location, "default_graph `\(id)` is not a graph"))
        }
        for graph in library.flows.keys.sorted() where library.graphs[graph] == nil {
            findings.append(.init(.error, .unknownTarget, at: library.flowLocations[graph] ?? library.location, "flows: `\(graph)` is not a graph"))
        }
        for graph in graphs {
            findings += self.structure(graph, library)
            findings += self.translations(graph)
            findings += self.options(graph, library)
            findings += NiveaCheck.check(graph)
            findings += self.quotes(graph)
        }
        findings += VariableCheck.check(library)
        findings += self.shared(library)
        findings += self.examples(library)
        return findings
    }

    /// A text that quotes an answer (`“{plan}”`) needs a `neutral` form for when the answer is not fit
    /// to quote; the neutral form itself quotes nothing.
    private static func quotes(_ graph: DialogueGraph) -> [LintFinding] {
        var findings: [LintFinding] = []
        for id in graph.nodeOrder {
            guard let node = graph.nodes[id] else { continue }
            for text in node.texts {
                let quoted = Set(text.translations.values.flatMap(Interpolation.quotedNames(in:)))
                guard !quoted.isEmpty else { continue }
                if text.neutral.isEmpty {
                    let names = quoted.sorted().map { "“{\($0)}”" }.joined(separator: ", ")
                    findings.append(.init(.warning, .quoteWithoutNeutral, at: text.location ?? node.location,
                                          "node `\(id)` quotes \(names) but has no `neutral` form for a long answer, a question or “weet ik niet”"))
                } else if text.neutral.values.contains(where: { !Interpolation.quotedNames(in: $0).isEmpty }) {
                    findings.append(.init(.error, .quoteWithoutNeutral, at: text.location ?? node.location,
                                          "node `\(id)`: the `neutral` form quotes an answer itself; it must read well without the coachee's words"))
                }
            }
        }
        return findings
    }

    /// Fewest labelled examples a label should have before the screener can learn it.
    static let minimumExamples = 100

    /// A label with too few examples in `understanding/` is learned poorly: say which.
    private static func examples(_ library: DialogueLibrary) -> [LintFinding] {
        guard !library.understanding.isEmpty else { return [] }
        var counts: [UtteranceLabel: Int] = [:]
        for example in library.understanding {
            for label in example.labels { counts[label, default: 0] += 1 }
        }
        return UtteranceLabel.all.compactMap { label in
            let count = counts[label] ?? 0
            guard count < Self.minimumExamples else { return nil }
            return .init(.warning, .fewExamples, at: library.location, "understanding/: label `\(label)` has \(count) examples; the screener needs at least \(Self.minimumExamples) to learn it")
        }
    }

    private static func structure(_ graph: DialogueGraph, _ library: DialogueLibrary) -> [LintFinding] {
        var findings: [LintFinding] = []
        for (name, id) in [("start", graph.start), ("resume", graph.resume)] where graph.nodes[id] == nil {
            findings.append(.init(.error, .unknownTarget, at: graph.location, "graph `\(graph.id)`: \(name) `\(id)` is not a node"))
        }
        if let handling = graph.resistance, library.graphs[handling.graph] == nil {
            findings.append(.init(.error, .unknownTarget, at: graph.location, "graph `\(graph.id)`: resistance calls `\(handling.graph)`, which is not a graph"))
        }
        for id in graph.nodeOrder {
            guard let node = graph.nodes[id] else { continue }
            for edge in node.edges where graph.nodes[edge.target] == nil {
                findings.append(.init(.error, .unknownTarget, at: node.location, "node `\(id)` goes to `\(edge.target)`, which is not a node of `\(graph.id)`"))
            }
            switch node.kind {
            case .call(let callee, _) where library.graphs[callee] == nil:
                findings.append(.init(.error, .unknownTarget, at: node.location, "node `\(id)` calls `\(callee)`, which is not a graph"))
            case .end(_, _, let followUp?, _) where library.graphs[followUp.graph] == nil:
                findings.append(.init(.error, .unknownTarget, at: node.location, "node `\(id)` follows up with `\(followUp.graph)`, which is not a graph"))
            default:
                break
            }
            if let problem = self.deadEnd(node) {
                findings.append(.init(.error, .deadEnd, at: node.location, "node `\(id)` \(problem)"))
            }
        }
        let reachable = self.reachable(from: [graph.start, graph.resume], in: graph)
        for id in graph.nodeOrder where !reachable.contains(id) {
            findings.append(.init(.error, .unreachable, at: graph.nodes[id]?.location, "node `\(id)` cannot be reached from `\(graph.start)`"))
        }
        findings += self.cycles(graph)
        return findings
    }

    /// Why the conversation could stop at `node` without an end, or `nil`.
    private static func deadEnd(_ node: DialogueNode) -> String? {
        switch node.kind {
        case .say(_, nil), .ask(_, _, _, _, nil), .call(_, nil):
            return "has no `next`: the conversation would stop there without an end"
        case .branch(_, nil):
            return "has no `otherwise`: when no rule holds, the conversation would stop there"
        case .scale(_, _, let range, let followUps, _, nil):
            let uncovered = range.filter { score in !followUps.contains { $0.range.contains(score) } }
            return uncovered.isEmpty ? nil : "has no `next` for scores \(uncovered.map(String.init).joined(separator: ", "))"
        case .diagnose(_, _, let outcomes, _) where outcomes[.none] == nil && outcomes.count < Resistance.allCases.count:
            return "needs an outcome for every type or for `none`"
        default:
            return nil
        }
    }

    static func reachable(from roots: [String], in graph: DialogueGraph) -> Set<String> {
        var seen = Set<String>()
        var queue = roots.filter { graph.nodes[$0] != nil }
        while let id = queue.popLast() {
            guard seen.insert(id).inserted, let node = graph.nodes[id] else { continue }
            queue += node.edges.map(\.target).filter { graph.nodes[$0] != nil && !seen.contains($0) }
        }
        return seen
    }

    /// Loops a conversation cannot leave, and loops that never ask anything.
    private static func cycles(_ graph: DialogueGraph) -> [LintFinding] {
        var findings: [LintFinding] = []
        for component in StronglyConnected.components(of: graph) {
            let members = Set(component)
            let isCycle = component.count > 1 || graph.nodes[component[0]]?.edges.contains { $0.target == component[0] } == true
            guard isCycle else { continue }
            let first = graph.nodeOrder.first { members.contains($0) } ?? component[0]
            let names = graph.nodeOrder.filter { members.contains($0) }.map { "`\($0)`" }.joined(separator: ", ")
            let leaves = component.contains { id in
                guard let node = graph.nodes[id] else { return true }
                if case .end = node.kind { return true }
                return node.edges.contains { !members.contains($0.target) }
            }
            if !leaves {
                findings.append(.init(.error, .cycleWithoutExit, at: graph.nodes[first]?.location, "nodes \(names) form a loop with no way out"))
            }
            if !component.contains(where: { graph.nodes[$0]?.isQuestion == true }) {
                findings.append(.init(.error, .cycleWithoutQuestion, at: graph.nodes[first]?.location, "nodes \(names) loop without asking anything"))
            }
        }
        return findings
    }

    private static func translations(_ graph: DialogueGraph) -> [LintFinding] {
        var findings: [LintFinding] = []
        var texts: [(String, LocalizedText)] = [("title", graph.title)]
        for id in graph.nodeOrder { texts += (graph.nodes[id]?.texts ?? []).map { ("node `\(id)`", $0) } }
        for (owner, text) in texts {
            let missing = graph.languages.filter { (text.translations[$0] ?? "").isEmpty }
            if !missing.isEmpty {
                findings.append(.init(.error, .missingTranslation, at: text.location ?? graph.location, "\(owner): no text in \(missing.joined(separator: ", "))"))
            }
        }
        return findings
    }

    private static func options(_ graph: DialogueGraph, _ library: DialogueLibrary) -> [LintFinding] {
        var findings: [LintFinding] = []
        let intentPhrases = library.intents.flatMap { intent, phrases in phrases.values.flatMap { $0.map { (intent, TextMatching.normalize($0)) } } }
        for id in graph.nodeOrder {
            guard let node = graph.nodes[id], case .choice(_, _, let options, _) = node.kind else { continue }
            for language in graph.languages {
                let texts = options.map { TextMatching.normalize($0.text.translations[language] ?? "") }
                for i in texts.indices {
                    for j in texts.indices where j > i && !texts[i].isEmpty && (texts[i] == texts[j] || TextMatching.matches(texts[i], phrase: texts[j])) {
                        findings.append(.init(.error, .collidingOptions, at: options[j].text.location, "node `\(id)`: options \(i + 1) and \(j + 1) read alike in \(language); a coachee's answer could not tell them apart"))
                    }
                    if let intent = intentPhrases.first(where: { $0.1 == texts[i] }) {
                        findings.append(.init(.warning, .collidingOptions, at: options[i].text.location, "node `\(id)`: option \(i + 1) is also the phrase of the `\(intent.0.rawValue)` intent, which wins"))
                    }
                }
            }
        }
        return findings
    }

    private static func shared(_ library: DialogueLibrary) -> [LintFinding] {
        let languages = Set(library.graphs.values.flatMap(\.languages))
        var findings: [LintFinding] = []
        for key in SharedMessage.allCases {
            let missing = languages.filter { (library.messages[key]?.translations[$0] ?? "").isEmpty }.sorted()
            if !missing.isEmpty {
                findings.append(.init(.warning, .missingTranslation, at: library.location, "messages.\(key.rawValue): no text in \(missing.joined(separator: ", ")); an English fallback is used"))
            }
        }
        for intent in GlobalIntent.allCases {
            let missing = languages.filter { (library.intents[intent]?[$0] ?? []).isEmpty }.sorted()
            if !missing.isEmpty {
                findings.append(.init(.warning, .missingTranslation, at: library.location, "intents.\(intent.rawValue): no phrases in \(missing.joined(separator: ", "))"))
            }
        }
        return findings
    }
}

/// Tarjan's strongly connected components over a graph's nodes.
enum StronglyConnected {
    static func components(of graph: DialogueGraph) -> [[String]] {
        var index = 0
        var indices: [String: Int] = [:]
        var lowLinks: [String: Int] = [:]
        var onStack = Set<String>()
        var stack: [String] = []
        var result: [[String]] = []

        func visit(_ id: String) {
            indices[id] = index
            lowLinks[id] = index
            index += 1
            stack.append(id)
            onStack.insert(id)
            for target in graph.nodes[id]?.edges.map(\.target) ?? [] where graph.nodes[target] != nil {
                if indices[target] == nil {
                    visit(target)
                    lowLinks[id] = min(lowLinks[id]!, lowLinks[target]!)
                } else if onStack.contains(target) {
                    lowLinks[id] = min(lowLinks[id]!, indices[target]!)
                }
            }
            if lowLinks[id] == indices[id] {
                var component: [String] = []
                while let member = stack.popLast() {
                    onStack.remove(member)
                    component.append(member)
                    if member == id { break }
                }
                result.append(component)
            }
        }
        for id in graph.nodeOrder where indices[id] == nil { visit(id) }
        return result
    }
}
