import Foundation
import HTTPTypes

/// A small Matrix client-server API client for one user, to play the people a bot talks to.
///
/// Every call is one request (or a polling loop of them) on a libcurl client shared by the whole
/// process. Errors are ``SynapseHarnessError``s naming the request and the Matrix error code.
public struct MatrixTestClient: Sendable {
    /// The homeserver's base URL, such as `http://127.0.0.1:8008`.
    public let baseURL: String
    /// The user's id, such as `@teacher:spiegel.test`.
    public let userID: String
    /// The user's access token.
    public let accessToken: String
    /// The device the access token belongs to, when known.
    public let deviceID: String?

    /// A client for a user whose access token is known.
    public init(baseURL: String, userID: String, accessToken: String, deviceID: String? = nil) {
        self.baseURL = baseURL
        self.userID = userID
        self.accessToken = accessToken
        self.deviceID = deviceID
    }

    // MARK: - Rooms

    /// Creates a room and returns its id.
    /// - Parameters:
    ///   - name: the room's name.
    ///   - invite: users invited at once.
    ///   - isDirect: a direct chat (preset `trusted_private_chat`, `is_direct`); otherwise preset
    ///     `private_chat`.
    ///   - encrypted: whether the room starts with `m.room.encryption` (megolm).
    @discardableResult
    public func createRoom(name: String? = nil, invite: [String] = [], isDirect: Bool = false, encrypted: Bool = false) async throws -> String {
        var body: [String: Any] = [
            "preset": isDirect ? "trusted_private_chat" : "private_chat",
            "is_direct": isDirect,
            "invite": invite,
        ]
        if let name { body["name"] = name }
        if encrypted {
            body["initial_state"] = [
                ["type": "m.room.encryption", "state_key": "", "content": ["algorithm": "m.megolm.v1.aes-sha2"]] as [String: Any]
            ]
        }
        let answer = try await self.call(.post, "/_matrix/client/v3/createRoom", json: body)
        return try Self.string("room_id", in: answer, of: "createRoom")
    }

    /// Joins a room by id or alias and returns its id.
    @discardableResult
    public func join(_ roomIDOrAlias: String) async throws -> String {
        let answer = try await self.call(.post, "/_matrix/client/v3/join/\(Self.segment(roomIDOrAlias))")
        return try Self.string("room_id", in: answer, of: "join")
    }

    /// Invites `user` to `room`.
    public func invite(_ user: String, to room: String) async throws {
        _ = try await self.call(.post, "/_matrix/client/v3/rooms/\(Self.segment(room))/invite", json: ["user_id": user])
    }

    /// Leaves `room`.
    public func leave(_ room: String) async throws {
        _ = try await self.call(.post, "/_matrix/client/v3/rooms/\(Self.segment(room))/leave")
    }

    /// The ids of the rooms the user has joined.
    public func joinedRooms() async throws -> [String] {
        let answer = try await self.call(.get, "/_matrix/client/v3/joined_rooms")
        return answer["joined_rooms"] as? [String] ?? []
    }

    /// The user ids of the joined members of `room`, sorted.
    public func joinedMembers(of room: String) async throws -> [String] {
        let answer = try await self.call(.get, "/_matrix/client/v3/rooms/\(Self.segment(room))/joined_members")
        return ((answer["joined"] as? [String: Any]) ?? [:]).keys.sorted()
    }

    /// The user id the access token belongs to.
    public func whoami() async throws -> String {
        let answer = try await self.call(.get, "/_matrix/client/v3/account/whoami")
        return try Self.string("user_id", in: answer, of: "whoami")
    }

    // MARK: - Sending

