import Crypto
public import Foundation
import SpiegelDialogue

/// What the service keeps of a coachee between messages, journalled (encrypted) as a snapshot after
/// every message: the conversation, the history across conversations, and the service's own state.
struct SessionSnapshot: Codable, Sendable {
    static let currentVersion = 1

    var version = Self.currentVersion
    /// The current or last conversation; `nil` before the first.
    var state: DialogueState?
    /// Finished conversations, oldest first.
    var history = CoacheeHistory()
    /// The latest inbound messages' ids, as their ``messageDigest(_:)``, to process a redelivered
    /// message once: those of the last ``dedupeWindow`` (at least the last ``dedupeMinimum``, at
    /// most ``dedupeMaximum``). Eight bytes each in every snapshot, where a chat's ids take 40 to 60.
    var recentMessageDigests: [UInt64] = []
    /// When each of them came, in the same order, to the millisecond (older snapshots have none:
    /// those ids count as old).
    var recentMessageTimes: [Date] = []
    /// The replies to the last ``repliesKept`` messages with an id, oldest first, given again for
    /// a redelivered message (its sender may not have received them: the transport was cut off
    /// after the journal write).
    var recentReplies: [RecentReply] = []
    /// A question of the service waiting for an answer (`forget`).
    var pendingConfirmation: String?
    /// The follow-up the last conversation proposed.
    var followUp: FollowUpProposal?
    /// The coachee said they want no follow-up messages ("geen opvolging").
    var followUpsOff = false
    /// Where the coachee last wrote from.
    var address: ReplyAddress?

    /// This coachee's coach, asked for or accepted (a pairing from config is not kept here).
    var pairing: CoachPairing?
    /// The summary the coachee is deciding about.
    var shareDraft: ShareDraft?
    /// Summaries this coachee shared, with the exact text (the consent records say the same).
    var shared: [SharedSummary] = []
    /// As a coach: who asked them to coach (and whether they were told), whom they coach, what
    /// was shared with them, and whom they invited.
    var pairingRequests: [PairingRequest] = []
    var coachees: [String] = []
    var received: [ReceivedSummary] = []
    /// Coaches who invited this user (each invites once).
    var invitedBy: [String] = []

    init() {}

    /// How long a message id is remembered: longer than any chat redelivers a message it got no
    /// answer to (Synapse retries an application service's transactions for hours; a bridge
    /// for minutes).
    static let dedupeWindow: TimeInterval = 72 * 3600
    static let dedupeMinimum = 100
    static let dedupeMaximum = 1000

    /// How many messages' replies are kept for a redelivery.
    static let repliesKept = 10

