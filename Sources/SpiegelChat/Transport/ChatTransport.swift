/// What happened in a chat, as a transport hands it to Spiegel.
public enum ChatEvent: Sendable, Equatable {
    /// Someone wrote in a room.
    case message(ChatMessage)
    /// The bot was invited to a room.
    case invite(room: String, by: String)
    /// Someone joined a room the bot is in.
    case joined(room: String, user: String)
    /// Someone left a room the bot is in.
    case left(room: String, user: String)
}

/// A message written in a chat.
public struct ChatMessage: Sendable, Equatable {
    /// The chat's id of the message: a redelivered message has the same one.
    public var id: String
    /// The author's user id, namespaced by the transport where ids could collide.
    public var user: String
    /// Where it was written.
    public var room: String
    public var text: String

    public init(id: String, user: String, room: String, text: String) {
        self.id = id
        self.user = user
        self.room = room
        self.text = text
    }
}

/// A chat system Spiegel talks to: its name (for metrics, the outbox and the vault) and how one
/// outgoing message becomes an HTTP request. Inbound, each transport's route turns what its chat
/// sends into ``ChatEvent``s.
public protocol ChatTransport: Sendable {
    /// Short and stable: `plain`, `mattermost`, `matrix`.
    var name: String { get }
    /// Rooms shared by a team: no coaching there, and no private entry is ever sent there.
    var teamRooms: Set<String> { get }
    /// The request that delivers `entry`.
    func request(for entry: OutboxEntry) -> HTTPClientRequest
}