    /// Sends an `m.room.message` and returns its event id.
    /// - Parameters:
    ///   - text: `content.body`.
    ///   - room: the room id.
    ///   - msgtype: `m.text` unless given (`m.notice`, `m.emote`, ...).
    ///   - formattedBody: HTML sent as `formatted_body` (format `org.matrix.custom.html`).
    ///   - relatesTo: a reply, thread or edit relation.
    @discardableResult
    public func send(
        _ text: String,
        to room: String,
        msgtype: String = "m.text",
        formattedBody: String? = nil,
        relatesTo: MatrixTestRelation? = nil
    ) async throws -> String {
        var content: [String: Any] = ["msgtype": msgtype, "body": text]
        if let formattedBody {
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = formattedBody
        }
        switch relatesTo {
        case nil:
            break
        case .reply(let eventID):
            content["m.relates_to"] = ["m.in_reply_to": ["event_id": eventID]]
        case .thread(let root):
            content["m.relates_to"] = [
                "rel_type": "m.thread", "event_id": root, "is_falling_back": true,
                "m.in_reply_to": ["event_id": root],
            ] as [String: Any]
        case .replacement(let eventID):
            content["m.new_content"] = content
            content["body"] = "* " + text
            content["m.relates_to"] = ["rel_type": "m.replace", "event_id": eventID]
        case .json(let json):
            content["m.relates_to"] = try Self.object(fromJSON: json, what: "relatesTo")
        }
        return try await self.sendEvent(type: "m.room.message", content: content, to: room)
    }

    /// Sends an event of any type whose content is given as JSON text (for example an
    /// `m.room.encrypted` the bot cannot read) and returns its event id.
    @discardableResult
    public func sendRaw(type: String, contentJSON: String, to room: String) async throws -> String {
        try await self.sendEvent(type: type, content: try Self.object(fromJSON: contentJSON, what: "contentJSON"), to: room)
    }

    private func sendEvent(type: String, content: [String: Any], to room: String) async throws -> String {
        let transactionID = "spiegel-\(UUID().uuidString)"
        let path = "/_matrix/client/v3/rooms/\(Self.segment(room))/send/\(Self.segment(type))/\(transactionID)"
        let answer = try await self.call(.put, path, json: content)
        return try Self.string("event_id", in: answer, of: "send")
    }

    // MARK: - Reading

    /// The latest `m.room.message` events of `room` (at most `limit`), oldest first; redacted
    /// ones left out.
    /// - Parameter sender: only this user's messages, when given.
    public func messages(in room: String, limit: Int = 100, from sender: String? = nil) async throws -> [MatrixTestEvent] {
        var filter: [String: Any] = ["types": ["m.room.message"]]
        if let sender { filter["senders"] = [sender] }
        var events: [MatrixTestEvent] = []
        var from: String?
        // Synapse answers at most 1000 events a page.
        while events.count < limit {
            var query = [("dir", "b"), ("limit", String(min(limit - events.count, 1000))), ("filter", try Self.jsonText(filter))]
            if let from { query.append(("from", from)) }
            let answer = try await self.call(.get, "/_matrix/client/v3/rooms/\(Self.segment(room))/messages", query: query)
            let chunk = answer["chunk"] as? [[String: Any]] ?? []
            events.append(contentsOf: chunk.compactMap(MatrixTestEvent.init(json:)))
            guard !chunk.isEmpty, let end = answer["end"] as? String else { break }
            from = end
        }
        return events.reversed()
    }

