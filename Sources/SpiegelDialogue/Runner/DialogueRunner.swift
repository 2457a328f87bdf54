public import Foundation
public import SpiegelUnderstanding

/// Runs conversations over a ``DialogueLibrary``: a pure function from a state and an input to
/// a new state, the bot's messages and the effects the service must carry out.
///
/// Whatever the input and whatever happened to the graph files since the state was saved, a step
/// never crashes and never leaves the graph: an unknown node falls back to its graph's declared
/// resume point, an unknown graph to the default graph.
public struct DialogueRunner: Sendable {
    /// Longest input considered, in bytes of UTF-8; longer input is answered with a request to
    /// say it shorter, and nothing is stored.
    public static let maxInputBytes = 16_384
    /// Most nodes entered in one step without waiting for an answer (the linter rejects graphs
    /// that could loop; this is the guard in case one slips through).
    static let maxAutomaticSteps = 500
    /// Most steps `back` can go.
    static let maxHistory = 50
    /// The graph that takes over when a message shows distress (when the library has it).
    public static let careGraph = "zorg"
    /// The graph that asks "Gaat het wel met je?" when distress is possible but unclear; it stores
    /// the answer under its own id, ``careCheckAllRight`` when all is well.
    public static let careCheckGraph = "zorg_vraag"
    static let careCheckAllRight = "goed"
    /// A global intent said in the teacher's own words counts from this probability, in a
    /// message of at most ``paraphraseMaxWords`` words (a longer one is an answer that mentions it).
    static let paraphraseThreshold = 0.9
    static let paraphraseMaxWords = 10
    /// A `diagnose` is sure of a resistance type from this probability, unsure from the lower one.
    static let resistanceThreshold = 0.5
    static let resistanceUnsure = 0.3
    /// At an open question that does not ask for it (a graph's ``ResistanceHandling``), resistance
    /// counts only from this probability: there a complaint about the lesson is the answer. What
    /// counts is not taken as the answer: the handler runs, then the question comes again.
    static let heardResistanceThreshold = 0.8

    public let library: DialogueLibrary
    private let classifier: ResistanceClassifier
    /// Every intent phrase, normalized, with its length for a quick filter.
    private let intentPhrases: [(intent: GlobalIntent, phrase: String, length: Int)]

    /// Creates a runner for `library`.
    public init(library: DialogueLibrary) {
        self.library = library
        self.classifier = ResistanceClassifier(lexicon: library.resistance)
        var phrases: [(GlobalIntent, String, Int)] = []
        for intent in GlobalIntent.allCases {
            for list in (library.intents[intent] ?? [:]).values {
                phrases += list.map { phrase in
                    let normalized = TextMatching.normalize(phrase)
                    return (intent, normalized, normalized.unicodeScalars.count)
                }
            }
        }
        self.intentPhrases = phrases
    }

    /// Starts `graph` (the library's default when `nil`) in `language`.
    /// - Parameter facts: what the service knows from earlier sessions, by name.
    /// - Throws: ``DialogueRunnerError`` when there is no such graph.
    public func start(graph: String? = nil, language: String, facts: [String: String] = [:], now: Date) throws(DialogueRunnerError) -> DialogueStep {
        guard let id = graph ?? self.library.defaultGraph, let graph = self.library.graphs[id] else {
            throw DialogueRunnerError(message: "no graph named \(graph ?? "(default)")")
        }
        let state = DialogueState(language: language, stack: [.init(graph: graph.id, node: graph.start)], facts: facts, updatedAt: now)
        var step = DialogueStep(state: state, outputs: [], effects: [])
        self.run(&step)
        return step
    }

    /// The question the conversation waits at, as it was sent; `nil` when it is paused or ended.
    public func currentQuestion(_ state: DialogueState) -> String? {
        guard state.status == .active, let position = state.position,
              let node = self.library.graphs[position.graph]?.nodes[position.node], node.isQuestion
        else { return nil }
        return self.present(node, state)
    }

