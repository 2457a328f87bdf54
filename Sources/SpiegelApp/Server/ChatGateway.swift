import Crypto
import Foundation
import Logging
import Metrics
import SpiegelChat
import SpiegelCoach
import SpiegelVault
import Synchronization

/// The one door between the chats and Spiegel. Every transport's inbound routes hand it a
/// decoded message; everything Spiegel says in any chat (replies, reminders, notices, a room's
/// join and leave) goes out through it, into that transport's durable outbox.
///
/// It alone decides where a message goes:
/// - in a team room (``RoomPolicy``), a lesson-study round command goes to the ``TeamDesk``; the
///   rest is ignored (nothing said there is coached or kept);
/// - in a direct chat, a round command goes to the desk only when no conversation waits for the
///   teacher's answer ("Onze les was rommelig…" answering the lesson-study reflection is an
///   answer, not a round command); everything else is coached.
///
/// A message counts as accepted once it is journalled and its replies are in the outbox, so the
/// chat's retry after a crash is safe: a redelivered message is processed once and its replies
/// are queued again under the same keys.
final class ChatGateway: ChatInbound {
    let coaching: CoachingService
    let rooms: RoomPolicy
    /// Lesson-study rounds told in chat, when teams are configured.
    let teamDesk: TeamDesk?
    private let outboxes: [String: Outbox]
    private let logger: Logger
    private let inCounters = Mutex<[String: Counter]>([:])