    /// What a message id is remembered by: the first eight bytes of its SHA-256. A new id matches
    /// one of the thousand kept at most by chance about once in 10¹⁶ messages.
    static func messageDigest(_ id: String) -> UInt64 {
        SHA256.hash(data: Array(id.utf8)).withUnsafeBytes { bytes in
            bytes.prefix(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    /// Whether a message whose id has this digest was processed within the window.
    func remembers(_ digest: UInt64) -> Bool {
        self.recentMessageDigests.contains(digest)
    }

    /// The replies given to the message with this id, if they are still kept.
    func replies(to id: String) -> [String] {
        self.recentReplies.last { $0.id == id }?.texts ?? []
    }

    /// Remembers `id` (whose digest is `digest`) and the replies it got, and forgets the ids that
    /// fell out of the window and the replies of all but the last ``repliesKept``.
    mutating func remember(_ id: String, digest: UInt64, replies: [String], at now: Date) {
        // Older snapshots: their ids get this moment, so they too are kept for the window.
        if self.recentMessageTimes.count != self.recentMessageDigests.count {
            self.recentMessageTimes = Array(repeating: now, count: self.recentMessageDigests.count)
        }
        self.recentMessageDigests.append(digest)
        self.recentMessageTimes.append(now)
        var drop = max(0, self.recentMessageDigests.count - Self.dedupeMaximum)
        while drop < self.recentMessageDigests.count - Self.dedupeMinimum,
            now.timeIntervalSince(self.recentMessageTimes[drop]) > Self.dedupeWindow
        {
            drop += 1
        }
        self.recentMessageDigests.removeFirst(drop)
        self.recentMessageTimes.removeFirst(drop)
        self.recentReplies.append(RecentReply(id: id, texts: replies))
        if self.recentReplies.count > Self.repliesKept { self.recentReplies.removeFirst(self.recentReplies.count - Self.repliesKept) }
    }

    /// Older builds' fields, read from their JSON snapshots: the ids themselves, and the replies
    /// by id.
    private enum LegacyCodingKeys: String, CodingKey {
        case recentMessageIDs
        case recentReplies
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.version = try container.decode(Int.self, forKey: .version)
        guard self.version <= Self.currentVersion else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: container, debugDescription: "a session snapshot of version \(self.version) is newer than this Spiegel (\(Self.currentVersion))")
        }
        self.state = try container.decodeIfPresent(DialogueState.self, forKey: .state)
        self.history = try container.decodeIfPresent(CoacheeHistory.self, forKey: .history) ?? CoacheeHistory()
        self.recentMessageTimes = try container.decodeIfPresent([Date].self, forKey: .recentMessageTimes) ?? []
        if let digests = try container.decodeIfPresent([UInt64].self, forKey: .recentMessageDigests) {
            self.recentMessageDigests = digests
            self.recentReplies = try container.decodeIfPresent([RecentReply].self, forKey: .recentReplies) ?? []
        } else {
            let legacy = try decoder.container(keyedBy: LegacyCodingKeys.self)
            let ids = try legacy.decodeIfPresent([String].self, forKey: .recentMessageIDs) ?? []
            self.adoptLegacy(ids: ids, replies: try legacy.decodeIfPresent([String: [String]].self, forKey: .recentReplies) ?? [:])
        }
        self.pendingConfirmation = try container.decodeIfPresent(String.self, forKey: .pendingConfirmation)
        self.followUp = try container.decodeIfPresent(FollowUpProposal.self, forKey: .followUp)
        self.address = try container.decodeIfPresent(ReplyAddress.self, forKey: .address)
        self.pairing = try container.decodeIfPresent(CoachPairing.self, forKey: .pairing)
        self.shareDraft = try container.decodeIfPresent(ShareDraft.self, forKey: .shareDraft)
        self.shared = try container.decodeIfPresent([SharedSummary].self, forKey: .shared) ?? []
        self.pairingRequests = try container.decodeIfPresent([PairingRequest].self, forKey: .pairingRequests) ?? []
        self.coachees = try container.decodeIfPresent([String].self, forKey: .coachees) ?? []
        self.received = try container.decodeIfPresent([ReceivedSummary].self, forKey: .received) ?? []
        self.invitedBy = try container.decodeIfPresent([String].self, forKey: .invitedBy) ?? []
        self.followUpsOff = try container.decodeIfPresent(Bool.self, forKey: .followUpsOff) ?? false
    }
}

/// The replies one message got, kept for its redelivery.
struct RecentReply: Codable, Sendable, Equatable {
    var id: String
    var texts: [String]
}

extension SessionSnapshot {
    /// Takes the message ids and the replies by id of an older build's snapshot: the ids as their
    /// digests, the replies in the order of their ids.
    mutating func adoptLegacy(ids: [String], replies: [String: [String]]) {
        self.recentMessageDigests = ids.map(Self.messageDigest)
        self.recentReplies = Array(ids.compactMap { id in replies[id].map { RecentReply(id: id, texts: $0) } }.suffix(Self.repliesKept))
    }
}

/// A summary as its coachee keeps it: for "wat heb ik gedeeld?" and "trek in".
struct SharedSummary: Codable, Sendable, Equatable {
    var id: String
    var coach: String
    var sentAt: Date
    var text: String
    var withdrawn = false
}

/// A coachee's request to a coach.
struct PairingRequest: Codable, Sendable, Equatable {
    var coachee: String
    /// Whether the coach was told (a coach who never wrote hears it with their next message).
    var announced: Bool
}

/// A conversation's proposal to talk again later: one message on the day of the plan (or a week
/// after), asking how it went and whether the teacher saw the sign they named.
struct FollowUpProposal: Codable, Sendable, Equatable {
    var graph: String
    var due: Date
    /// The plan and its sign in the teacher's words, for the message; `nil` when there was none.
    var plan: String?
    var sign: String?
}

/// A coachee's finished conversations and what they said in their summaries: the source of the
/// facts a new conversation starts with (`vorige.plan`, `vorige.cijfer`, `thema.herhaald`…) and of
/// "mijn voortgang".
public struct CoacheeHistory: Codable, Sendable, Equatable {
    /// One finished conversation.
    public struct Session: Codable, Sendable, Equatable {
        public var graph: String
        public var endedAt: Date
        /// The answers the graph's `end` names for its summary, in the coachee's words.
        public var summary: [String: String]

        public init(graph: String, endedAt: Date, summary: [String: String]) {
            self.graph = graph
            self.endedAt = endedAt
            self.summary = summary
        }
    }

    /// Oldest first; the last 100 are kept.
    public var sessions: [Session] = []

    public init(sessions: [Session] = []) {
        self.sessions = sessions
    }

    mutating func append(_ session: Session) {
        self.sessions.append(session)
        if self.sessions.count > 100 { self.sessions.removeFirst(self.sessions.count - 100) }
    }

    /// The facts a new conversation starts with: the latest goal, plan and score
    /// (`vorige.doel`, `vorige.plan`, `vorige.cijfer`), how many conversations ended (`sessies`),
    /// and how many of them share a theme word with the latest one (`thema.herhaald`, from 2 on).
    public var facts: [String: String] {
        var facts: [String: String] = [:]
        if !self.sessions.isEmpty { facts["sessies"] = String(self.sessions.count) }
        for name in ["doel", "plan", "cijfer"] {
            if let value = self.sessions.last(where: { $0.summary[name] != nil })?.summary[name] {
                facts["vorige." + name] = value
            }
        }
        if let latest = self.sessions.last {
            let theme = Self.themeWords(of: latest)
            if !theme.isEmpty {
                let count = self.sessions.filter { !Self.themeWords(of: $0).isDisjoint(with: theme) }.count
                if count >= 2 { facts["thema.herhaald"] = String(count) }
            }
        }
        return facts
    }

    /// The scores of the conversations that had one, oldest first, with their dates.
    public var scores: [(date: Date, score: Int)] {
        self.sessions.compactMap { session in session.summary["cijfer"].flatMap(Int.init).map { (session.endedAt, $0) } }
    }

    /// Words of six letters or more from a conversation's goal and challenge: the theme.
    static func themeWords(of session: Session) -> Set<String> {
        let text = [session.summary["doel"], session.summary["uitdaging"]].compactMap { $0 }.joined(separator: " ")
        let words = text.lowercased().folding(options: [.diacriticInsensitive], locale: nil)
            .split { !$0.isLetter }.map(String.init)
        return Set(words.filter { $0.count >= 6 && !Self.commonWords.contains($0) })
    }

    /// Long words that say nothing about a theme.
    private static let commonWords: Set<String> = [
        "leerlingen", "leerling", "lessen", "gesprek", "zouden", "kunnen", "willen", "moeten", "eigenlijk",
        "pupils", "lesson", "lessons", "better", "beter", "should", "would", "conversation",
    ]
}
