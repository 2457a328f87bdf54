/// One step of a conversation.
public struct DialogueNode: Sendable {
    /// The node's id, unique in its graph.
    public var id: String
    /// What the node does.
    public var kind: Kind
    /// Shown when the coachee asks for help here, before the general help.
    public var help: LocalizedText?
    /// The question in other words, for "stel de vraag anders".
    public var rephrase: LocalizedText?
    /// Marks text that gives advice on purpose (the NIVEA lint then lets it pass).
    public var isAdvice: Bool = false
    /// Marks a question that is closed on purpose (the NIVEA lint then lets it pass).
    public var isClosedOnPurpose: Bool = false
    /// Counters raised by one each time the node is entered.
    public var increments: [String] = []
    /// How the stored answer is named when the coachee asks what they said.
    public var label: LocalizedText?
    /// Where the node stands in its file.
    public var location: SourceLocation?

    /// Creates a node.
    public init(id: String, kind: Kind, location: SourceLocation? = nil) {
        self.id = id
        self.kind = kind
        self.location = location
    }

    /// The kinds of node.
    public enum Kind: Sendable {
        /// One or more messages, then on.
        case say(messages: [LocalizedText], next: String?)
        /// A free-text answer stored under `store`.
        case ask(question: LocalizedText, store: String, validation: AnswerValidation, reask: LocalizedText?, next: String?)
        /// Numbered options, answered by number or by the option's words.
        case choice(question: LocalizedText, store: String?, options: [ChoiceOption], reask: LocalizedText?)
        /// A score on a scale, with follow-ups by range.
        case scale(question: LocalizedText, store: String, range: ClosedRange<Int>, followUps: [ScaleFollowUp], reask: LocalizedText?, next: String?)
        /// The first rule whose condition holds, else `otherwise`.
        case branch(rules: [BranchRule], otherwise: String?)
        /// Classifies a stored answer for resistance and goes on by its type, or to `unsure` when
        /// the classifier is not confident enough.
        case diagnose(subject: String, store: String?, outcomes: [Resistance: String], unsure: String?)
        /// Runs another graph from its start; its end returns here, to `next`.
        case call(graph: String, next: String?)
        /// Goes on at `target`.
        case goto(target: String)
        /// Ends the conversation (or, in a called graph, returns to the caller).
        /// `closes`: ends the whole conversation, not only this graph (the care flow's "stop for
        /// today", so a later message never lands back on the painful moment).
        case end(message: LocalizedText?, summary: [String], followUp: FollowUp?, closes: Bool = false)
    }

    /// Whether the node waits for the coachee's answer.
    public var isQuestion: Bool {
        switch self.kind {
        case .ask, .choice, .scale: true
        default: false
        }
    }

    /// Whether the node asks an open question: an answer in the coachee's own words.
    public var isOpenQuestion: Bool {
        if case .ask(_, _, let validation, _, _) = self.kind { validation.format == .text } else { false }
    }

    /// The question or messages the node shows, for help, lint and drawing.
    public var texts: [LocalizedText] {
        var texts: [LocalizedText]
        switch self.kind {
        case .say(let messages, _): texts = messages
        case .ask(let question, _, _, let reask, _): texts = [question] + [reask].compactMap { $0 }
        case .choice(let question, _, let options, let reask): texts = [question] + options.map(\.text) + [reask].compactMap { $0 }
        case .scale(let question, _, _, _, let reask, _): texts = [question] + [reask].compactMap { $0 }
        case .end(let message, _, _, _): texts = [message].compactMap { $0 }
        case .branch, .diagnose, .call, .goto: texts = []
        }
        return texts + [self.help, self.rephrase, self.label].compactMap { $0 }
    }

    /// Where the node can go, with a label for the edge; `nil` targets are not included.
    public var edges: [(target: String, label: String?)] {
        switch self.kind {
        case .say(_, let next), .ask(_, _, _, _, let next), .call(_, let next):
            return [next].compactMap { $0.map { ($0, nil) } }
        case .choice(_, _, let options, _):
            return options.enumerated().map { ($1.next, "\($0 + 1)") }
        case .scale(_, _, _, let followUps, _, let next):
            return followUps.map { ($0.next, "\($0.range.lowerBound)-\($0.range.upperBound)") } + [next].compactMap { $0.map { ($0, "other") } }
        case .branch(let rules, let otherwise):
            return rules.map { ($0.next, $0.condition.source) } + [otherwise].compactMap { $0.map { ($0, "otherwise") } }
        case .diagnose(_, _, let outcomes, let unsure):
            return outcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($1, $0.rawValue) } + [unsure].compactMap { $0.map { ($0, "unsure") } }
        case .goto(let target):
            return [(target, nil)]
        case .end:
            return []
        }
    }

    /// The variable the node stores an answer in.
    public var storedVariable: String? {
        switch self.kind {
        case .ask(_, let store, _, _, _), .scale(_, let store, _, _, _, _): store
        case .choice(_, let store, _, _): store
        case .diagnose(_, let store, _, _): store
        default: nil
        }
    }
}

/// What an `ask` answer must be.
public struct AnswerValidation: Sendable, Equatable {
    /// How the answer must read.
    public enum Format: String, Sendable {
        case text, number, date
    }
    public var format: Format = .text
    /// Most characters kept; longer answers are re-asked. An empty answer is always re-asked.
    public var maxLength: Int = 2000

    public init(format: Format = .text, maxLength: Int = 2000) {
        self.format = format
        self.maxLength = maxLength
    }
}

/// One option of a `choice`.
public struct ChoiceOption: Sendable {
    public var text: LocalizedText {
        didSet { self.phrases = Self.phrases(of: self.text) }
    }
    public var next: String
    /// The value stored; the option's number when not given.
    public var value: String?
    /// The text in every language, normalized once: what an answer is matched against.
    private(set) var phrases: Set<String>

    public init(text: LocalizedText, next: String, value: String? = nil) {
        self.text = text
        self.next = next
        self.value = value
        self.phrases = Self.phrases(of: text)
    }

    private static func phrases(of text: LocalizedText) -> Set<String> {
        Set(text.translations.values.map(TextMatching.normalize))
    }
}

/// Where a `scale` goes for scores in a range.
public struct ScaleFollowUp: Sendable {
    public var range: ClosedRange<Int>
    public var next: String

    public init(range: ClosedRange<Int>, next: String) {
        self.range = range
        self.next = next
    }
}

/// One rule of a `branch`.
public struct BranchRule: Sendable {
    public var condition: Condition
    public var next: String

    public init(condition: Condition, next: String) {
        self.condition = condition
        self.next = next
    }
}

/// A conversation to propose again later, asked of the service by an `end` node.
public struct FollowUp: Sendable, Equatable, Codable {
    /// After how long, in seconds.
    public var after: Int
    /// The graph to run then.
    public var graph: String

    public init(after: Int, graph: String) {
        self.after = after
        self.graph = graph
    }
}

/// The resistance types of the coaching handbook.
public enum Resistance: String, Sendable, Codable, CaseIterable, Hashable {
    /// "Ik begrijp het niet": the coachee does not understand.
    case notUnderstanding = "A"
    /// "Ik wil het niet": the coachee does not want to.
    case notWanting = "B"
    /// "Ik vertrouw je niet": the coachee does not trust.
    case notTrusting = "C"
    /// No resistance recognised.
    case none = "none"
}