    init(coaching: CoachingService, rooms: RoomPolicy, teamDesk: TeamDesk?, outboxes: [Outbox], logger: Logger) {
        self.coaching = coaching
        self.rooms = rooms
        self.teamDesk = teamDesk
        self.outboxes = Dictionary(outboxes.map { ($0.transport.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.logger = logger
    }

    // MARK: - Inbound

    /// Takes one message of `transport`'s chat.
    /// - Throws: ``RateLimited`` when the chat should send it again later; the vault's or the
    ///   outbox's error when it could not be kept (then nothing of it was acknowledged).
    func receive(_ message: ChatMessage, from transport: String) async throws -> InboundOutcome {
        guard let outbox = self.outboxes[transport] else {
            throw GatewayError(message: "no outbox for transport \(transport)")
        }
        var message = message
        // One person, one id: "José" typed as é or as e + ◌́ is the same teacher, one journal; the
        // text too, so a user id in it ("mijn coach is @josé") names the same person.
        message.user = Self.canonical(message.user)
        message.text = Self.canonical(message.text)
        // The chat's message id is unique per sender at most: the outbox keys carry the sender too.
        let scope = Self.scope(of: message.user)
        let replyRoom = message.replyRoom ?? message.room
        let inTeamRoom = self.rooms.isTeamRoom(message, in: transport)
        if let desk = self.teamDesk, desk.isRoundCommand(message, transport: transport) {
            let counts = try await inTeamRoom ? true : !self.coaching.isAwaitingAnswer(CoacheeID(message.user))
            if counts, let texts = try await desk.handle(message, transport: transport) {
                // Team logistics, not coaching: said where it was asked (a team room by name
                // where the chat posts by name, as Mattermost's incoming webhooks do).
                try await outbox.enqueue(texts.enumerated().map {
                    OutboxEntry(key: "\(scope)/\(message.id)#\($0.offset)", room: inTeamRoom ? message.roomName ?? message.room : replyRoom, text: $0.element, isPrivate: false)
                })
                return .accepted
            }
        }
        if inTeamRoom {
            Counter(label: "spiegel_inbound_rejected_total", dimensions: [("transport", transport), ("reason", "team_room")]).increment()
            return .ignored
        }
        // The replies' outbox entries are written with the turn, in one commit.
        let messageID = message.id
        @Sendable func entries(_ texts: [String], from first: Int) -> [OutboxEntry] {
            texts.enumerated().map { index, text in
                OutboxEntry(key: "\(scope)/\(messageID)#\(first + index)", room: replyRoom, text: text, isPrivate: true, replyTo: messageID)
            }
        }
        let combines = outbox.transport.combinesReplies
        @Sendable func messages(_ texts: [String]) -> [String] {
            combines && texts.count > 1 ? [combinedReplies(texts)] : texts
        }
        let queuedWithTurn = Mutex<(replies: Int, entries: Int)?>(nil)
        let companion = TurnCompanion { replies in
            let texts = messages(replies)
            let prepared = try await outbox.prepare(entries(texts, from: 0))
            return (prepared.write.map { [$0] } ?? [], { written in
                outbox.settle(prepared, written: written)
                if written { queuedWithTurn.withLock { $0 = (replies.count, texts.count) } }
            })
        }
        let reply = try await self.coaching.handle(InboundMessage(
            coachee: CoacheeID(message.user), text: message.text, id: message.id, address: .init(transport: transport, room: replyRoom)
        ), companion: companion)
        if reply.outcome == .rateLimited {
            // Not kept: the teacher hears once why the answers wait; the chat is told to try again.
            try await outbox.enqueue(reply.texts.enumerated().map { index, text in
                OutboxEntry(key: "\(scope)/\(message.id)#wait\(index)", room: replyRoom, text: text, isPrivate: true)
            })
            self.countIn(transport, reply.outcome)
            throw RateLimited(retryAfter: reply.retryAfter ?? .seconds(2))
        }
        if let queued = queuedWithTurn.withLock({ $0 }) {
            // Texts added after the turn (a note from another user's session) go after them.
            let later = Array(reply.texts.dropFirst(queued.replies))
            if !later.isEmpty {
                try await outbox.enqueue(entries(messages(later), from: queued.entries))
            }
        } else {
            try await outbox.enqueue(entries(messages(reply.texts), from: 0))
        }
        try await self.deliver(reply.deliveries)
        self.countIn(transport, reply.outcome)
        return reply.outcome == .duplicate ? .duplicate : .accepted
    }

    /// Counts a message in, by transport and outcome (each counter made once: the metrics
    /// backend's lookup takes its lock and builds the labels every time).
    private func countIn(_ transport: String, _ outcome: Reply.Outcome) {
        let key = transport + "/" + outcome.rawValue
        let counter = self.inCounters.withLock { counters in
            if let made = counters[key] { return made }
            let made = Counter(label: "spiegel_messages_in_total", dimensions: [("transport", transport), ("outcome", outcome.rawValue)])
            counters[key] = made
            return made
        }
        counter.increment()
    }

    /// `text` in Unicode's composed form (NFC). Text of scalars below U+0300 (ASCII, Latin-1, the
    /// Latin Extended letters: most of what teachers write) is NFC already, and is returned as it
    /// is without asking Foundation: in UTF-8 every byte of such text is below 0xCC.
    static func canonical(_ text: String) -> String {
        var text = text
        let composed = text.withUTF8 { bytes in bytes.allSatisfy { $0 < 0xCC } }
        return composed ? text : text.precomposedStringWithCanonicalMapping
    }

    /// A short, stable tag of a sender for outbox keys (which a Matrix homeserver sees as
    /// transaction ids): not the user id itself.
    static func scope(of user: String) -> String {
        SHA256.hash(data: Array(user.utf8)).withUnsafeBytes { Hex.string(UnsafeRawBufferPointer(rebasing: $0.prefix(6))) }
    }

    // MARK: - Outbound

    /// Says `text` in `room` of `transport`'s chat, once per `key`.
    /// - Parameter isPrivate: whether it carries what a coachee wrote or what was said to them:
    ///   such a text never goes to a team room (the outbox refuses it).
    func say(_ text: String, in room: String, via transport: String, key: String, isPrivate: Bool) async throws {
        try await self.outbox(transport).enqueue([OutboxEntry(key: key, room: room, text: text, isPrivate: isPrivate)])
    }

    /// Joins `room` (chats with membership, such as Matrix), before anything said there.
    func join(_ room: String, via transport: String, key: String) async throws {
        try await self.outbox(transport).enqueue([OutboxEntry(key: key, room: room, text: "", isPrivate: false, action: .join)])
    }

    /// Leaves `room`, after everything said there before.
    func leave(_ room: String, via transport: String, key: String) async throws {
        try await self.outbox(transport).enqueue([OutboxEntry(key: key, room: room, text: "", isPrivate: false, action: .leave)])
    }

    /// Queues messages for other users (a coach, a coachee) in their own transport's direct chat.
    func deliver(_ deliveries: [Delivery]) async throws {
        for delivery in deliveries {
            guard let outbox = self.outboxes[delivery.address.transport] else {
                self.logger.warning("spiegel.delivery.no_transport", metadata: ["spiegel.transport": "\(delivery.address.transport)"])
                continue
            }
            try await outbox.enqueue([OutboxEntry(key: delivery.key, room: delivery.address.room, text: delivery.text)])
        }
    }

    /// Whether `transport` is connected.
    func serves(_ transport: String) -> Bool {
        self.outboxes[transport] != nil
    }

    private func outbox(_ transport: String) throws -> Outbox {
        guard let outbox = self.outboxes[transport] else { throw GatewayError(message: "no outbox for transport \(transport)") }
        return outbox
    }
}

/// What an inbound route hands a decoded message to: the ``ChatGateway`` (a route test gives its
/// own, to check the refusals that never reach it).
protocol ChatInbound: Sendable {
    /// Takes one message of `transport`'s chat; see ``ChatGateway/receive(_:from:)``.
    func receive(_ message: ChatMessage, from transport: String) async throws -> InboundOutcome
}

/// What became of an inbound message.
enum InboundOutcome: String, Sendable {
    case accepted, duplicate, ignored
}

/// Which rooms are a team's, for every transport, from one place: the rooms configured per
/// transport (`plain.team_rooms`, `mattermost.team_channels`, `matrix.team_rooms`) and every
/// team's room in the teams file. Nothing is coached in a team room, and nothing private is sent
/// there.
struct RoomPolicy: Sendable {
    private let teamRooms: [String: Set<String>]

    init(configured: [String: [String]], teams: [TeamsFile.Team]) {
        var rooms = configured.mapValues(Set.init)
        for team in teams { rooms[team.transport, default: []].insert(team.room) }
        self.teamRooms = rooms
    }

    /// Whether `room` of `transport` is a team room.
    func isTeamRoom(_ room: String, in transport: String) -> Bool {
        self.teamRooms[transport]?.contains(room) ?? false
    }

    /// Whether the message was written in a team room (by its id or, where the chat has one, its
    /// name: Mattermost's channels are configured by either).
    func isTeamRoom(_ message: ChatMessage, in transport: String) -> Bool {
        self.isTeamRoom(message.room, in: transport) || message.roomName.map { self.isTeamRoom($0, in: transport) } ?? false
    }
}

/// A message or text for a transport that is not connected.
struct GatewayError: Error, CustomStringConvertible {
    let message: String
    var description: String { self.message }
}

/// A message came faster than the coachee's rate limit allows and was not kept: the chat should
/// send it again after `retryAfter` (the plain webhook says 429 with `Retry-After`; Matrix retries
/// the transaction or the sync).
struct RateLimited: Error {
    let retryAfter: Duration

    /// Whole seconds, rounded up, for a `Retry-After` header.
    var seconds: Int { Int((Double(self.retryAfter / .milliseconds(1)) / 1000).rounded(.up)) }
}
