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
    /// Where the graph was read from.
    public var location: SourceLocation?

    public init(
        id: String, title: LocalizedText, languages: [String], start: String, resume: String? = nil,
        facts: [String] = [], nodes: [DialogueNode], location: SourceLocation? = nil
    ) {
        self.id = id
        self.title = title
        self.languages = languages
        self.start = start
        self.resume = resume ?? start
        self.facts = facts
        self.nodes = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.nodeOrder = nodes.map(\.id)
        self.location = location
    }
}
