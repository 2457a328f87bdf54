public import SpiegelUnderstanding

/// Every graph of a Prompts directory, with the global intents and shared messages of
/// `global.yaml` and the resistance lexicon of `resistance.yaml`.
public struct DialogueLibrary: Sendable {
    /// Graphs by id.
    public var graphs: [String: DialogueGraph]
    /// Phrases per intent per language.
    public var intents: [GlobalIntent: [String: [String]]]
    /// Shared messages by key.
    public var messages: [SharedMessage: LocalizedText]
    /// What the resistance classifier knows.
    public var resistance: ResistanceLexicon
    /// The labelled examples of `understanding/*.tsv`.
    public var understanding: [LabelledExample] = []
    /// What recognises a teacher's message, learned from ``understanding`` when the library loads.
    public var screener: Screener = .empty
    /// The graph a first conversation starts with.
    public var defaultGraph: String?
    /// The phrases, per language, that start a graph by name ("voorgesprek", "dieper"), by graph id.
    public var flows: [String: [String: [String]]] = [:] {
        didSet { self.flowIndex = Self.index(self.flows) }
    }
    /// The coaching service's own phrases (such as `restart`, `progress`, `confirm`), per language,
    /// from `commands:` in `global.yaml`; like intents, they count only as the whole message.
    public var commands: [String: [String: [String]]] = [:] {
        didSet { self.commandIndex = Self.index(self.commands) }
    }
    /// Normalized phrase to (flow or command, language), so a message is matched by one lookup.
    private var flowIndex: [String: (String, String)] = [:]
    private var commandIndex: [String: (String, String)] = [:]
    /// The coaching service's own lines (welcome back, slow down, forget confirmation…), by key,
    /// from `service:` in `global.yaml`; the service names its keys and has fallbacks.
    public var serviceMessages: [String: LocalizedText] = [:]
    /// Where each flow was declared, for the linter.
    var flowLocations: [String: SourceLocation] = [:]
    /// Where `global.yaml` was read from.
    public var location: SourceLocation?

    public init(
        graphs: [DialogueGraph],
        intents: [GlobalIntent: [String: [String]]] = [:],
        messages: [SharedMessage: LocalizedText] = [:],
        resistance: ResistanceLexicon = ResistanceLexicon(),
        defaultGraph: String? = nil,
        location: SourceLocation? = nil
    ) {
        self.graphs = Dictionary(graphs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.intents = intents
        self.messages = messages
        self.resistance = resistance
        self.defaultGraph = defaultGraph
        self.location = location
    }

    /// The shared message `key` in `language`, with `{name}` placeholders filled from `values`.
    public func message(_ key: SharedMessage, in language: String, _ values: [String: String] = [:]) -> String {
        let text = self.messages[key]?.text(in: language, fallbacks: ["nl", "en"]) ?? key.fallback
        return Interpolation.fill(text, values: values)
    }

    /// The labelled answers of `graph` in the order its nodes ask them: each stored name with the
    /// `label` of the question that stores it (answers without a label are not the coachee's own
    /// words, or not meant to be read back).
    public func answerLabels(in graph: String, language: String) -> [(name: String, label: String)] {
        guard let graph = self.graphs[graph] else { return [] }
        var seen = Set<String>()
        return graph.nodeOrder.compactMap { id -> (name: String, label: String)? in
            guard let node = graph.nodes[id], let name = node.storedVariable, let label = node.label, seen.insert(name).inserted else { return nil }
            return (name, label.text(in: language, fallbacks: graph.languages))
        }
    }

    /// The service message `key` in `language`, with `{name}` placeholders filled from `values`;
    /// `fallback` (English) when `global.yaml` does not have it.
    public func serviceMessage(_ key: String, in language: String, fallback: String, _ values: [String: String] = [:]) -> String {
        let text = self.serviceMessages[key]?.text(in: language, fallbacks: ["nl", "en"]) ?? fallback
        return Interpolation.fill(text, values: values)
    }

    /// The service command whose phrase is the whole of `text` (case, accents and punctuation aside).
    public func command(in text: String) -> String? {
        guard text.utf8.count <= 200 else { return nil }
        return self.commandIndex[TextMatching.normalize(text)]?.0
    }

    /// The graph whose flow phrase is the whole of `text` (case, accents and punctuation aside),
    /// with the language of the phrase.
    public func flow(named text: String) -> (graph: String, language: String)? {
        guard text.utf8.count <= 200 else { return nil }
        return self.flowIndex[TextMatching.normalize(text)].map { (graph: $0.0, language: $0.1) }
    }

    /// Phrases by their normalized text; on a clash the first key and language in sorted order win.
    private static func index(_ phrases: [String: [String: [String]]]) -> [String: (String, String)] {
        var index: [String: (String, String)] = [:]
        for key in phrases.keys.sorted() {
            for (language, list) in phrases[key]!.sorted(by: { $0.key < $1.key }) {
                for phrase in list {
                    let normalized = TextMatching.normalize(phrase)
                    if !normalized.isEmpty && index[normalized] == nil { index[normalized] = (key, language) }
                }
            }
        }
        return index
    }
}

/// What a coachee can say at any point of any conversation. The phrases live in `global.yaml`;
/// what each does is fixed.
public enum GlobalIntent: String, Sendable, CaseIterable, Codable {
    /// Pause the conversation.
    case stop
    /// Pick a paused conversation up again.
    case resume
    /// Go back one question.
    case back
    /// Say where we are and what can be said.
    case help
    /// Ask the current question again.
    case `repeat`
    /// List what the coachee said in this conversation.
    case recall
    /// Ask for an export of one's own data (the service does it).
    case export
    /// Ask to be forgotten (the service asks for confirmation and does it).
    case forget
    /// Ask to share with one's coach (the service does it).
    case share
}

/// Messages every graph shares, in `global.yaml` under `messages`.
public enum SharedMessage: String, Sendable, CaseIterable {
    case help, paused, whilePaused = "while_paused", resumed, backUnavailable = "back_unavailable"
    case recallIntro = "recall_intro", recallNothing = "recall_nothing"
    case notUnderstood = "not_understood", empty, tooLong = "too_long", notAScore = "not_a_score", notANumber = "not_a_number"
    case notADate = "not_a_date", movedOn = "moved_on", ended

    /// English text used only when `global.yaml` lacks the message (the linter reports that).
    var fallback: String {
        switch self {
        case .help: "You can say: {phrases}."
        case .paused: "Paused."
        case .whilePaused: "We are paused."
        case .resumed: "Let's go on."
        case .backUnavailable: "There is no earlier question."
        case .recallIntro: "You said:"
        case .recallNothing: "Nothing yet."
        case .notUnderstood: "I did not understand that."
        case .empty: "I did not receive anything."
        case .tooLong: "That is too long."
        case .notAScore: "Please give a number from {min} to {max}."
        case .notANumber: "Please answer with a number."
        case .notADate: "Please answer with a date."
        case .movedOn: "This conversation changed; we go on from here."
        case .ended: "This conversation has ended."
        }
    }
}