    /// Waits until `room` holds at least `count` messages from `sender`, polling every 100 ms, and
    /// returns that sender's latest messages (at least `count`), oldest first.
    /// - Throws: ``SynapseHarnessError`` with the counts seen when `timeout` passes first.
    public func waitForMessages(in room: String, from sender: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [MatrixTestEvent] {
        let deadline = ContinuousClock.now + timeout
        var seen: [MatrixTestEvent] = []
        while true {
            seen = try await self.messages(in: room, limit: max(count, 100), from: sender)
            if seen.count >= count { return seen }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let all = (try? await self.messages(in: room, limit: 1000).count).map(String.init) ?? "?"
        throw SynapseHarnessError(
            "waited \(timeout) for \(count) messages from \(sender) in \(room): saw \(seen.count) from them, \(all) in all"
        )
    }

    /// Waits until `user`'s membership in `room` is `membership` (`join`, `invite`, `leave`, ...),
    /// polling its `m.room.member` state every 100 ms.
    /// - Throws: ``SynapseHarnessError`` with the last membership seen when `timeout` passes first.
    public func waitForMembership(of user: String, in room: String, membership: String = "join", timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        let path = "/_matrix/client/v3/rooms/\(Self.segment(room))/state/m.room.member/\(Self.segment(user))"
        var last = "none"
        while true {
            do {
                let answer = try await self.call(.get, path)
                last = answer["membership"] as? String ?? "none"
                if last == membership { return }
            } catch let error as SynapseHarnessError {
                last = "none (\(error.message))"
            }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw SynapseHarnessError("waited \(timeout) for \(user) to be '\(membership)' in \(room): last saw \(last)")
    }

    /// One `/sync`: the `m.room.message` events of joined rooms' timelines since `since` (at most
    /// 100 a room; the latest ones of each room when `since` is `nil`), in order of arrival.
    /// - Parameters:
    ///   - since: the `nextBatch` of the previous sync; `nil` for the first.
    ///   - timeoutMilliseconds: how long Synapse may hold the request when nothing is new.
    public func sync(since: String?, timeoutMilliseconds: Int) async throws -> (nextBatch: String, messages: [(room: String, event: MatrixTestEvent)]) {
        let filter: [String: Any] = [
            "room": [
                "timeline": ["types": ["m.room.message"], "limit": 100],
                "state": ["lazy_load_members": true],
                "ephemeral": ["types": [] as [String]],
                "account_data": ["types": [] as [String]],
            ] as [String: Any],
            "presence": ["types": [] as [String]],
            "account_data": ["types": [] as [String]],
        ]
        var query = [("timeout", String(timeoutMilliseconds)), ("filter", try Self.jsonText(filter))]
        if let since { query.append(("since", since)) }
        let answer = try await self.call(
            .get,
            "/_matrix/client/v3/sync",
            query: query,
            timeout: .milliseconds(timeoutMilliseconds) + .seconds(30)
        )
        let nextBatch = try Self.string("next_batch", in: answer, of: "sync")
        let joined = ((answer["rooms"] as? [String: Any])?["join"] as? [String: Any]) ?? [:]
        var messages: [(room: String, event: MatrixTestEvent)] = []
        for (room, value) in joined {
            let timeline = (value as? [String: Any])?["timeline"] as? [String: Any]
            for event in (timeline?["events"] as? [[String: Any]]) ?? [] {
                if let message = MatrixTestEvent(json: event) { messages.append((room, message)) }
            }
        }
        // Stable: a room's events keep their order when timestamps tie.
        let ordered = messages.enumerated().sorted {
            ($0.element.event.originServerTS, $0.offset) < ($1.element.event.originServerTS, $1.offset)
        }
        return (nextBatch, ordered.map(\.element))
    }

    // MARK: - Helpers

    private func call(
        _ method: HTTPRequest.Method,
        _ path: String,
        query: [(String, String)] = [],
        json: [String: Any]? = nil,
        timeout: Duration? = nil
    ) async throws -> [String: Any] {
        try await SynapseHTTP.request(method, self.baseURL, path, query: query, accessToken: self.accessToken, json: json, timeout: timeout)
    }

    private static func segment(_ text: String) -> String {
        SynapseHTTP.percentEncoded(text)
    }

    private static func string(_ key: String, in answer: [String: Any], of call: String) throws -> String {
        guard let value = answer[key] as? String else {
            throw SynapseHarnessError("\(call) answered without \(key)")
        }
        return value
    }

    private static func jsonText(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    private static func object(fromJSON text: String, what: String) throws -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw SynapseHarnessError("\(what) is not a JSON object")
        }
        return object
    }
}