    /// Takes the coachee's `input` at `state`.
    /// - Parameter screening: what the input was recognised as (the service screens every message
    ///   once). Distress outranks everything: the answer counts (when it answers the question) and
    ///   the care graph comes before the next question, or takes over when no question waits; a
    ///   possible sign of it gets the care check the same way; an intent in the teacher's own words
    ///   counts like its phrase; the labels are `heard.<label>` in the conditions of this step.
    public func advance(_ state: DialogueState, input: String, now: Date, screening: Screening = .nothing) -> DialogueStep {
        var step = DialogueStep(state: state, outputs: [], effects: [])
        step.state.updatedAt = now
        guard input.utf8.count <= Self.maxInputBytes else {
            step.outputs.append(self.message(.tooLong, step.state))
            return step
        }
        let text = input.trimmingWhitespace()
        step.screened = (text, screening)
        let normalized = TextMatching.normalize(text)
        // Within the care flow (or its check) the teacher is answering it: no second one on top.
        let inCare = step.state.stack.contains { $0.graph == Self.careGraph || $0.graph == Self.careCheckGraph }
        let distress = !inCare && screening.contains(.distress) && self.library.graphs[Self.careGraph] != nil
        if distress, step.state.status != .active || text.isEmpty {
            self.interrupt(with: Self.careGraph, &step)
            return step
        }
        if !distress, let intent = self.intent(in: normalized) ?? (self.answersChoice(normalized, step.state) ? nil : self.paraphrasedIntent(screening, words: normalized.split(separator: " ").count)) {
            self.handle(intent, &step)
            return step
        }
        // A doubt about distress: the answer counts, and before the next question comes the check
        // (once a conversation when the answer was "het gaat").
        let check = !inCare && screening.distressUnsure && self.library.graphs[Self.careCheckGraph] != nil
            && step.state.answers[Self.careCheckGraph] != Self.careCheckAllRight
        let interjection = distress ? Self.careGraph : check ? Self.careCheckGraph : nil
        switch step.state.status {
        case .ended:
            step.outputs.append(self.message(.ended, step.state))
            return step
        case .paused:
            step.outputs.append(self.message(.whilePaused, step.state))
            return step
        case .active:
            break
        }
        guard !text.isEmpty else {
            step.outputs.append(self.message(.empty, step.state))
            return step
        }
        guard let node = self.currentNode(&step) else { return step }
        guard node.isQuestion else {
            // The graph changed under a saved state: go on from where the state now points.
            self.run(&step)
            return step
        }
        let graph = step.state.position?.graph
        if let counting = graph.flatMap({ self.library.graphs[$0]?.countHeard }) {
            for (counter, labels) in counting where !labels.isDisjoint(with: screening.labels) {
                step.state.counters[counter, default: 0] += 1
            }
        }
        let unanswered = step
        self.answer(node, with: text, normalized: normalized, &step)
        if interjection == nil, !inCare, let graph, let handling = self.heardResistance(at: node, in: graph, screening, step) {
            // Resistance is not the answer: the handler first, then the same question again.
            step = unanswered
            if let type = screening.resistance?.type, let value = Self.resistanceValue(type) { self.store(value, as: handling.store, &step) }
            for counter in handling.increments { step.state.counters[counter, default: 0] += 1 }
            self.interject(handling.graph, &step)
        } else if let interjection {
            if !step.effects.contains(where: { if case .storeAnswer = $0 { true } else { false } }) && step.state.stack == unanswered.state.stack {
                // Not an answer to the question (a choice it does not name): the graph first,
                // then the question again.
                step = unanswered
            }
            self.interject(interjection, &step)
        }
        return step
    }

    /// Puts `graph` before the question the step ended at (asked when the graph is over), or on its
    /// own when the conversation ended with the step.
    private func interject(_ graph: String, _ step: inout DialogueStep) {
        if step.state.status == .active, let position = step.state.position,
           let node = self.library.graphs[position.graph]?.nodes[position.node], node.isQuestion,
           step.outputs.last == self.present(node, step.state) {
            step.outputs.removeLast()
        }
        self.interrupt(with: graph, &step)
    }

