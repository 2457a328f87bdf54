import Crypto
import Foundation
import Logging
import Metrics
import SpiegelChat
import SpiegelCoach
import SpiegelVault
import Synchronization

/// Where every transport's events meet the coaching service: a message in a team room is ignored;
/// any other message is coached, and its replies are in the transport's outbox before the event
/// counts as accepted (so the chat's retry after a crash is safe: a redelivered message is
/// processed once and its replies are queued again under the same keys).
struct ChatGateway: Sendable {
    enum Outcome: String {
        case accepted, duplicate, ignored
    }

    let coaching: CoachingService
    let outbox: Outbox
    /// Every transport's outbox, for messages to other users' direct chats (a coach may talk to
    /// Spiegel over another chat than their coachee).
    let outboxes: OutboxDirectory
    /// Lesson-study rounds told in chat, when teams are configured.
    let teamDesk: TeamDesk?
    let logger: Logger

    var transport: any ChatTransport { self.outbox.transport }

    func receive(_ event: ChatEvent) async throws -> Outcome {
        guard case .message(var message) = event else {
            // Invites, joins and leaves matter to Matrix; the webhook chats send none.
            return .ignored
        }
        // One person, one id: "José" typed as é or as e + ◌́ is the same teacher, one journal; the
        // text too, so a user id in it ("mijn coach is @josé") names the same person.
        message.user = message.user.precomposedStringWithCanonicalMapping
        message.text = message.text.precomposedStringWithCanonicalMapping
        // The chat's message id is unique per sender at most: the outbox keys carry the sender too.
        let scope = Self.scope(of: message.user)
        if let desk = self.teamDesk, let texts = try await desk.handle(message, transport: self.transport.name) {
            // A round told to the bot (also in the team room): team logistics, not coaching.
            try await self.outbox.enqueue(texts.enumerated().map { OutboxEntry(key: "\(scope)/\(message.id)#\($0.offset)", room: message.room, text: $0.element, isPrivate: false) })
            return .accepted
        }
        if self.transport.teamRooms.contains(message.room) {
            Counter(label: "spiegel_inbound_rejected_total", dimensions: [("transport", self.transport.name), ("reason", "team_room")]).increment()
            return .ignored
        }
        let reply = try await self.coaching.handle(InboundMessage(
            coachee: CoacheeID(message.user), text: message.text, id: message.id, address: .init(transport: self.transport.name, room: message.room)
        ))
        if reply.outcome == .rateLimited {
            // Not kept: the teacher hears once why the answers wait; the chat is told to try again.
            try await self.outbox.enqueue(reply.texts.enumerated().map { index, text in
                OutboxEntry(key: "\(scope)/\(message.id)#wait\(index)", room: message.room, text: text, isPrivate: true)
            })
            Counter(label: "spiegel_messages_in_total", dimensions: [("transport", self.transport.name), ("outcome", reply.outcome.rawValue)]).increment()
            throw RateLimited(retryAfter: reply.retryAfter ?? .seconds(2))
        }
        let texts = self.transport.combinesReplies && reply.texts.count > 1 ? [combinedReplies(reply.texts)] : reply.texts
        try await self.outbox.enqueue(texts.enumerated().map { index, text in
            OutboxEntry(key: "\(scope)/\(message.id)#\(index)", room: message.room, text: text, isPrivate: true, replyTo: message.id)
        })
        try await self.deliver(reply.deliveries)
        Counter(label: "spiegel_messages_in_total", dimensions: [("transport", self.transport.name), ("outcome", reply.outcome.rawValue)]).increment()
        return reply.outcome == .duplicate ? .duplicate : .accepted
    }

    /// A short, stable tag of a sender for outbox keys (which a Matrix homeserver sees as
    /// transaction ids): not the user id itself.
    static func scope(of user: String) -> String {
        SHA256.hash(data: Data(user.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    /// Queues messages for other users in their own transport's outbox (which refuses a team room).
    func deliver(_ deliveries: [Delivery]) async throws {
        for delivery in deliveries {
            guard let outbox = self.outboxes[delivery.address.transport] else {
                self.logger.warning("spiegel.delivery.no_transport", metadata: ["spiegel.transport": "\(delivery.address.transport)"])
                continue
            }
            try await outbox.enqueue([OutboxEntry(key: delivery.key, room: delivery.address.room, text: delivery.text)])
        }
    }
}

/// A message came faster than the coachee's rate limit allows and was not kept: the chat should
/// send it again after `retryAfter` (the plain webhook says 429 with `Retry-After`; Matrix retries
/// the transaction or the sync).
struct RateLimited: Error {
    let retryAfter: Duration

    /// Whole seconds, rounded up, for a `Retry-After` header.
    var seconds: Int { Int((Double(self.retryAfter / .milliseconds(1)) / 1000).rounded(.up)) }
}

/// The outboxes by transport name, filled as the server makes them.
final class OutboxDirectory: Sendable {
    private let outboxes = Mutex<[String: Outbox]>([:])

    func add(_ outbox: Outbox) {
        self.outboxes.withLock { $0[outbox.transport.name] = outbox }
    }

    subscript(transport: String) -> Outbox? {
        self.outboxes.withLock { $0[transport] }
    }
}

/// The plain webhook protocol's outbound side: a signed JSON POST to the bridge.
struct PlainTransport: ChatTransport {
    let name = "plain"
    let teamRooms: Set<String>
    let url: String
    let signature: PlainSignature
    /// The clock of the signature's timestamp.
    let now: @Sendable () -> Date

    func request(for entry: OutboxEntry) -> HTTPClientRequest {
        PlainWebhookRoutes.request(for: entry, url: self.url, signature: self.signature, now: self.now())
    }
}

/// Mattermost's (or Slack's) incoming webhook.
struct MattermostTransport: ChatTransport {
    let name = "mattermost"
    let teamRooms: Set<String>
    let url: String
    /// Rooms with an incoming webhook of their own.
    let roomURLs: [String: String]
    let botName: String

    func request(for entry: OutboxEntry) -> HTTPClientRequest {
        MattermostRoutes.request(for: entry, url: self.roomURLs[entry.room] ?? self.url, botName: self.botName)
    }
}
