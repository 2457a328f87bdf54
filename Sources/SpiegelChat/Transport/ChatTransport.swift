import Foundation
import HTTPTypes

/// A message written in a chat.
public struct ChatMessage: Sendable, Equatable {
    /// The chat's id of the message: a redelivered message has the same one.
    public var id: String
    /// The author's user id, namespaced by the transport where ids could collide.
    public var user: String
    /// Where it was written.
    public var room: String
    /// The room's name too, where the chat sends one (Mattermost's channel name).
    public var roomName: String?
    /// Where replies go when not to ``room`` (Mattermost answers in the writer's direct chat).
    public var replyRoom: String?
    public var text: String

    public init(id: String, user: String, room: String, text: String, roomName: String? = nil, replyRoom: String? = nil) {
        self.id = id
        self.user = user
        self.room = room
        self.roomName = roomName
        self.replyRoom = replyRoom
        self.text = text
    }
}

/// A chat system Spiegel talks to: its name (for metrics, the outbox and the vault) and how one
/// outgoing message is delivered. Inbound, each transport's route (or connection) turns what its
/// chat sends into ``ChatMessage``s for the gateway.
public protocol ChatTransport: Sendable {
    /// Short and stable: `plain`, `mattermost`, `matrix`, `irc`.
    var name: String { get }
    /// Whether a turn's replies go out as one message (see ``combinedReplies(_:)``) rather than
    /// one message each: chats that notify per message and render lists.
    var combinesReplies: Bool { get }
    /// Delivers `entry` (the outbox calls it for one entry of a room at a time, in order) and
    /// says what became of it.
    func deliver(_ entry: OutboxEntry, using client: any HTTPClient) async -> DeliveryOutcome
}

/// What became of one delivery.
public enum DeliveryOutcome: Sendable, Equatable {
    /// The chat took it.
    case delivered
    /// It can never be delivered (the chat refused it for good): logged, counted, dropped.
    case dropped(reason: String)
    /// Not now (the chat is down, busy or unreachable): tried again after `after`, or after the
    /// outbox's backoff when `nil`.
    case retry(after: Duration?)
}

/// A chat reached over HTTP (plain webhooks, Mattermost, Matrix): each entry becomes one request.
/// 2xx is delivered; 429 (with `Retry-After`), 408, 5xx and connection errors are tried again;
/// any other status drops the entry.
public protocol HTTPChatTransport: ChatTransport {
    /// The request that delivers `entry`; a thrown error is retried like a failed delivery (an
    /// encrypting transport may have to ask the chat server first).
    func request(for entry: OutboxEntry) async throws -> HTTPClientRequest
    /// How long a 429 asks the outbox to wait; `nil` leaves it to the backoff.
    func retryDelay(for response: HTTPClientResponse) -> Duration?
}

extension HTTPChatTransport {
    public func deliver(_ entry: OutboxEntry, using client: any HTTPClient) async -> DeliveryOutcome {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(try await self.request(for: entry))
        } catch is CancellationError {
            return .retry(after: nil)
        } catch let error as HTTPClientError where error.code == .invalidRequest {
            return .dropped(reason: "invalid request")
        } catch {
            // Connection refused, DNS, timeout, TLS, transport: the receiver may come back.
            return .retry(after: nil)
        }
        switch response.status.code {
        case 200..<300:
            return .delivered
        case 429:
            return .retry(after: self.retryDelay(for: response))
        case 500..<600, 408:
            return .retry(after: nil)
        default:
            return .dropped(reason: "HTTP \(response.status.code)")
        }
    }

    /// The `Retry-After` header in seconds.
    public func retryDelay(for response: HTTPClientResponse) -> Duration? {
        retryAfterHeader(of: response)
    }
}

/// A turn's replies as one message: paragraphs apart, but list lines (`– `, `- `, `• `, `1. `)
/// kept together, so the chat can show them as one list.
public func combinedReplies(_ texts: [String]) -> String {
    func isListLine(_ text: String) -> Bool {
        if text.hasPrefix("– ") || text.hasPrefix("- ") || text.hasPrefix("• ") { return true }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        return !digits.isEmpty && text.dropFirst(digits.count).hasPrefix(". ")
    }
    var combined = ""
    for (index, text) in texts.enumerated() {
        if index > 0 {
            combined += isListLine(text) ? "\n" : "\n\n"
        }
        combined += text
    }
    return combined
}

extension ChatTransport {
    /// One message per reply.
    public var combinesReplies: Bool { false }
}

/// A response's `Retry-After` in seconds (the date form is not used by chat servers).
func retryAfterHeader(of response: HTTPClientResponse) -> Duration? {
    response.headerFields[.retryAfter].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { .seconds($0) }
}