    // MARK: - Answers

    private func answer(_ node: DialogueNode, with text: String, normalized: String, _ step: inout DialogueStep) {
        let before = step.state.stack
        switch node.kind {
        case .ask(_, let store, let validation, let reask, let next):
            if let problem = self.problem(with: text, validation) {
                step.outputs.append(self.message(problem, step.state))
                if let reask { step.outputs.append(self.render(reask, step.state)) }
                return
            }
            self.store(text, as: store, &step)
            self.move(to: next, from: before, &step)
        case .choice(_, let store, let options, let reask):
            guard let index = self.option(in: normalized, options: options, language: step.state.language) else {
                step.outputs.append(self.message(.notUnderstood, step.state))
                step.outputs.append(reask.map { self.render($0, step.state) } ?? self.present(node, step.state))
                return
            }
            if let store { self.store(options[index].value ?? String(index + 1), as: store, &step) }
            self.move(to: options[index].next, from: before, &step)
        case .scale(_, let store, let range, let followUps, let reask, let next):
            guard let score = TextMatching.score(in: text), range.contains(score) else {
                step.outputs.append(self.message(.notAScore, step.state, ["min": "\(range.lowerBound)", "max": "\(range.upperBound)"]))
                if let reask { step.outputs.append(self.render(reask, step.state)) }
                return
            }
            self.store(String(score), as: store, &step)
            self.move(to: followUps.first { $0.range.contains(score) }?.next ?? next, from: before, &step)
        default:
            self.run(&step)
        }
    }

    private func problem(with text: String, _ validation: AnswerValidation) -> SharedMessage? {
        switch validation.format {
        case .text: return text.count > validation.maxLength ? .tooLong : nil
        case .number: return TextMatching.isNumber(text) ? nil : .notANumber
        case .date: return TextMatching.isDate(text) ? nil : .notADate
        }
    }

    /// The option the answer names: its number, its words, or words close to them; `nil` when
    /// none or more than one fits.
    private func option(in normalized: String, options: [ChoiceOption], language: String) -> Int? {
        let words = normalized.split(separator: " ")
        if words.count <= 2, let number = words.compactMap({ Int($0) }).first, (1...options.count).contains(number) {
            return number - 1
        }
        let texts = options.map(\.phrases)
        let exact = texts.indices.filter { texts[$0].contains(normalized) }
        if exact.count == 1 { return exact[0] }
        let close = texts.indices.filter { index in texts[index].contains { TextMatching.matches(normalized, phrase: $0) } }
        if close.count == 1 { return close[0] }
        // "de les graag" for the option "De les": the option's words inside a short answer.
        let inside = texts.indices.filter { index in texts[index].contains { !$0.isEmpty && " \(normalized) ".contains(" \($0) ") } }
        return inside.count == 1 ? inside[0] : nil
    }

    private func store(_ value: String, as name: String, _ step: inout DialogueStep) {
        if step.state.answers[name] == nil { step.state.answerOrder.append(name) }
        step.state.answers[name] = value
        if let screened = step.screened, screened.input == value,
           Self.unquotableLabels.contains(where: { screened.screening.score($0) >= Self.unquotableConfidence }) {
            step.state.unquotable.insert(name)
        } else {
            step.state.unquotable.remove(name)
        }
        step.effects.append(.storeAnswer(name: name, value: value))
    }

    /// Records the answered question for `back`, then goes on at `target`.
    private func move(to target: String?, from before: [DialogueState.Position], _ step: inout DialogueStep) {
        step.state.history.append(before)
        if step.state.history.count > Self.maxHistory { step.state.history.removeFirst() }
        self.go(to: target, &step)
        self.run(&step)
    }

    // MARK: - Walking the graph

    /// Points the top of the stack at `target` in the same graph; `nil` ends the graph.
    private func go(to target: String?, _ step: inout DialogueStep) {
        guard let position = step.state.position else { return }
        guard let target else {
            step.state.stack[step.state.stack.count - 1].node = ""
            return
        }
        step.state.stack[step.state.stack.count - 1] = .init(graph: position.graph, node: target)
    }

