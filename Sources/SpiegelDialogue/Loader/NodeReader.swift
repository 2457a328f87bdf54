import Yams

/// Reads one node of a graph file.
struct NodeReader {
    let reader: YAMLReader
    let languages: [String]
    let id: String

    private static let kinds = ["say", "ask", "choice", "scale", "branch", "diagnose", "call", "goto", "end"]
    private static let common = ["help", "rephrase", "advice", "closed", "increment", "label"]
    private static let keysByKind: [String: [String]] = [
        "say": ["next"],
        "ask": ["store", "validate", "max_length", "reask", "next"],
        "choice": ["store", "options", "reask"],
        "scale": ["store", "range", "follow_ups", "reask", "next"],
        "branch": ["otherwise"],
        "diagnose": ["store", "outcomes", "unsure"],
        "call": ["next"],
        "goto": [],
        "end": ["summary", "follow_up", "close"],
    ]

    /// Reads the node `node`, written under `key` (where lint findings about it point).
    func read(_ node: Node, key: Node) throws(DialogueLoadError) -> DialogueNode {
        let context = "node `\(self.id)`"
        guard let mapping = node.mapping else {
            throw self.reader.error(.invalidValue, at: node, "\(context): expected a mapping with one of: \(Self.kinds.joined(separator: ", "))")
        }
        let present = mapping.keys.compactMap(\.scalar?.string).filter { Self.kinds.contains($0) }
        guard present.count == 1, let kind = present.first else {
            let found = present.isEmpty ? "none" : present.joined(separator: " and ")
            throw self.reader.error(.invalidValue, at: node, "\(context): expected exactly one of \(Self.kinds.joined(separator: ", ")); found \(found)")
        }
        let entries = try self.reader.entries(node, allowed: [kind] + Self.keysByKind[kind]! + Self.common, in: context)
        var result = DialogueNode(id: self.id, kind: try self.kind(kind, entries, context), location: self.reader.location(of: key))
        result.help = try entries["help"].map { node throws(DialogueLoadError) in try self.text(node, "\(context).help") }
        result.rephrase = try entries["rephrase"].map { node throws(DialogueLoadError) in try self.text(node, "\(context).rephrase") }
        result.label = try entries["label"].map { node throws(DialogueLoadError) in try self.text(node, "\(context).label") }
        result.isAdvice = try entries["advice"].map { node throws(DialogueLoadError) in try self.reader.bool(node, "\(context).advice") } ?? false
        result.isClosedOnPurpose = try entries["closed"].map { node throws(DialogueLoadError) in try self.reader.bool(node, "\(context).closed") } ?? false
        result.increments = try entries["increment"].map { node throws(DialogueLoadError) in try self.reader.stringList(node, "\(context).increment") } ?? []
        return result
    }

    private func text(_ node: Node, _ context: String) throws(DialogueLoadError) -> LocalizedText {
        try self.reader.localized(node, languages: self.languages, context)
    }

    private func next(_ entries: OrderedEntries, _ context: String, key: String = "next") throws(DialogueLoadError) -> String? {
        try entries[key].map { node throws(DialogueLoadError) in try self.reader.identifier(node, "\(context).\(key)") }
    }

