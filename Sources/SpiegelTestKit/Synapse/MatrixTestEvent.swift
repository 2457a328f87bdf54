import Foundation

/// An `m.room.message` event as a test sees it.
///
/// Its ``description`` leaves the body out, so a failing expectation prints no message text.
public struct MatrixTestEvent: Sendable, Equatable, CustomStringConvertible {
    /// The sender's user id.
    public let sender: String
    /// The event id.
    public let eventID: String
    /// `content.body`.
    public let body: String
    /// `content.msgtype`, such as `m.text` or `m.notice`.
    public let msgtype: String
    /// `content.formatted_body`, when the message has HTML.
    public let formattedBody: String?
    /// When the sender's server received it, in milliseconds since 1970.
    public let originServerTS: Int64
    /// `content.m.relates_to.m.in_reply_to.event_id`: the event this one replies to.
    public let inReplyTo: String?
    /// `content.m.relates_to.rel_type`, such as `m.thread` or `m.replace`.
    public let relationType: String?
    /// `content.m.relates_to.event_id`: the thread root or the replaced event.
    public let relatedEventID: String?
    /// The whole `content` object as JSON text (keys sorted).
    public let contentJSON: String

    /// Reads an event of the client-server API; `nil` unless it is an `m.room.message` with a
    /// body (redacted messages have none).
    init?(json: [String: Any]) {
        guard json["type"] as? String == "m.room.message",
            let eventID = json["event_id"] as? String,
            let sender = json["sender"] as? String,
            let content = json["content"] as? [String: Any],
            let body = content["body"] as? String
        else { return nil }
        self.sender = sender
        self.eventID = eventID
        self.body = body
        self.msgtype = content["msgtype"] as? String ?? ""
        self.formattedBody = content["formatted_body"] as? String
        self.originServerTS = (json["origin_server_ts"] as? NSNumber)?.int64Value ?? 0
        let relation = content["m.relates_to"] as? [String: Any]
        self.inReplyTo = (relation?["m.in_reply_to"] as? [String: Any])?["event_id"] as? String
        self.relationType = relation?["rel_type"] as? String
        self.relatedEventID = relation?["event_id"] as? String
        let data = (try? JSONSerialization.data(withJSONObject: content, options: [.sortedKeys])) ?? Data("{}".utf8)
        self.contentJSON = String(decoding: data, as: UTF8.self)
    }

    public var description: String {
        "MatrixTestEvent(\(self.eventID) from \(self.sender), \(self.msgtype), \(self.body.count) characters)"
    }
}

/// How a sent message relates to an earlier event (`content.m.relates_to`).
public enum MatrixTestRelation: Sendable {
    /// A reply to the event with this id.
    case reply(to: String)
    /// A message in the thread whose root has this id.
    case thread(root: String)
    /// An edit replacing the sender's own earlier event with this id; the text is the new one.
    case replacement(of: String)
    /// An `m.relates_to` object given as JSON text.
    case json(String)
}