    /// Enters nodes from the current one until a question waits for an answer or the
    /// conversation ends.
    private func run(_ step: inout DialogueStep) {
        for _ in 0..<Self.maxAutomaticSteps {
            guard step.state.status == .active, let position = step.state.position else { return }
            if position.node.isEmpty {
                self.finishGraph(message: nil, summary: [], followUp: nil, closes: false, &step)
                continue
            }
            guard let node = self.currentNode(&step) else { return }
            for counter in node.increments { step.state.counters[counter, default: 0] += 1 }
            switch node.kind {
            case .say(let messages, let next):
                step.outputs += messages.map { self.render($0, step.state) }
                self.go(to: next, &step)
            case .ask, .choice, .scale:
                step.outputs.append(self.present(node, step.state))
                return
            case .branch(let rules, let otherwise):
                let rule = rules.first { $0.condition.holds(step.value(of:)) }
                if rule?.condition.variables.contains(where: { $0.hasPrefix(DialogueStep.heardPrefix) }) == true { step.followedScreening = true }
                self.go(to: rule?.next ?? otherwise, &step)
            case .diagnose(let subject, let store, let outcomes, let unsure):
                let answer = step.state.answers[subject] ?? ""
                // The answer of this very message was screened already (unless the caller passed no
                // screening: then it is screened here).
                let known = step.screened.flatMap { $0.input == answer && !$0.screening.scores.isEmpty ? $0.screening : nil }
                let result = self.diagnose(answer, screening: known)
                if let store { self.store(result.type.rawValue, as: store, &step) }
                if result.isUnsure, let unsure {
                    self.go(to: unsure, &step)
                } else {
                    self.go(to: outcomes[result.type] ?? outcomes[.none], &step)
                }
            case .call(let graph, _):
                guard let callee = self.library.graphs[graph] else {
                    self.go(to: nil, &step)
                    continue
                }
                step.state.stack.append(.init(graph: callee.id, node: callee.start))
            case .goto(let target):
                self.go(to: target, &step)
            case .end(let message, let summary, let followUp, let closes):
                self.finishGraph(message: message, summary: summary, followUp: followUp, closes: closes, &step)
            }
        }
        // A loop with no question in it: stop rather than spin.
        step.state.status = .paused
        step.outputs.append(self.message(.paused, step.state))
        step.effects.append(.pause)
    }

    /// Ends the current graph: returns to the caller's `next` (or to the question it interrupted,
    /// asked again), or ends the conversation; `closes` ends the conversation from any depth.
    private func finishGraph(message: LocalizedText?, summary: [String], followUp: FollowUp?, closes: Bool, _ step: inout DialogueStep) {
        if let message { step.outputs.append(self.render(message, step.state)) }
        if let followUp { step.effects.append(.scheduleFollowUp(after: followUp.after, graph: followUp.graph)) }
        let finished = step.state.stack.removeLast()
        if closes { step.state.stack = [] }
        if let caller = step.state.position {
            let callNode = self.library.graphs[caller.graph]?.nodes[caller.node]
            if case .call(_, let next) = callNode?.kind {
                self.go(to: next, &step)
            } else if callNode?.isQuestion == true {
                // An interruption (the care flow) returns to the question it came in on, which the
                // walk then asks again.
            } else {
                self.go(to: nil, &step)
            }
            return
        }
        // The care flow or its check on its own (a first message, or after a conversation): "go on"
        // means the conversation the teacher came for.
        if !closes, finished.graph == Self.careGraph || finished.graph == Self.careCheckGraph,
           let id = self.library.defaultGraph, let graph = self.library.graphs[id] {
            step.state.stack = [.init(graph: graph.id, node: graph.start)]
            return
        }
        step.state.stack = [finished]
        step.state.status = .ended
        var values: [String: String] = [:]
        for name in summary { values[name] = step.state.answers[name] }
        step.effects.append(.end(graph: finished.graph, summary: values))
    }

