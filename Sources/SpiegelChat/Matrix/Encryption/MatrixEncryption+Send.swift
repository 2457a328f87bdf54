import Foundation
import HTTPTypes
import Logging
import SpiegelOlm
import SpiegelVault

extension MatrixEncryption {
    /// Whether `room` is encrypted: known from its `m.room.encryption` event, else asked once.
    public func isEncrypted(_ room: String) async throws -> Bool {
        if try await self.device.contents().encryptedRooms[room] != nil { return true }
        if self.unencryptedRooms.contains(room) { return false }
        let response = try await self.client.execute(self.api.state("m.room.encryption", in: room))
        switch response.status.code {
        case 200..<300:
            let content = try? JSONDecoder().decode(MatrixEvent.Content.self, from: Data(response.body))
            try await self.noteEncryption(in: room, content: content ?? MatrixEvent.Content())
            return true
        case 404:
            self.unencryptedRooms.insert(room)
            return false
        default:
            throw MatrixError(response) ?? MatrixError(errcode: "HTTP_\(response.status.code)")
        }
    }

    /// Notes a room's `m.room.encryption` event.
    public func noteEncryption(in room: String, content: MatrixEvent.Content) async throws {
        self.unencryptedRooms.remove(room)
        var settings = RoomEncryption()
        if let milliseconds = content.rotationPeriodMilliseconds, milliseconds > 0 { settings.rotationPeriodMilliseconds = milliseconds }
        if let messages = content.rotationPeriodMessages, messages > 0 { settings.rotationPeriodMessages = messages }
        guard try await self.device.contents().encryptedRooms[room] != settings else { return }
        try await self.device.update { $0.encryptedRooms[room] = settings }
    }

    /// Notes a membership change: the members are read again, and the room's next message
    /// starts a new Megolm session, so a member who left cannot read on and one who came cannot
    /// read back.
    public func membershipChanged(in room: String) async throws {
        self.members[room] = nil
        if self.device.current.outbound[room] != nil {
            try await self.device.update { $0.outbound[room]?.mustRotate = true }
        }
        for user in self.peers.keys where self.peers[user]?.current.outbound[room] != nil {
            try await self.peers[user]!.update { $0.outbound[room]?.mustRotate = true }
        }
    }

    /// Encrypts `content` of type `type` for `room` with the room's outbound Megolm session,
    /// starting a new one when the room's settings, its members or their devices ask for it, and
    /// first sending its key to every device of every member that lacks it. The advanced session
    /// is stored before this returns, so no message index is ever used twice.
    /// - Returns: the content of the `m.room.encrypted` event to send.
    public func encrypt(_ content: JSONValue, type: String, in room: String) async throws -> JSONValue {
        guard self.isReady else { throw MatrixError(errcode: "SPIEGEL_DEVICE_NOT_READY") }
        return try await self.exclusively { try await self.encryptNow(content, type: type, in: room) }
    }

