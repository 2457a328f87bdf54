import Foundation

/// A Matrix client event as a homeserver pushes it (application service transactions) or returns
/// it (`/sync`): only the fields Spiegel reads. Every field is optional where a malformed event
/// could lack it, so one odd event never spoils the batch it came in.
public struct MatrixEvent: Decodable, Sendable, Equatable {
    public var eventID: String?
    /// Set in transactions; `/sync` gives the room as the key around the event.
    public var roomID: String?
    public var sender: String?
    public var type: String
    public var stateKey: String?
    public var content: Content
    public var originServerTS: Int64?

    /// The parts of an event's content Spiegel reads.
    public struct Content: Decodable, Sendable, Equatable {
        public var msgtype: String?
        public var body: String?
        public var membership: String?
        public var isDirect: Bool?
        /// `m.relates_to.rel_type` (`m.replace` for an edit, `m.thread`, …).
        public var relationType: String?
        /// Whether the message answers another (`m.relates_to.m.in_reply_to`).
        public var isReply: Bool
        /// An encrypted event's or `m.room.encryption`'s algorithm.
        public var algorithm: String?
        /// A Megolm event's ciphertext, session and sender key (`m.room.encrypted`).
        public var ciphertext: String?
        public var sessionID: String?
        public var senderKey: String?
        /// `m.room.encryption`'s rotation settings.
        public var rotationPeriodMilliseconds: Int64?
        public var rotationPeriodMessages: Int?

        public init(msgtype: String? = nil, body: String? = nil, membership: String? = nil, isDirect: Bool? = nil, relationType: String? = nil, isReply: Bool = false) {
            self.msgtype = msgtype
            self.body = body
            self.membership = membership
            self.isDirect = isDirect
            self.relationType = relationType
            self.isReply = isReply
        }

        private enum CodingKeys: String, CodingKey {
            case msgtype, body, membership, algorithm, ciphertext
            case isDirect = "is_direct"
            case relatesTo = "m.relates_to"
            case sessionID = "session_id"
            case senderKey = "sender_key"
            case rotationPeriodMilliseconds = "rotation_period_ms"
            case rotationPeriodMessages = "rotation_period_msgs"
        }

        private struct RelatesTo: Decodable {
            var relType: String?
            var inReplyTo: InReplyTo?
            struct InReplyTo: Decodable {
                var eventID: String?
                enum CodingKeys: String, CodingKey { case eventID = "event_id" }
            }
            enum CodingKeys: String, CodingKey {
                case relType = "rel_type"
                case inReplyTo = "m.in_reply_to"
            }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.msgtype = try? container.decodeIfPresent(String.self, forKey: .msgtype)
            self.body = try? container.decodeIfPresent(String.self, forKey: .body)
            self.membership = try? container.decodeIfPresent(String.self, forKey: .membership)
            self.isDirect = try? container.decodeIfPresent(Bool.self, forKey: .isDirect)
            let relatesTo = try? container.decodeIfPresent(RelatesTo.self, forKey: .relatesTo)
            self.relationType = relatesTo?.relType
            self.isReply = relatesTo?.inReplyTo?.eventID != nil
            self.algorithm = try? container.decodeIfPresent(String.self, forKey: .algorithm)
            self.ciphertext = try? container.decodeIfPresent(String.self, forKey: .ciphertext)
            self.sessionID = try? container.decodeIfPresent(String.self, forKey: .sessionID)
            self.senderKey = try? container.decodeIfPresent(String.self, forKey: .senderKey)
            self.rotationPeriodMilliseconds = try? container.decodeIfPresent(Int64.self, forKey: .rotationPeriodMilliseconds)
            self.rotationPeriodMessages = try? container.decodeIfPresent(Int.self, forKey: .rotationPeriodMessages)
        }
    }

    public init(eventID: String?, roomID: String?, sender: String?, type: String, stateKey: String? = nil, content: Content, originServerTS: Int64? = nil) {
        self.eventID = eventID
        self.roomID = roomID
        self.sender = sender
        self.type = type
        self.stateKey = stateKey
        self.content = content
        self.originServerTS = originServerTS
    }

    private enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case roomID = "room_id"
        case sender, type, content
        case stateKey = "state_key"
        case originServerTS = "origin_server_ts"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.type = try container.decode(String.self, forKey: .type)
        self.eventID = try? container.decodeIfPresent(String.self, forKey: .eventID)
        self.roomID = try? container.decodeIfPresent(String.self, forKey: .roomID)
        self.sender = try? container.decodeIfPresent(String.self, forKey: .sender)
        self.stateKey = try? container.decodeIfPresent(String.self, forKey: .stateKey)
        self.originServerTS = try? container.decodeIfPresent(Int64.self, forKey: .originServerTS)
        self.content = (try? container.decodeIfPresent(Content.self, forKey: .content)) ?? Content()
    }

    /// The text of a message with a reply's quoted fallback (lines starting with `> ` up to the
    /// first empty line, as older clients send it) taken off.
    public var messageText: String? {
        guard var body = self.content.body else { return nil }
        if self.content.isReply, body.hasPrefix("> ") {
            let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
            if let blank = lines.firstIndex(where: { $0.isEmpty }) {
                body = lines[(blank + 1)...].joined(separator: "\n")
            }
        }
        return body
    }
}

/// A list that keeps the elements that decode and skips the rest.
public struct LenientArray<Element: Decodable & Sendable>: Decodable, Sendable {
    public var elements: [Element]
    /// How many were skipped.
    public var skipped: Int

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var elements: [Element] = []
        var skipped = 0
        while !container.isAtEnd {
            if let element = try? container.decode(Element.self) {
                elements.append(element)
            } else {
                skipped += 1
                _ = try? container.decode(Skip.self)
            }
        }
        self.elements = elements
        self.skipped = skipped
    }

    /// Decodes anything, reading nothing, so the container moves past it.
    private struct Skip: Decodable {
        init(from decoder: any Decoder) throws {}
    }
}
