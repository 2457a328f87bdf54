public import SpiegelUnderstanding

/// One conversation flow: a start node and the nodes it leads through.
public struct DialogueGraph: Sendable {
    /// The graph's id, unique among all graphs; used by `call` and to ask for a flow.
    public var id: String
    /// The title in each language.
    public var title: LocalizedText
    /// The languages every text must have, the first being the default.
    public var languages: [String]
    /// Where a conversation starts.
    public var start: String
    /// Where a conversation resumes when its node no longer exists (after an edit).
    public var resume: String
    /// Facts from earlier sessions the graph reads (the service provides them).
    public var facts: [String]
    /// The nodes by id.
    public var nodes: [String: DialogueNode]
    /// Node ids in file order, for drawing and lint output.
    public var nodeOrder: [String]
    /// How resistance heard at any open question of this graph is answered; `nil`: only where a
    /// `diagnose` node reads it.
    public var resistance: ResistanceHandling?
    /// Counters raised by what a message at one of the graph's questions was recognised as: the
    /// counter goes up by one when the message carries any of its labels (`krap: [no_time,
    /// dont_know]`), so a branch can offer the short path after two such signs.
    public var countHeard: [String: Set<UtteranceLabel>]
    /// Where the graph was read from.
    public var location: SourceLocation?

    public init(
        id: String, title: LocalizedText, languages: [String], start: String, resume: String? = nil,
        facts: [String] = [], nodes: [DialogueNode], resistance: ResistanceHandling? = nil,
        countHeard: [String: Set<UtteranceLabel>] = [:], location: SourceLocation? = nil
    ) {
        self.id = id
        self.title = title
        self.languages = languages
        self.start = start
        self.resume = resume ?? start
        self.facts = facts
        self.nodes = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.nodeOrder = nodes.map(\.id)
        self.resistance = resistance
        self.countHeard = countHeard
        self.location = location
    }
}

/// A graph's answer to resistance the screener is sure of at one of its open questions: the type
/// (`A`, `B` or `C`) is stored, the counters go up, `graph` is called, and then the question comes
/// again (the message was resistance, not the answer).
public struct ResistanceHandling: Sendable, Equatable {
    /// The graph that answers resistance (it reads the type from `store`).
    public var graph: String
    /// Where the type is stored.
    public var store: String
    /// Counters raised each time.
    public var increments: [String]

    public init(graph: String, store: String, increments: [String] = []) {
        self.graph = graph
        self.store = store
        self.increments = increments
    }
}
