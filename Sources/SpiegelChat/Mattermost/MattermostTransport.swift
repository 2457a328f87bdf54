import Foundation
import HTTPTypes

/// Mattermost (or Slack) as a ``ChatTransport``: an outgoing webhook posts each message as a form
/// (``MattermostOutgoingWebhook``); replies go to an incoming webhook as `{"text", "channel",
/// "username"}`, into the writer's direct chat (`@<user_name>`), with the entry's key as
/// `Idempotency-Key`.
public struct MattermostTransport: HTTPChatTransport {
    /// The transport's name at the gateway, in metrics and in the outbox's journal.
    public static let name = "mattermost"
    public var name: String { Self.name }
    /// A turn is one post: one notification on a phone, and lists rendered as lists.
    public let combinesReplies = true
    public let url: String
    /// Rooms with an incoming webhook of their own.
    public let roomURLs: [String: String]
    public let botName: String

    public init(url: String, roomURLs: [String: String], botName: String) {
        self.url = url
        self.roomURLs = roomURLs
        self.botName = botName
    }

    struct IncomingWebhookMessage: Encodable {
        var text: String
        var channel: String
        var username: String
    }

    /// The incoming-webhook POST that delivers an outbox entry.
    public func request(for entry: OutboxEntry) -> HTTPClientRequest {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = [UInt8]((try? encoder.encode(IncomingWebhookMessage(text: entry.text, channel: entry.room, username: self.botName))) ?? Data())
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("Idempotency-Key")!] = entry.key
        return HTTPClientRequest(method: .post, url: self.roomURLs[entry.room] ?? self.url, headerFields: headers, body: body, timeout: .seconds(15))
    }
}

/// What a Mattermost (or Slack) outgoing webhook posts, as form fields.
public struct MattermostOutgoingWebhook: Decodable, Sendable {
    public var token: String?
    public var userID: String?
    public var userName: String?
    public var channelID: String?
    public var channelName: String?
    public var text: String?
    public var postID: String?
    public var timestamp: String?

    enum CodingKeys: String, CodingKey {
        case token, text, timestamp
        case userID = "user_id"
        case userName = "user_name"
        case channelID = "channel_id"
        case channelName = "channel_name"
        case postID = "post_id"
    }

    public init(token: String? = nil, userID: String? = nil, userName: String? = nil, channelID: String? = nil, channelName: String? = nil, text: String? = nil, postID: String? = nil, timestamp: String? = nil) {
        self.token = token
        self.userID = userID
        self.userName = userName
        self.channelID = channelID
        self.channelName = channelName
        self.text = text
        self.postID = postID
        self.timestamp = timestamp
    }

    /// The message for the gateway (its user id namespaced as `mattermost:<user_id>`, its replies
    /// to the writer's direct chat), or the first required field that is missing.
    public func message() -> Result<ChatMessage, MissingField> {
        guard let userID, !userID.isEmpty else { return .failure(MissingField(name: "user_id")) }
        guard let userName, !userName.isEmpty else { return .failure(MissingField(name: "user_name")) }
        guard let channelID, !channelID.isEmpty else { return .failure(MissingField(name: "channel_id")) }
        guard let text else { return .failure(MissingField(name: "text")) }
        // Slack sends no post id: its timestamp is unique per channel.
        let id = self.postID.flatMap { $0.isEmpty ? nil : $0 } ?? "\(channelID):\(self.timestamp ?? "")"
        return .success(ChatMessage(id: id, user: "mattermost:" + userID, room: channelID, text: text, roomName: self.channelName, replyRoom: "@" + userName))
    }

    /// A required form field that is missing.
    public struct MissingField: Error, Sendable {
        public let name: String
    }
}
