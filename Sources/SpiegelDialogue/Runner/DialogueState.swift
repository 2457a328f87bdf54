public import Foundation
import SpiegelUnderstanding

/// Where one coachee is in a conversation: small, `Codable` and versioned, so a conversation
/// resumes from it after a restart, days later, or after its graph file was edited.
public struct DialogueState: Codable, Sendable, Equatable {
    /// The version this build writes; an older state is read, a newer one refused.
    public static let currentVersion = 1

    /// A node in a graph; written as one string, `graph:node` (ids have no colon), because a state
    /// holds up to fifty stacks of them and is saved after every message.
    public struct Position: Codable, Sendable, Equatable, Hashable {
        public var graph: String
        public var node: String

        public init(graph: String, node: String) {
            self.graph = graph
            self.node = node
        }

        private enum CodingKeys: String, CodingKey {
            case graph, node
        }

        public init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                guard let colon = text.firstIndex(of: ":") else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected graph:node"))
                }
                self.graph = String(text[..<colon])
                self.node = String(text[text.index(after: colon)...])
                return
            }
            // Written by an earlier build as an object.
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.graph = try container.decode(String.self, forKey: .graph)
            self.node = try container.decode(String.self, forKey: .node)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(self.graph + ":" + self.node)
        }
    }

    /// Whether the conversation goes on.
    public enum Status: String, Codable, Sendable {
        case active, paused, ended
    }

    public var version: Int = Self.currentVersion
    /// The coachee's language, such as `nl`.
    public var language: String
    /// The current node last; below it, the `call` nodes to return to.
    public var stack: [Position]
    /// Stored answers by name.
    public var answers: [String: String] = [:]
    /// The names of stored answers in the order they were first given.
    public var answerOrder: [String] = []
    /// Answers not to quote back, by what they were recognised as (not knowing, a question, a
    /// request for advice, distress, resistance): a text that quotes one says its neutral form.
    public var unquotable: Set<String> = []
    /// Counters raised by nodes with `increment`.
    public var counters: [String: Int] = [:]
    /// Facts from earlier sessions, given by the service at start.
    public var facts: [String: String] = [:]
    /// The stack before each answered question, newest last, for `back`.
    public var history: [[Position]] = []
    public var status: Status = .active
    /// When the state last changed.
    public var updatedAt: Date

    /// The current node.
    public var position: Position? { self.stack.last }

    /// The value of a name in conditions and text: an answer, else a counter, else a fact.
    public func value(of name: String) -> String? {
        if let answer = self.answers[name] { return answer }
        if let counter = self.counters[name] { return String(counter) }
        return self.facts[name]
    }

    /// Creates a state at the start of a conversation.
    public init(language: String, stack: [Position], facts: [String: String] = [:], updatedAt: Date) {
        self.language = language
        self.stack = stack
        self.facts = facts
        self.updatedAt = updatedAt
    }

    private enum CodingKeys: String, CodingKey {
        case version, language, stack, answers, answerOrder, unquotable, counters, facts, history, status, updatedAt
    }

    /// Reads a saved state; a state written by a newer Spiegel (a higher `version`) is refused
    /// rather than misread.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version = try container.decodeIfPresent(Int.self, forKey: .version) ?? 1
        guard version <= Self.currentVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .version, in: container,
                debugDescription: "dialogue state version \(version) was written by a newer Spiegel (this one reads up to \(Self.currentVersion))"
            )
        }
        self.version = Self.currentVersion
        self.language = try container.decode(String.self, forKey: .language)
        self.stack = try container.decode([Position].self, forKey: .stack)
        self.answers = try container.decodeIfPresent([String: String].self, forKey: .answers) ?? [:]
        self.answerOrder = try container.decodeIfPresent([String].self, forKey: .answerOrder) ?? []
        self.unquotable = try container.decodeIfPresent(Set<String>.self, forKey: .unquotable) ?? []
        self.counters = try container.decodeIfPresent([String: Int].self, forKey: .counters) ?? [:]
        self.facts = try container.decodeIfPresent([String: String].self, forKey: .facts) ?? [:]
        self.history = try container.decodeIfPresent([[Position]].self, forKey: .history) ?? []
        self.status = try container.decodeIfPresent(Status.self, forKey: .status) ?? .active
        self.updatedAt = try container.decode(Date.self, forKey: .updatedAt)
    }

    /// Every name with a value, for interpolation.
    var values: [String: String] {
        var values = self.facts
        for (name, count) in self.counters { values[name] = String(count) }
        values.merge(self.answers) { $1 }
        return values
    }
}

/// What the service must do after a step; the runner itself touches nothing outside the state.
public enum DialogueEffect: Sendable, Equatable {
    /// An answer was stored (to journal, and for history across sessions).
    case storeAnswer(name: String, value: String)
    /// The coachee paused the conversation.
    case pause
    /// The coachee picked the conversation up again.
    case resume
    /// The conversation ended, with the named answers its summary holds.
    case end(graph: String, summary: [String: String])
    /// The coachee asked for their own data.
    case requestExport
    /// The coachee asked to be forgotten (the service confirms before erasing).
    case requestErasure
    /// The coachee asked to share with their coach.
    case requestShare
    /// Propose another conversation later.
    case scheduleFollowUp(after: Int, graph: String)
}

/// The outcome of one step: the new state, what the bot says, and what the service must do.
public struct DialogueStep: Sendable, Equatable {
    public static func == (a: DialogueStep, b: DialogueStep) -> Bool {
        a.state == b.state && a.outputs == b.outputs && a.effects == b.effects
    }

    public var state: DialogueState
    public var outputs: [String]
    public var effects: [DialogueEffect]
    /// The message of this step and what it was recognised as (`heard.<label>` in conditions);
    /// not kept.
    var screened: (input: String, screening: Screening)?
    /// Whether a branch of this step went its way by what the message was recognised as: the
    /// graph answered that already.
    var followedScreening = false

    public init(state: DialogueState, outputs: [String], effects: [DialogueEffect]) {
        self.state = state
        self.outputs = outputs
        self.effects = effects
    }

    /// A name in a condition: `heard.<label>` holds when the message carried that label, any other
    /// name is the state's.
    func value(of name: String) -> String? {
        if name.hasPrefix(Self.whenPrefix) {
            let answer = self.state.value(of: String(name.dropFirst(Self.whenPrefix.count))) ?? ""
            return TimeReference.isNamed(in: answer, now: self.state.updatedAt) ? "ja" : nil
        }
        if name.hasPrefix(Self.heardPrefix) {
            let label = UtteranceLabel(rawValue: String(name.dropFirst(Self.heardPrefix.count)))
            return label.map { self.screened?.screening.contains($0) == true } == true ? "ja" : nil
        }
        return self.state.value(of: name)
    }

    /// Condition names that read the screening of the message.
    public static let heardPrefix = "heard."
    /// Condition names that hold when an answer says when: `when.plan`.
    public static let whenPrefix = "when."
}

/// A conversation cannot start or go on.
public struct DialogueRunnerError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { self.message }
}