    private func encryptNow(_ content: JSONValue, type: String, in room: String) async throws -> JSONValue {
        let settings = try await self.device.contents().encryptedRooms[room] ?? RoomEncryption()
        let others = try await self.joinedMembers(of: room).subtracting([self.userID])
        try await self.refreshDeviceLists(of: others)
        // Where the session lives: with the one other member of a direct chat, else with the bot.
        let owner: VaultDocument<PeerDocument>? = others.count == 1 ? try await self.peer(others.first!) : nil
        var record = owner.map { $0.current.outbound[room] } ?? self.device.current.outbound[room]

        var devices: [(user: String, id: String, keys: DeviceRecord)] = []
        for user in others.sorted() {
            for (id, keys) in try await self.peer(user).current.devices.sorted(by: { $0.key < $1.key }) where keys.isListed && !keys.isBlocked {
                devices.append((user, id, keys))
            }
        }
        let current = Set(devices.map { "\($0.user)|\($0.id)|\($0.keys.curve25519)" })
        if let existing = record {
            let shared = Set(existing.sharedWith.flatMap { user, devices in devices.map { "\(user)|\($0.key)|\($0.value)" } })
            let age = self.now().timeIntervalSince(existing.created) * 1_000
            if existing.mustRotate || existing.messages >= settings.rotationPeriodMessages || age >= Double(settings.rotationPeriodMilliseconds)
                || !shared.subtracting(current).isEmpty
            {
                record = nil
                self.count("megolm_rotated")
            }
        }
        if record == nil {
            let session = try self.backend.makeOutboundGroupSession()
            record = OutboundRecord(pickle: session.pickle(key: Self.pickleKey), sessionID: session.sessionID, created: self.now())
            try await self.store(record!, room: room, owner: owner)
        }
        var outbound = record!
        let missing = devices.filter { outbound.sharedWith[$0.user]?[$0.id] != $0.keys.curve25519 }
        if !missing.isEmpty {
            let session = try self.backend.outboundGroupSession(fromPickle: outbound.pickle, key: Self.pickleKey)
            let roomKey: JSONValue = [
                "algorithm": .string(Self.megolmAlgorithm), "room_id": .string(room),
                "session_id": .string(session.sessionID), "session_key": .string(session.sessionKey),
            ]
            let reached = try await self.sendToDevices(type: "m.room_key", content: roomKey, missing)
            for device in reached {
                outbound.sharedWith[device.user, default: [:]][device.id] = device.keys.curve25519
            }
            try await self.store(outbound, room: room, owner: owner)
        }
        let session = try self.backend.outboundGroupSession(fromPickle: outbound.pickle, key: Self.pickleKey)
        let payload: JSONValue = ["type": .string(type), "content": content, "room_id": .string(room)]
        let ciphertext = try session.encrypt(payload.canonical)
        outbound.pickle = session.pickle(key: Self.pickleKey)
        outbound.messages += 1
        try await self.store(outbound, room: room, owner: owner)
        self.count("room_encrypted")
        return [
            "algorithm": .string(Self.megolmAlgorithm), "sender_key": .string(self.identity.curve25519),
            "ciphertext": .string(ciphertext), "session_id": .string(outbound.sessionID), "device_id": .string(self.deviceID),
        ]
    }

    private func store(_ record: OutboundRecord, room: String, owner: VaultDocument<PeerDocument>?) async throws {
        if let owner {
            try await owner.update { $0.outbound[room] = record }
        } else {
            try await self.device.update { $0.outbound[room] = record }
        }
    }

    /// The room's joined members, from the cache or the homeserver.
    func joinedMembers(of room: String) async throws -> Set<String> {
        if let known = self.members[room] { return known }
        let joined = try await self.call(self.api.joinedMembers(of: room))
        let members = Set(joined["joined"]?.object?.keys ?? [:].keys)
        self.members[room] = members
        return members
    }

    /// Reads the device lists of `users` not read since they last changed: a device seen for the
    /// first time is trusted, one whose keys changed is blocked, one no longer listed is marked so.
    func refreshDeviceLists(of users: Set<String>) async throws {
        let now = self.now()
        let stale = users.filter { user in self.freshDeviceLists[user].map { now.timeIntervalSince($0) >= Self.deviceListLifetime } ?? true }.sorted()
        guard !stale.isEmpty else { return }
        let response = try await self.call(self.api.queryKeys(of: stale))
        for user in stale {
            guard let listed = response["device_keys"]?[user]?.object else { continue }
            let peer = try await self.peer(user)
            var devices = peer.current.devices
            for id in devices.keys { devices[id]?.isListed = false }
            for (id, keys) in listed {
                guard keys["user_id"]?.string == user, keys["device_id"]?.string == id,
                    let curve = keys["keys"]?["curve25519:\(id)"]?.string, let ed = keys["keys"]?["ed25519:\(id)"]?.string,
                    let signature = keys["signatures"]?[user]?["ed25519:\(id)"]?.string,
                    self.backend.verifyEd25519(key: ed, message: keys.signedBytes, signature: signature)
                else {
                    self.count("device_keys_invalid")
                    continue
                }
                if var known = devices[id] {
                    if known.curve25519 != curve || known.ed25519 != ed {
                        if !known.isBlocked {
                            self.logger.warning("spiegel.matrix.e2ee_device_keys_changed", metadata: ["spiegel.coachee": "\(self.vault.pseudonym(of: CoacheeID(user)))"])
                        }
                        known.isBlocked = true
                    }
                    known.isListed = true
                    devices[id] = known
                } else {
                    devices[id] = DeviceRecord(curve25519: curve, ed25519: ed)
                }
            }
            if devices != peer.current.devices {
                try await peer.update { $0.devices = devices }
            }
            self.freshDeviceLists[user] = now
        }
    }

