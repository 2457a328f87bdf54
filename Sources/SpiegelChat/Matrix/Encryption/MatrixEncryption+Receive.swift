import Crypto
import Foundation
import Logging
import SpiegelOlm
import SpiegelVault

extension MatrixEncryption {
    /// Takes what a sync or transaction says about devices and keys: decrypts the to-device
    /// messages (room keys become inbound Megolm sessions), notes changed device lists, tops up
    /// one-time keys and the fallback key. Everything is stored before it returns.
    /// - Returns: messages kept waiting for a room key that came now, to be handled again (then
    ///   ``settled(_:)``).
    public func receive(_ updates: DeviceUpdates) async throws -> [MatrixEvent] {
        try await self.exclusively { try await self.take(updates) }
    }

    private func take(_ updates: DeviceUpdates) async throws -> [MatrixEvent] {
        guard self.isReady else {
            // The device could not start (the homeserver refused it): what came cannot be read.
            if !updates.toDevice.isEmpty {
                self.count("to_device_before_ready")
                self.logger.warning("spiegel.matrix.e2ee_not_ready", metadata: ["spiegel.dropped": "\(updates.toDevice.count)"])
            }
            return []
        }
        for user in updates.changedUsers + updates.leftUsers {
            self.freshDeviceLists[user] = nil
        }
        var newSessions: Set<String> = []
        var madeInboundOlm = false
        for event in updates.toDevice {
            guard event["type"]?.string == "m.room.encrypted", let sender = event["sender"]?.string, let content = event["content"] else { continue }
            let digest = SHA256.hash(data: content.canonical).withUnsafeBytes { Hex.string($0) }
            guard !self.seenToDevice.contains(digest) else { continue }
            self.seenToDevice.append(digest)
            if self.seenToDevice.count > 512 { self.seenToDevice.removeFirst(self.seenToDevice.count - 512) }
            do {
                let (payload, senderKey, madeSession) = try await self.decryptOlm(content, from: sender)
                madeInboundOlm = madeInboundOlm || madeSession
                if payload["type"]?.string == "m.room_key", let sessionID = try await self.addRoomKey(payload, from: sender, senderKey: senderKey) {
                    newSessions.insert(sessionID)
                }
                self.count("to_device_decrypted")
            } catch {
                self.count("to_device_undecryptable")
                self.logger.info("spiegel.matrix.e2ee_to_device_undecryptable", metadata: ["spiegel.error": "\(Self.describe(error))"])
            }
        }
        if let counts = updates.oneTimeKeyCounts {
            let count = counts["signed_curve25519"] ?? 0
            let fallbackUsed = updates.unusedFallbackKeyTypes.map { !$0.contains("signed_curve25519") } ?? false
            if count < (try self.loadAccount().maxOneTimeKeys / 2) || fallbackUsed {
                try await self.uploadKeys(oneTimeKeyCount: count, needsFallback: fallbackUsed)
            }
        } else if madeInboundOlm {
            // No count told (an application service without MSC3202): ask.
            try await self.topUpOneTimeKeys()
        } else if let types = updates.unusedFallbackKeyTypes, !types.contains("signed_curve25519") {
            try await self.uploadKeys(needsFallback: true)
        }
        guard !newSessions.isEmpty else { return [] }
        return self.device.current.pending.filter { newSessions.contains($0.sessionID) }.map(Self.event(from:))
    }

    /// Forgets messages kept for their room key once they are handled.
    public func settled(_ eventIDs: [String]) async throws {
        let settled = Set(eventIDs)
        guard self.device.current.pending.contains(where: { settled.contains($0.eventID) }) else { return }
        try await self.device.update { $0.pending.removeAll { settled.contains($0.eventID) } }
    }

    /// Decrypts a room message (`m.room.encrypted`, Megolm) from another user.
    public func decrypt(_ event: MatrixEvent) async throws -> Decryption {
        guard self.isReady else { return .undecryptable(reason: "device_not_ready") }
        let content = event.content
        guard content.algorithm == Self.megolmAlgorithm, let sessionID = content.sessionID, let ciphertext = content.ciphertext,
            let sender = event.sender, let room = event.roomID, let eventID = event.eventID
        else {
            return .undecryptable(reason: "not_megolm")
        }
        guard let record = try await self.peer(sender).current.inbound[sessionID] else {
            let pending = PendingEvent(eventID: eventID, room: room, sender: sender, sessionID: sessionID, senderKey: content.senderKey, ciphertext: ciphertext, received: self.now())
            let dayAgo = self.now().addingTimeInterval(-86_400)
            try await self.device.update { document in
                document.pending.removeAll { $0.received < dayAgo }
                if !document.pending.contains(where: { $0.eventID == eventID }) { document.pending.append(pending) }
                if document.pending.count > 1_000 { document.pending.removeFirst(document.pending.count - 1_000) }
            }
            self.count("waiting_for_key")
            if self.requestedSessions.insert(sessionID).inserted {
                // Not awaited: the batch is acknowledged without waiting for the sender's devices.
                Task { await self.recoverRoomKey(room: room, sessionID: sessionID, senderKey: content.senderKey, sender: sender) }
            }
            return .waitingForKey
        }
        guard record.room == room else { return .undecryptable(reason: "wrong_room") }
        let decrypted: (plaintext: [UInt8], messageIndex: UInt32)
        do {
            let session = try self.backend.inboundGroupSession(fromPickle: record.pickle, key: Self.pickleKey)
            decrypted = try session.decrypt(ciphertext)
        } catch {
            return .undecryptable(reason: Self.describe(error))
        }
        let index = "\(sessionID)|\(decrypted.messageIndex)"
        if let earlier = self.decryptedIndexes[index], earlier != eventID {
            return .undecryptable(reason: "replayed_index")
        }
        self.decryptedIndexes[index] = eventID
        if self.decryptedIndexes.count > 10_000 { self.decryptedIndexes.removeAll() }
        guard let payload = JSONValue.parse(decrypted.plaintext), payload["room_id"]?.string == room,
            let type = payload["type"]?.string, let inner = payload["content"],
            let innerContent = try? JSONDecoder().decode(MatrixEvent.Content.self, from: Data(inner.canonical))
        else {
            return .undecryptable(reason: "bad_payload")
        }
        self.count("room_decrypted")
        return .decrypted(MatrixEvent(eventID: eventID, roomID: room, sender: sender, type: type, content: innerContent, originServerTS: event.originServerTS))
    }