    /// The node the state points at; when the graph or node no longer exists, the graph's
    /// resume point (or the default graph's start), said to the coachee.
    private func currentNode(_ step: inout DialogueStep) -> DialogueNode? {
        guard let position = step.state.position else { return nil }
        if let node = self.library.graphs[position.graph]?.nodes[position.node] { return node }
        step.outputs.append(self.message(.movedOn, step.state))
        if let graph = self.library.graphs[position.graph], let node = graph.nodes[graph.resume] ?? graph.nodes[graph.start] {
            step.state.stack = Array(step.state.stack.dropLast()) + [.init(graph: graph.id, node: node.id)]
            return node
        }
        guard let id = self.library.defaultGraph, let graph = self.library.graphs[id], let node = graph.nodes[graph.start] else {
            step.state.status = .ended
            return nil
        }
        step.state.stack = [.init(graph: graph.id, node: node.id)]
        return node
    }

    // MARK: - Screening

    /// Puts `graph` on top of the conversation: over the question it waits at (which is asked
    /// again when the graph ends), or as a conversation of its own when none waits.
    private func interrupt(with graph: String, _ step: inout DialogueStep) {
        guard let callee = self.library.graphs[graph] else { return }
        let waiting = step.state.status != .ended && step.state.position.flatMap { self.library.graphs[$0.graph]?.nodes[$0.node] }?.isQuestion == true
        if !waiting { step.state.stack = [] }
        step.state.status = .active
        step.state.stack.append(.init(graph: callee.id, node: callee.start))
        self.run(&step)
    }

    /// Whether `normalized` names an option of the choice the conversation waits at: then it is that
    /// answer, whatever else it may sound like.
    private func answersChoice(_ normalized: String, _ state: DialogueState) -> Bool {
        guard state.status == .active, let position = state.position, let node = self.library.graphs[position.graph]?.nodes[position.node],
              case .choice(_, _, let options, _) = node.kind else { return false }
        return self.option(in: normalized, options: options, language: state.language) != nil
    }

    /// The graph's way of answering resistance, when the answer to the open question `node` shows it
    /// clearly and nothing in this step answered it already (a `diagnose`, the handler itself, a
    /// branch on what was heard).
    private func heardResistance(at node: DialogueNode, in graph: String, _ screening: Screening, _ step: DialogueStep) -> ResistanceHandling? {
        guard node.isOpenQuestion, !step.followedScreening, let handling = self.library.graphs[graph]?.resistance,
              self.library.graphs[handling.graph] != nil,
              let best = screening.resistance, best.confidence >= Self.heardResistanceThreshold,
              !step.state.stack.contains(where: { $0.graph == handling.graph || $0.graph == Self.resistanceCheckGraph }),
              step.effects.contains(where: { if case .storeAnswer = $0 { true } else { false } }),
              !step.effects.contains(where: { if case .storeAnswer(handling.store, _) = $0 { true } else { false } })
        else { return nil }
        return handling
    }

    /// The graph a `diagnose` asks when unsure; resistance is not heard again while it runs.
    static let resistanceCheckGraph = "weerstand_check"

    private static func resistanceValue(_ label: UtteranceLabel) -> String? {
        switch label {
        case .notUnderstanding: Resistance.notUnderstanding.rawValue
        case .notWanting: Resistance.notWanting.rawValue
        case .notTrusting: Resistance.notTrusting.rawValue
        default: nil
        }
    }

    /// The global intent a short message says in other words, when the screener is sure of it.
    private func paraphrasedIntent(_ screening: Screening, words: Int) -> GlobalIntent? {
        guard words <= Self.paraphraseMaxWords, let label = screening.intent, screening.score(label) >= Self.paraphraseThreshold else { return nil }
        return GlobalIntent(rawValue: label.rawValue)
    }