    /// Sends `content` as a to-device message of type `type`, Olm-encrypted, to each of
    /// `devices`, making Olm sessions (with claimed one-time keys) where none exists.
    /// - Returns: the devices it went to (one without a session or a key to claim is skipped).
    /// - Parameter freshSession: a new Olm session for every device, even where one exists.
    @discardableResult
    func sendToDevices(type: String, content: JSONValue, _ devices: [(user: String, id: String, keys: DeviceRecord)], freshSession: Bool = false) async throws -> [(user: String, id: String, keys: DeviceRecord)] {
        var withoutSession: [String: [String]] = [:]
        for device in devices {
            let hasSession = !(try await self.peer(device.user).current.olmSessions[device.keys.curve25519]?.isEmpty ?? true)
            guard freshSession || !hasSession else { continue }
            withoutSession[device.user, default: []].append(device.id)
        }
        if !withoutSession.isEmpty {
            let claimed = try await self.call(self.api.claimKeys(withoutSession))
            for device in devices where withoutSession[device.user]?.contains(device.id) == true {
                guard let keys = claimed["one_time_keys"]?[device.user]?[device.id]?.object, let signedKey = keys.first?.value,
                    let key = signedKey["key"]?.string,
                    let signature = signedKey["signatures"]?[device.user]?["ed25519:\(device.id)"]?.string,
                    self.backend.verifyEd25519(key: device.keys.ed25519, message: signedKey.signedBytes, signature: signature)
                else {
                    self.count("one_time_key_missing")
                    continue
                }
                let account = try self.loadAccount()
                let session = try account.createOutboundSession(theirIdentityKey: device.keys.curve25519, theirOneTimeKey: key)
                let pickle = session.pickle(key: Self.pickleKey)
                try await self.peer(device.user).update { $0.olmSessions[device.keys.curve25519, default: []].insert(pickle, at: 0) }
            }
        }
        var messages: [String: [String: JSONValue]] = [:]
        var reached: [(user: String, id: String, keys: DeviceRecord)] = []
        for device in devices {
            let peer = try await self.peer(device.user)
            guard let pickle = peer.current.olmSessions[device.keys.curve25519]?.first else { continue }
            let session = try self.backend.session(fromPickle: pickle, key: Self.pickleKey)
            let payload: JSONValue = [
                "type": .string(type), "content": content,
                "sender": .string(self.userID), "sender_device": .string(self.deviceID),
                "keys": ["ed25519": .string(self.identity.ed25519)],
                "recipient": .string(device.user), "recipient_keys": ["ed25519": .string(device.keys.ed25519)],
            ]
            let message = try session.encrypt(payload.canonical)
            // The advanced session is stored before the message leaves: a retry never reuses a key.
            let advanced = session.pickle(key: Self.pickleKey)
            try await peer.update { $0.olmSessions[device.keys.curve25519]?[0] = advanced }
            messages[device.user, default: [:]][device.id] = [
                "algorithm": .string(Self.olmAlgorithm), "sender_key": .string(self.identity.curve25519),
                "ciphertext": .object([device.keys.curve25519: ["type": .int(Int64(message.type)), "body": .string(message.body)]]),
            ]
            reached.append(device)
        }
        guard !messages.isEmpty else { return [] }
        try await self.call(self.api.sendToDevice(type: "m.room.encrypted", messages: .object(messages.mapValues { .object($0) }), transactionID: "spiegel-keys-" + RandomID.make()))
        self.count("room_key_sent")
        return reached
    }
}