    /// Decrypts an Olm to-device message with a session of its sender's device, or a new one
    /// from its pre-key message; the session is stored (and the one-time key it used removed)
    /// before this returns.
    private func decryptOlm(_ content: JSONValue, from sender: String) async throws -> (payload: JSONValue, senderKey: String, madeSession: Bool) {
        guard content["algorithm"]?.string == Self.olmAlgorithm, let senderKey = content["sender_key"]?.string,
            let mine = content["ciphertext"]?[self.identity.curve25519], let type = mine["type"]?.int, let body = mine["body"]?.string
        else {
            throw MatrixError(errcode: "SPIEGEL_NOT_FOR_THIS_DEVICE")
        }
        let message = OlmMessage(type: Int(type), body: body)
        let peer = try await self.peer(sender)
        var sessions = peer.current.olmSessions[senderKey] ?? []
        var plaintext: [UInt8]?
        var madeSession = false
        for (position, pickle) in sessions.enumerated() {
            let session = try self.backend.session(fromPickle: pickle, key: Self.pickleKey)
            if type == 0 && !session.matchesInbound(theirIdentityKey: senderKey, preKeyMessage: body) { continue }
            guard let opened = try? session.decrypt(message) else { continue }
            plaintext = opened
            sessions.remove(at: position)
            sessions.insert(session.pickle(key: Self.pickleKey), at: 0)
            break
        }
        if plaintext == nil {
            guard type == 0 else { throw MatrixError(errcode: "SPIEGEL_NO_OLM_SESSION") }
            let account = try self.loadAccount()
            let session = try account.createInboundSession(theirIdentityKey: senderKey, preKeyMessage: body)
            plaintext = try session.decrypt(message)
            try account.removeOneTimeKeys(usedBy: session)
            sessions.insert(session.pickle(key: Self.pickleKey), at: 0)
            // The session first: were the account written first, a crash between would lose it.
            let updated = Array(sessions.prefix(5))
            try await peer.update { $0.olmSessions[senderKey] = updated }
            let accountPickle = account.pickle(key: Self.pickleKey)
            try await self.device.update { $0.account = accountPickle }
            madeSession = true
        } else {
            let updated = Array(sessions.prefix(5))
            try await peer.update { $0.olmSessions[senderKey] = updated }
        }
        guard let payload = JSONValue.parse(plaintext!) else { throw MatrixError(errcode: "SPIEGEL_BAD_OLM_PAYLOAD") }
        guard payload["sender"]?.string == sender, payload["recipient"]?.string == self.userID,
            payload["recipient_keys"]?["ed25519"]?.string == self.identity.ed25519,
            let claimedKey = payload["keys"]?["ed25519"]?.string
        else {
            throw MatrixError(errcode: "SPIEGEL_OLM_PAYLOAD_MISMATCH")
        }
        // A device already known by its Curve25519 key must sign with the Ed25519 key it had.
        if let known = peer.current.devices.values.first(where: { $0.curve25519 == senderKey }), known.ed25519 != claimedKey {
            throw MatrixError(errcode: "SPIEGEL_OLM_KEY_MISMATCH")
        }
        return (payload, senderKey, madeSession)
    }

    /// Stores the inbound Megolm session of an `m.room_key`; returns its id when it is new.
    private func addRoomKey(_ payload: JSONValue, from sender: String, senderKey: String) async throws -> String? {
        guard let content = payload["content"], content["algorithm"]?.string == Self.megolmAlgorithm,
            let room = content["room_id"]?.string, let sessionID = content["session_id"]?.string, let sessionKey = content["session_key"]?.string
        else {
            return nil
        }
        let session = try self.backend.inboundGroupSession(sessionKey: sessionKey)
        guard session.sessionID == sessionID else { throw MatrixError(errcode: "SPIEGEL_ROOM_KEY_MISMATCH") }
        let peer = try await self.peer(sender)
        if let known = peer.current.inbound[sessionID] {
            let stored = try self.backend.inboundGroupSession(fromPickle: known.pickle, key: Self.pickleKey)
            guard session.firstKnownIndex < stored.firstKnownIndex else { return nil }
        }
        let record = InboundRecord(room: room, senderKey: senderKey, pickle: session.pickle(key: Self.pickleKey))
        try await peer.update { $0.inbound[sessionID] = record }
        self.count("room_key")
        return sessionID
    }

    static func event(from pending: PendingEvent) -> MatrixEvent {
        var content = MatrixEvent.Content()
        content.algorithm = Self.megolmAlgorithm
        content.ciphertext = pending.ciphertext
        content.sessionID = pending.sessionID
        content.senderKey = pending.senderKey
        return MatrixEvent(eventID: pending.eventID, roomID: pending.room, sender: pending.sender, type: "m.room.encrypted", content: content)
    }

    /// An error as logs may show it: a code, never what a message held.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as OlmError: error.code
        case let error as MatrixError: error.errcode
        case let error as HTTPClientError: "\(error)"
        default: "\(type(of: error))"
        }
    }
}
