import Foundation
import HTTPTypes
import Logging
import Metrics
import SpiegelChat
import SpiegelCoach
import Synchronization
import SpiegelVault

/// How Spiegel behaves in Matrix rooms, the same whether events are pushed by the homeserver
/// (application service) or pulled with `/sync`:
///
/// - an invite is accepted (the join goes through the outbox, before anything said in the room);
/// - a room whose joined members are the bot and one person is that person's direct chat, where
///   every text message is coached; a room listed in config is a team room (no coaching); in any
///   other room the bot explains once what it is for and stays quiet;
/// - messages of the bot itself, of users listed as bots and notices (`m.notice`, which bots send)
///   are ignored; a reply is read without its quoted fallback; an edit is not taken as a new
///   answer (the bot says once that it reads new messages only); a picture or file gets one note
///   that the bot reads text only;
/// - in an end-to-end encrypted room, messages are decrypted (and replies encrypted) by
///   ``MatrixEncryption``; a message whose room key has not come yet waits for it. With
///   `matrix.encryption: require` an unencrypted direct chat gets one explanation and no
///   coaching; with `off` an encrypted room gets one notice that the bot cannot read it;
/// - while a message takes a noticeable time, the bot marks it read and shows that it is typing.
final class MatrixBot: Sendable {
    /// The service texts the bot says in rooms, in the configured language.
    struct Texts: Sendable {
        var hello: String
        var notDirect: String
        var encrypted: String
        var encryptionRequired: String
        var undecryptable: String
        var edited: String
        var textOnly: String
    }

    let gateway: ChatGateway
    let api: MatrixClientAPI
    private let client: any HTTPClient
    let state: MatrixState
    /// `nil` when `matrix.encryption` is `off`.
    let encryption: MatrixEncryption?
    private let requiresEncryption: Bool
    private let texts: Texts
    private let ignoredUsers: Set<String>
    /// A turn slower than this marks the message read and shows "typing…".
    private let typingAfter: Duration
    private let logger: Logger
    private let userIDBox: Mutex<String?>
    /// Joined members per room, read from the homeserver once and dropped on a membership change.
    private let members = Mutex<[String: Set<String>]>([:])
    /// Rooms the bot was invited to as a direct chat (`is_direct`), until it has joined them.
    private let directInvites = Mutex<Set<String>>([])

    init(
        gateway: ChatGateway, api: MatrixClientAPI, client: any HTTPClient, state: MatrixState, encryption: MatrixEncryption?,
        requiresEncryption: Bool, texts: Texts, userID: String?, ignoredUsers: Set<String>, typingAfter: Duration, logger: Logger
    ) {
        self.gateway = gateway
        self.api = api
        self.client = client
        self.state = state
        self.encryption = encryption
        self.requiresEncryption = requiresEncryption
        self.texts = texts
        self.userIDBox = Mutex(userID)
        self.ignoredUsers = ignoredUsers
        self.typingAfter = typingAfter
        self.logger = logger
    }

    /// The transport's name at the gateway.
    static let transport = MatrixTransport.name

    /// Whether `room` is a team room (the gateway's room policy).
    private func isTeamRoom(_ room: String) -> Bool {
        self.gateway.rooms.isTeamRoom(room, in: Self.transport)
    }

    /// The bot's own user id (known from config, or from `whoami` in `/sync` mode).
    var userID: String? {
        get { self.userIDBox.withLock { $0 } }
    }

    func setUserID(_ id: String) {
        self.userIDBox.withLock { $0 = id }
    }

    /// Handles a batch of events: each room's in order, rooms side by side. Returns once every
    /// message is journalled and everything to say is in the outbox.
    /// - Parameter live: `false` for the first `/sync` without a position: messages written
    ///   before the bot ever synced are history, not questions; invites are still accepted.
    func process(_ events: [MatrixEvent], live: Bool = true) async throws {
        try await self.process(events, live: live, devices: nil)
    }