    /// The resistance in an answer: by the screener when the library has examples, else by the
    /// lexicon of `resistance.yaml`.
    private func diagnose(_ text: String, screening known: Screening?) -> (type: Resistance, isUnsure: Bool) {
        guard !self.library.understanding.isEmpty else {
            let result = self.classifier.classify(text)
            return (result.type, result.confidence < self.classifier.threshold)
        }
        let screening = known ?? self.library.screener.screen(text)
        guard let best = screening.resistance else { return (.none, false) }
        let type: Resistance = switch best.type {
        case .notUnderstanding: .notUnderstanding
        case .notWanting: .notWanting
        default: .notTrusting
        }
        if best.confidence >= Self.resistanceThreshold { return (type, false) }
        return (best.confidence >= Self.resistanceUnsure ? type : .none, best.confidence >= Self.resistanceUnsure)
    }

    // MARK: - Intents

    private func intent(in normalized: String) -> GlobalIntent? {
        let length = normalized.unicodeScalars.count
        guard length > 0, length <= 40 else { return nil }
        if let exact = self.intentPhrases.first(where: { $0.phrase == normalized }) { return exact.intent }
        return self.intentPhrases.first { candidate in
            let tolerance = TextMatching.tolerance(forLength: candidate.length)
            return tolerance > 0 && abs(length - candidate.length) <= tolerance
                && TextMatching.editDistance(normalized, candidate.phrase, limit: tolerance) <= tolerance
        }?.intent
    }

    private func handle(_ intent: GlobalIntent, _ step: inout DialogueStep) {
        let state = step.state
        switch intent {
        case .stop:
            guard state.status == .active else {
                step.outputs.append(self.message(state.status == .ended ? .ended : .whilePaused, state))
                return
            }
            step.state.status = .paused
            step.outputs.append(self.message(.paused, state))
            step.effects.append(.pause)
        case .resume:
            guard state.status == .paused else {
                self.presentCurrent(&step)
                return
            }
            step.state.status = .active
            step.outputs.append(self.message(.resumed, state))
            step.effects.append(.resume)
            self.presentCurrent(&step)
        case .back:
            guard state.status != .ended, let previous = step.state.history.popLast() else {
                step.outputs.append(self.message(.backUnavailable, state))
                self.presentCurrent(&step)
                return
            }
            step.state.stack = previous
            step.state.status = .active
            self.presentCurrent(&step)
        case .help:
            if let position = state.position, let node = self.library.graphs[position.graph]?.nodes[position.node], let help = node.help {
                step.outputs.append(self.render(help, state))
            }
            let phrases = GlobalIntent.allCases.compactMap { self.library.intents[$0]?[state.language]?.first }
            let title = state.position.flatMap { self.library.graphs[$0.graph] }?.title.text(in: state.language, fallbacks: ["nl"]) ?? ""
            step.outputs.append(self.message(.help, state, ["phrases": phrases.map { "“\($0)”" }.joined(separator: ", "), "graph": title]))
            self.presentCurrent(&step)
        case .repeat:
            // "Stel de vraag anders": the question in other words, where the graph has them.
            if Self.asksOtherWords(step.screened?.input ?? ""), state.status == .active, let position = state.position,
               let rephrase = self.library.graphs[position.graph]?.nodes[position.node]?.rephrase {
                step.outputs.append(self.render(rephrase, state))
                return
            }
            self.presentCurrent(&step)
        case .recall:
            guard !state.answerOrder.isEmpty else {
                step.outputs.append(self.message(.recallNothing, state))
                return
            }
            var lines = [self.message(.recallIntro, state)]
            for name in state.answerOrder {
                guard let value = state.answers[name], let label = self.recallLabel(for: name, state) else { continue }
                lines.append("– \(label): \(value)")
            }
            step.outputs.append(lines.joined(separator: "\n"))
        case .export:
            step.effects.append(.requestExport)
        case .forget:
            step.effects.append(.requestErasure)
        case .share:
            step.effects.append(.requestShare)
        }
    }

