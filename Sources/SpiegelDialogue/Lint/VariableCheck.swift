import SpiegelUnderstanding
/// Names read (in conditions, `{placeholders}`, `diagnose` and `summary`) before any path from the
/// start stores them.
///
/// A forward "may be set" analysis: a name is set at a node when some path from the start to it
/// stores the name, raises it as a counter, or it is a declared fact. A called graph starts with
/// what may be set at any of its call sites, and what it may have set when it ends is set after
/// the call.
enum VariableCheck {
    static func check(_ library: DialogueLibrary) -> [LintFinding] {
        var seeds: [String: Set<String>] = [:]
        var exports: [String: Set<String>] = [:]
        var setAt: [String: [String: Set<String>]] = [:]
        // Calls pass names down and back up; a few rounds settle any realistic nesting.
        for _ in 0..<6 {
            var next: [String: Set<String>] = [:]
            var nextExports: [String: Set<String>] = [:]
            for graph in library.graphs.values {
                let result = self.analyse(graph, seed: seeds[graph.id, default: []].union(graph.facts).union(graph.countHeard.keys), exports: exports)
                setAt[graph.id] = result
                if let handling = graph.resistance {
                    // Called after any open question: it sees what may be set there, and the type.
                    for (id, node) in graph.nodes where node.isOpenQuestion {
                        next[handling.graph, default: []].formUnion(result[id] ?? [])
                    }
                    next[handling.graph, default: []].formUnion([handling.store] + handling.increments)
                }
                for (id, node) in graph.nodes {
                    switch node.kind {
                    case .call(let callee, _): next[callee, default: []].formUnion(result[id] ?? [])
                    case .end: nextExports[graph.id, default: []].formUnion(result[id] ?? [])
                    default: break
                    }
                }
            }
            if next == seeds && nextExports == exports { break }
            seeds = next
            exports = nextExports
        }
        var findings: [LintFinding] = []
        for graph in library.graphs.values.sorted(by: { $0.id < $1.id }) {
            for id in graph.nodeOrder {
                guard let node = graph.nodes[id], let available = setAt[graph.id]?[id] else { continue }
                for name in self.reads(node) where !available.contains(name) {
                    if name.hasPrefix(DialogueStep.whenPrefix), available.contains(String(name.dropFirst(DialogueStep.whenPrefix.count))) {
                        // Whether that answer says when: there once the answer is.
                        continue
                    }
                    if name.hasPrefix(DialogueStep.heardPrefix) {
                        // What the message was recognised as: always there, but only for known labels.
                        let label = name.dropFirst(DialogueStep.heardPrefix.count)
                        if UtteranceLabel(rawValue: String(label)) == nil {
                            let known = UtteranceLabel.all.map(\.rawValue).joined(separator: ", ")
                            findings.append(.init(.error, .undefinedVariable, at: node.location, "node `\(id)` uses `\(name)`, but there is no label `\(label)`; the labels are \(known)"))
                        }
                        continue
                    }
                    findings.append(.init(.error, .undefinedVariable, at: node.location,
                                          "node `\(id)` uses `\(name)`, which no path from `\(graph.start)` stores first (declare facts from earlier sessions under `facts`)"))
                }
            }
        }
        return findings
    }

    /// The names that may be set on entering each reachable node.
    private static func analyse(_ graph: DialogueGraph, seed: Set<String>, exports: [String: Set<String>]) -> [String: Set<String>] {
        var setOnEntry: [String: Set<String>] = [:]
        var queue = [graph.start, graph.resume].filter { graph.nodes[$0] != nil }
        for root in queue { setOnEntry[root] = seed }
        while let id = queue.popLast() {
            guard let node = graph.nodes[id] else { continue }
            var leaving = setOnEntry[id] ?? seed
            if let stored = node.storedVariable { leaving.insert(stored) }
            leaving.formUnion(node.increments)
            if case .call(let callee, _) = node.kind { leaving.formUnion(exports[callee] ?? []) }
            for target in node.edges.map(\.target) where graph.nodes[target] != nil {
                let before = setOnEntry[target]
                let after = (before ?? []).union(leaving)
                if before != after {
                    setOnEntry[target] = after
                    queue.append(target)
                }
            }
        }
        return setOnEntry
    }

    /// What a node reads.
    static func reads(_ node: DialogueNode) -> [String] {
        var names = node.texts.flatMap { $0.translations.values.flatMap(Interpolation.names(in:)) }
        switch node.kind {
        case .branch(let rules, _): names += rules.flatMap(\.condition.variables)
        case .diagnose(let subject, _, _, _): names.append(subject)
        case .end(_, let summary, _, _): names += summary
        default: break
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