    /// Handles a batch with what it says about devices and keys: the keys first (a room key may
    /// come in the same batch as the message it opens), then the events, then messages that
    /// waited for a key that came now.
    func process(_ events: [MatrixEvent], live: Bool = true, devices: MatrixEncryption.DeviceUpdates?) async throws {
        var unlocked: [MatrixEvent] = []
        if let devices, let encryption = self.encryption {
            unlocked = try await encryption.receive(devices)
        }
        try await self.handleByRoom(events, live: live)
        if !unlocked.isEmpty, let encryption = self.encryption {
            try await self.handleByRoom(unlocked, live: true)
            try await encryption.settled(unlocked.compactMap(\.eventID))
        }
    }

    private func handleByRoom(_ events: [MatrixEvent], live: Bool) async throws {
        var byRoom: [String: [MatrixEvent]] = [:]
        var order: [String] = []
        for event in events {
            guard let room = event.roomID else { continue }
            if byRoom[room] == nil { order.append(room) }
            byRoom[room, default: []].append(event)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for room in order {
                let roomEvents = byRoom[room]!
                group.addTask {
                    for event in roomEvents {
                        try await self.handle(event, in: room, live: live)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func handle(_ event: MatrixEvent, in room: String, live: Bool) async throws {
        guard let me = self.userID, let sender = event.sender else { return }
        switch event.type {
        case "m.room.member":
            try await self.membershipChanged(event, in: room, me: me, live: live)
        case "m.room.encryption":
            if let encryption = self.encryption {
                try await encryption.noteEncryption(in: room, content: event.content)
            } else if live {
                try await self.noticeEncryption(in: room, after: event.eventID)
            }
        case "m.room.encrypted" where live && sender != me:
            guard let encryption = self.encryption else {
                return try await self.noticeEncryption(in: room, after: event.eventID)
            }
            switch try await encryption.decrypt(event) {
            case .decrypted(let decrypted) where decrypted.type == "m.room.message":
                guard !self.ignoredUsers.contains(sender), decrypted.content.msgtype != "m.notice" else { return self.count("ignored_bot") }
                try await self.message(decrypted, from: sender, in: room, me: me, encrypted: true)
            case .decrypted:
                self.count("encrypted_other")
            case .waitingForKey:
                self.count("waiting_for_key")
            case .undecryptable(let reason):
                self.logger.info("spiegel.matrix.undecryptable", metadata: ["spiegel.reason": "\(reason)"])
                self.count("undecryptable")
                if let eventID = event.eventID {
                    try await self.tellUndecryptable(in: room, eventID: eventID)
                }
            }
        case "m.room.message" where live:
            guard sender != me, !self.ignoredUsers.contains(sender), event.content.msgtype != "m.notice" else {
                return self.count("ignored_bot")
            }
            try await self.message(event, from: sender, in: room, me: me)
        default:
            return
        }
    }

    private func membershipChanged(_ event: MatrixEvent, in room: String, me: String, live: Bool) async throws {
        self.members.withLock { _ = $0.removeValue(forKey: room) }
        try await self.encryption?.membershipChanged(in: room)
        guard event.stateKey == me else {
            // The last person left: the bot leaves too, and forgets the room.
            if live, ["leave", "ban"].contains(event.content.membership), !self.isTeamRoom(room),
                try await self.joinedMembers(of: room) == [me]
            {
                try await self.gateway.leave(room, via: Self.transport, key: "leave:\(room):\(event.eventID ?? RandomID.make())")
                try await self.state.update { $0.rooms[room] = nil }
                self.count("left_alone")
            }
            return
        }
        switch event.content.membership {
        case "invite":
            if event.content.isDirect == true { self.directInvites.withLock { _ = $0.insert(room) } }
            // Accepted in the outbox, so it precedes anything the bot says there.
            try await self.gateway.join(room, via: Self.transport, key: "join:\(room):\(event.eventID ?? RandomID.make())")
            self.count("invite")
        case "join" where live:
            let invitedAsDirect = self.directInvites.withLock { $0.remove(room) != nil }
            guard !self.isTeamRoom(room), let members = try await self.joinedMembers(of: room) else { return }
            let encrypted = try await self.isEncrypted(room)
            if encrypted && self.encryption == nil {
                return try await self.noticeEncryption(in: room, after: event.eventID)
            }
            let notes = self.state.notes(of: room)
            if members.count <= 2, invitedAsDirect, !encrypted, self.requiresEncryption {
                return try await self.explainEncryptionRequired(in: room, key: "required:\(room):\(event.eventID ?? "-")")
            }
            // A direct chat is greeted; a room the others have yet to join waits for its first message.
            if members.count <= 2, invitedAsDirect, !notes.greeted {
                try await self.say(self.texts.hello, in: room, key: "hello:\(room):\(event.eventID ?? "-")", isPrivate: true) { $0.greeted = true }
            } else if members.count > 2, !notes.explained {
                try await self.say(self.texts.notDirect, in: room, key: "explain:\(room):\(event.eventID ?? "-")", isPrivate: false) { $0.explained = true }
            }
        case "leave", "ban":
            try await self.state.update { $0.rooms[room] = nil }
        default:
            return
        }
    }

    private func message(_ event: MatrixEvent, from sender: String, in room: String, me: String, encrypted: Bool = false) async throws {
        guard let eventID = event.eventID else { return }
        if self.isTeamRoom(room) {
            // Nothing said in a team room is coached or kept; the gateway takes a round told
            // there (by the coach) and ignores the rest.
            if let text = event.messageText {
                _ = try await self.gateway.receive(ChatMessage(id: eventID, user: sender, room: room, text: text), from: Self.transport)
            }
            return self.count("team_room")
        }
        guard let members = try await self.joinedMembers(of: room) else {
            return self.count("room_unavailable")
        }
        guard members == [me, sender] else {
            if !self.state.notes(of: room).explained {
                try await self.say(self.texts.notDirect, in: room, key: "explain:\(room):\(eventID)", isPrivate: false) { $0.explained = true }
            }
            return self.count("shared_room")
        }
        if !encrypted, self.requiresEncryption {
            return try await self.explainEncryptionRequired(in: room, key: "required:\(eventID)")
        }
        if event.content.relationType == "m.replace" {
            if !self.state.notes(of: room).editNoticed {
                try await self.say(self.texts.edited, in: room, key: "edited:\(eventID)", isPrivate: true) { $0.editNoticed = true }
            }
            return self.count("edit")
        }
        guard ["m.text", "m.emote"].contains(event.content.msgtype), let text = event.messageText else {
            if !self.state.notes(of: room).textOnlyNoticed {
                try await self.say(self.texts.textOnly, in: room, key: "text-only:\(eventID)", isPrivate: true) { $0.textOnlyNoticed = true }
            }
            return self.count("not_text")
        }
        // A quick answer needs no "typing…" or receipt: the reply itself shows the message was seen.
        // Only a turn slower than `typingAfter` shows the bot thinking; on a busy homeserver each
        // courtesy request delays the reply behind it.
        let api = self.api, delay = self.typingAfter
        let answered = Mutex(false)
        let thinking = Task { () -> Bool in
            if delay > .zero {
                try? await Task.sleep(for: delay)
                if answered.withLock({ $0 }) { return false }
            }
            await self.courtesy(api.readReceipt(for: eventID, in: room), kind: "receipt")
            await self.courtesy(api.typing(true, in: room, as: me), kind: "typing")
            return true
        }
        defer {
            answered.withLock { $0 = true }
            Task {
                if await thinking.value { await self.courtesy(api.typing(false, in: room, as: me), kind: "typing") }
            }
        }
        _ = try await self.gateway.receive(ChatMessage(id: eventID, user: sender, room: room, text: text), from: Self.transport)
    }

    /// Tells a direct chat once per message that it could not be decrypted (a team room or a
    /// shared room stays quiet).
    func tellUndecryptable(in room: String, eventID: String) async throws {
        guard !self.isTeamRoom(room), let members = try await self.joinedMembers(of: room), members.count <= 2 else { return }
        try await self.gateway.say(self.texts.undecryptable, in: room, via: Self.transport, key: "undecryptable:\(eventID)", isPrivate: false)
    }

    /// `matrix.encryption: require`: an unencrypted direct chat is told once why nothing is coached.
    private func explainEncryptionRequired(in room: String, key: String) async throws {
        self.count("unencrypted_refused")
        guard !self.state.notes(of: room).encryptionNoticed else { return }
        try await self.say(self.texts.encryptionRequired, in: room, key: key, isPrivate: false) { $0.encryptionNoticed = true }
    }

    private func noticeEncryption(in room: String, after eventID: String?) async throws {
        guard !self.isTeamRoom(room), !self.state.notes(of: room).encryptionNoticed else { return }
        try await self.say(self.texts.encrypted, in: room, key: "encrypted:\(room):\(eventID ?? "-")", isPrivate: false) { $0.encryptionNoticed = true }
        self.count("encrypted")
    }

    /// Queues a service text, then notes durably that it was said.
    private func say(_ text: String, in room: String, key: String, isPrivate: Bool, note: @escaping @Sendable (inout MatrixState.RoomNotes) -> Void) async throws {
        try await self.gateway.say(text, in: room, via: Self.transport, key: key, isPrivate: isPrivate)
        try await self.state.update { contents in
            var notes = contents.rooms[room] ?? MatrixState.RoomNotes()
            note(&notes)
            contents.rooms[room] = notes
        }
    }

    /// The room's joined members, from the cache or the homeserver; `nil` when the homeserver says
    /// the bot cannot see the room (left, kicked, unknown): such an event is skipped, not retried.
    /// - Throws: when the homeserver cannot be asked now (the transaction or sync is retried).
    private func joinedMembers(of room: String) async throws -> Set<String>? {
        if let known = self.members.withLock({ $0[room] }) { return known }
        let response = try await self.client.execute(self.api.joinedMembers(of: room))
        if response.status.kind == .clientError && response.status.code != 429 {
            return nil
        }
        guard response.status.kind == .successful else {
            throw MatrixError(response) ?? MatrixError(errcode: "HTTP_\(response.status.code)")
        }
        struct JoinedMembers: Decodable { var joined: [String: Ignored] }
        struct Ignored: Decodable { init(from decoder: any Decoder) throws {} }
        let joined = Set(try JSONDecoder().decode(JoinedMembers.self, from: Data(response.body)).joined.keys)
        self.members.withLock { $0[room] = joined }
        return joined
    }

    /// Whether the room has an `m.room.encryption` state event (events sent before the bot joined
    /// are not pushed to an application service, so it asks).
    private func isEncrypted(_ room: String) async throws -> Bool {
        if let encryption = self.encryption { return try await encryption.isEncrypted(room) }
        let response = try await self.client.execute(self.api.state("m.room.encryption", in: room))
        switch response.status.code {
        case 200..<300: return true
        case 400..<429, 430..<500: return false
        default: throw MatrixError(response) ?? MatrixError(errcode: "HTTP_\(response.status.code)")
        }
    }

    /// Sends a receipt or typing notice; a failure is only counted.
    private func courtesy(_ request: HTTPClientRequest, kind: String) async {
        let ok = (try? await self.client.execute(request))?.status.kind == .successful
        Counter(label: "spiegel_matrix_courtesies_total", dimensions: [("kind", kind), ("outcome", ok ? "sent" : "failed")]).increment()
    }

    private func count(_ kind: String) {
        Counter(label: "spiegel_matrix_events_total", dimensions: [("kind", kind)]).increment()
    }
}