    /// Whether a request to repeat asks for other words ("stel de vraag anders", "in other words").
    static func asksOtherWords(_ text: String) -> Bool {
        let padded = " " + TextMatching.normalize(text) + " "
        return [" anders ", " andere woorden ", " ander woorden ", " differently ", " other words ", " another way ", " simpeler ", " eenvoudiger ", " simpler "]
            .contains { padded.contains($0) }
    }

    /// Shows the current question again (nothing when the conversation ended or is paused).
    private func presentCurrent(_ step: inout DialogueStep) {
        guard step.state.status == .active, let node = self.currentNode(&step) else { return }
        if node.isQuestion {
            step.outputs.append(self.present(node, step.state))
        } else {
            self.run(&step)
        }
    }

    /// The name a stored answer goes by: the `label` of the node that stores it, else its name.
    /// How "wat zei ik?" names a stored answer: its question's `label`, else the name; `nil` for
    /// what is not the coachee's own words (a `diagnose` result, an unlabelled choice's value).
    private func recallLabel(for name: String, _ state: DialogueState) -> String? {
        var recallable = false
        // The graphs of this conversation first, so another graph's label for the same name does
        // not win; then the rest in a fixed order.
        var seen = Set<String>()
        let order = (state.stack.reversed().map(\.graph) + self.library.graphs.keys.sorted()).filter { seen.insert($0).inserted }
        for graph in order.compactMap({ self.library.graphs[$0] }) {
            for id in graph.nodeOrder {
                guard let node = graph.nodes[id], node.storedVariable == name else { continue }
                if let label = node.label { return label.text(in: state.language, fallbacks: graph.languages) }
                switch node.kind {
                case .ask, .scale: recallable = true
                default: break
                }
            }
        }
        return recallable ? name : nil
    }

    // MARK: - Text

    /// A question as sent: a choice lists its options with their numbers.
    private func present(_ node: DialogueNode, _ state: DialogueState) -> String {
        switch node.kind {
        case .ask(let question, _, _, _, _), .scale(let question, _, _, _, _, _):
            return self.render(question, state)
        case .choice(let question, _, let options, _):
            let lines = options.enumerated().map { "\($0 + 1). \(self.render($1.text, state))" }
            return ([self.render(question, state)] + lines).joined(separator: "\n")
        default:
            return ""
        }
    }

    /// What an answer must not have been recognised as, surely (``unquotableConfidence``), to be
    /// quoted back: not knowing, distress, a question to the bot, distrust or resistance. (Not
    /// advice: "Hoe krijg ik ze aan het woord?" is the teacher's own question in a pre-conference.)
    static let unquotableLabels: [UtteranceLabel] = [.dontKnow, .distress, .question, .trust] + UtteranceLabel.resistance
    static let unquotableConfidence = 0.7

    /// `text` in the coachee's language with the answers filled in; its neutral form when an answer
    /// it quotes is not fit to quote (too long, a question, "weet ik niet", or recognised as such).
    private func render(_ text: LocalizedText, _ state: DialogueState) -> String {
        let fallbacks = state.position.flatMap { self.library.graphs[$0.graph]?.languages } ?? ["nl", "en"]
        var chosen = text.text(in: state.language, fallbacks: fallbacks)
        // Most texts have no placeholder: nothing to look up, quote or fill.
        guard chosen.utf8.contains(UInt8(ascii: "{")) else {
            return state.language == "en" ? Interpolation.englishArticles(chosen) : chosen
        }
        let values = state.values
        if let neutral = text.neutralText(in: state.language, fallbacks: fallbacks),
           Interpolation.quotations(in: chosen).contains(where: { quotation in
               state.unquotable.contains(quotation.name)
                   || !(values[quotation.name].map { Interpolation.canRepeat($0, firstWords: quotation.firstWords) } ?? false)
           }) {
            chosen = neutral
        }
        let filled = Interpolation.fill(chosen, values: values)
        return state.language == "en" ? Interpolation.englishArticles(filled) : filled
    }

    private func message(_ key: SharedMessage, _ state: DialogueState, _ values: [String: String] = [:]) -> String {
        self.library.message(key, in: state.language, values)
    }
}