    private func kind(_ kind: String, _ entries: OrderedEntries, _ context: String) throws(DialogueLoadError) -> DialogueNode.Kind {
        let body = entries[kind]!
        switch kind {
        case "say":
            let messages: [LocalizedText]
            if let sequence = body.sequence {
                var list: [LocalizedText] = []
                for item in sequence { list.append(try self.text(item, "\(context).say")) }
                messages = list
            } else {
                messages = [try self.text(body, "\(context).say")]
            }
            return .say(messages: messages, next: try self.next(entries, context))
        case "ask":
            var validation = AnswerValidation()
            if let format = entries["validate"] {
                guard let value = format.scalar.flatMap({ AnswerValidation.Format(rawValue: $0.string) }) else {
                    throw self.reader.error(.invalidValue, at: format, "\(context).validate: expected text, number or date")
                }
                validation.format = value
            }
            if let maxLength = entries["max_length"] { validation.maxLength = try self.reader.integer(maxLength, "\(context).max_length") }
            return .ask(
                question: try self.text(body, "\(context).ask"), store: try self.store(entries, context, required: true)!,
                validation: validation, reask: try self.reask(entries, context), next: try self.next(entries, context)
            )
        case "choice":
            guard let optionsNode = entries["options"], let sequence = optionsNode.sequence, !sequence.isEmpty else {
                throw self.reader.error(.missingKey, at: entries.node, "\(context): a choice needs `options`, a list of texts each with `next`")
            }
            var options: [ChoiceOption] = []
            for option in sequence {
                let optionEntries = try self.reader.entries(option, allowed: self.languages + ["next", "value"], in: "\(context).options")
                guard let next = optionEntries["next"] else {
                    throw self.reader.error(.missingKey, at: option, "\(context).options: each option needs `next`")
                }
                var translations: [String: String] = [:]
                for language in self.languages {
                    if let text = optionEntries[language] { translations[language] = try self.reader.string(text, "\(context).options.\(language)") }
                }
                options.append(ChoiceOption(
                    text: LocalizedText(translations, location: self.reader.location(of: option)),
                    next: try self.reader.identifier(next, "\(context).options.next"),
                    value: try optionEntries["value"].map { node throws(DialogueLoadError) in try self.reader.string(node, "\(context).options.value") }
                ))
            }
            return .choice(question: try self.text(body, "\(context).choice"), store: try self.store(entries, context, required: false),
                           options: options, reask: try self.reask(entries, context))
        case "scale":
            let range = try entries["range"].map { node throws(DialogueLoadError) in try self.reader.range(node, "\(context).range") } ?? 1...10
            var followUps: [ScaleFollowUp] = []
            if let list = entries["follow_ups"] {
                guard let sequence = list.sequence else {
                    throw self.reader.error(.invalidValue, at: list, "\(context).follow_ups: expected a list of `range` and `next`")
                }
                for item in sequence {
                    let itemEntries = try self.reader.entries(item, allowed: ["range", "next"], in: "\(context).follow_ups")
                    guard let rangeNode = itemEntries["range"], let nextNode = itemEntries["next"] else {
                        throw self.reader.error(.missingKey, at: item, "\(context).follow_ups: each needs `range` and `next`")
                    }
                    followUps.append(ScaleFollowUp(range: try self.reader.range(rangeNode, "\(context).follow_ups.range"),
                                                   next: try self.reader.identifier(nextNode, "\(context).follow_ups.next")))
                }
            }
            return .scale(question: try self.text(body, "\(context).scale"), store: try self.store(entries, context, required: true)!,
                          range: range, followUps: followUps, reask: try self.reask(entries, context), next: try self.next(entries, context))
        case "branch":
            guard let sequence = body.sequence else {
                throw self.reader.error(.invalidValue, at: body, "\(context).branch: expected a list of `if` and `next`")
            }
            var rules: [BranchRule] = []
            for item in sequence {
                let itemEntries = try self.reader.entries(item, allowed: ["if", "next"], in: "\(context).branch")
                guard let conditionNode = itemEntries["if"], let nextNode = itemEntries["next"] else {
                    throw self.reader.error(.missingKey, at: item, "\(context).branch: each rule needs `if` and `next`")
                }
                let source = try self.reader.string(conditionNode, "\(context).branch.if")
                let condition: Condition
                do {
                    condition = try Condition(source)
                } catch {
                    var location = self.reader.location(of: conditionNode)
                    let isQuoted = [.singleQuoted, .doubleQuoted].contains(conditionNode.scalar?.style)
                    location.column += error.offset + (isQuoted ? 1 : 0)
                    throw DialogueLoadError(.invalidValue, at: location, "\(context).branch.if: \(error.message)")
                }
                rules.append(BranchRule(condition: condition, next: try self.reader.identifier(nextNode, "\(context).branch.next")))
            }
            return .branch(rules: rules, otherwise: try self.next(entries, context, key: "otherwise"))
        case "diagnose":
            guard let outcomesNode = entries["outcomes"] else {
                throw self.reader.error(.missingKey, at: entries.node, "\(context): a diagnose needs `outcomes` for A, B, C and none")
            }
            let outcomeEntries = try self.reader.entries(outcomesNode, allowed: Resistance.allCases.map(\.rawValue), in: "\(context).outcomes")
            var outcomes: [Resistance: String] = [:]
            for key in outcomeEntries.keys {
                outcomes[Resistance(rawValue: key)!] = try self.reader.identifier(outcomeEntries[key]!, "\(context).outcomes.\(key)")
            }
            return .diagnose(
                subject: try self.reader.identifier(body, "\(context).diagnose"), store: try self.store(entries, context, required: false),
                outcomes: outcomes, unsure: try self.next(entries, context, key: "unsure")
            )
        case "call":
            return .call(graph: try self.reader.identifier(body, "\(context).call"), next: try self.next(entries, context))
        case "goto":
            return .goto(target: try self.reader.identifier(body, "\(context).goto"))
        default:
            let message: LocalizedText? = body.scalar.map { $0.string.isEmpty || $0.string == "~" || $0.string == "null" } == true
                ? nil : try self.text(body, "\(context).end")
            let summary = try entries["summary"].map { node throws(DialogueLoadError) in try self.reader.stringList(node, "\(context).summary") } ?? []
            var followUp: FollowUp?
            if let node = entries["follow_up"] {
                let followEntries = try self.reader.entries(node, allowed: ["after", "graph"], in: "\(context).follow_up")
                guard let after = followEntries["after"], let graph = followEntries["graph"] else {
                    throw self.reader.error(.missingKey, at: node, "\(context).follow_up: needs `after` (such as 7d) and `graph`")
                }
                guard let seconds = Self.seconds(after.scalar?.string ?? "") else {
                    throw self.reader.error(.invalidValue, at: after, "\(context).follow_up.after: expected a duration such as 3d, 12h or 1w")
                }
                followUp = FollowUp(after: seconds, graph: try self.reader.identifier(graph, "\(context).follow_up.graph"))
            }
            var closes = false
            if let close = entries["close"] {
                guard let value = close.scalar?.string, ["true", "false", "yes", "no"].contains(value) else {
                    throw self.reader.error(.invalidValue, at: close, "\(context).close: expected true or false")
                }
                closes = value == "true" || value == "yes"
            }
            return .end(message: message, summary: summary, followUp: followUp, closes: closes)
        }
    }

    private func store(_ entries: OrderedEntries, _ context: String, required: Bool) throws(DialogueLoadError) -> String? {
        guard let node = entries["store"] else {
            if required { throw self.reader.error(.missingKey, at: entries.node, "\(context): needs `store`, the name the answer is kept under") }
            return nil
        }
        return try self.reader.identifier(node, "\(context).store")
    }

    private func reask(_ entries: OrderedEntries, _ context: String) throws(DialogueLoadError) -> LocalizedText? {
        try entries["reask"].map { node throws(DialogueLoadError) in try self.text(node, "\(context).reask") }
    }

    /// `12h`, `3d`, `1w` in seconds.
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let unit = text.last, let factor = units[unit], let count = Int(text.dropLast()), count > 0 else { return nil }
        return count * factor
    }
}
