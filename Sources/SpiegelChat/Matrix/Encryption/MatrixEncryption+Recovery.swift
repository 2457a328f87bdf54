public import Foundation
import Logging
import SpiegelVault

/// A room key that never came. Synapse drops to-device messages for an application service it
/// takes for down (a restart of Spiegel at the wrong moment), and it refuses `/sync` to an
/// application service's own user, so such a key cannot be fetched again from the device's
/// inbox. What the bot does instead, as the Matrix specification recommends:
/// - it asks the sender's devices for the key (`m.room_key_request`); clients that shared the
///   session with the bot's device before send it again;
/// - it makes a fresh Olm session with the sending device and sends `m.dummy` over it (at most
///   once an hour per device), which tells clients that track it to share their current room key
///   with the bot again;
/// - a message still unreadable after ``MatrixEncryption/keyWait`` is reported by ``overdue()``,
///   so the teacher is told once and can send it again, instead of waiting for an answer that
///   never comes.
extension MatrixEncryption {
    /// How long a message waits for its room key before the sender is told.
    public static let keyWait: Foundation.TimeInterval = 30

    func recoverRoomKey(room: String, sessionID: String, senderKey: String?, sender: String) async {
        do {
            try await self.exclusively { try await self.askForRoomKey(room: room, sessionID: sessionID, senderKey: senderKey, sender: sender) }
        } catch {
            self.logger.info("spiegel.matrix.e2ee_key_request_failed", metadata: ["spiegel.error": "\(Self.describe(error))"])
        }
    }

    private func askForRoomKey(room: String, sessionID: String, senderKey: String?, sender: String) async throws {
        let request: JSONValue = [
            "action": "request",
            "body": .object([
                "algorithm": .string(Self.megolmAlgorithm), "room_id": .string(room), "session_id": .string(sessionID),
                "sender_key": senderKey.map { .string($0) } ?? .null,
            ]),
            "request_id": .string("spiegel-" + RandomID.make()),
            "requesting_device_id": .string(self.deviceID),
        ]
        try await self.call(self.api.sendToDevice(type: "m.room_key_request", messages: [sender: ["*": request]], transactionID: "spiegel-keyreq-" + RandomID.make()))
        self.count("room_key_requested")
        guard let senderKey else { return }
        try await self.refreshDeviceLists(of: [sender])
        let peer = try await self.peer(sender)
        guard let (id, device) = peer.current.devices.first(where: { $0.value.curve25519 == senderKey && !$0.value.isBlocked }) else { return }
        if let last = self.unwedged[senderKey], self.now().timeIntervalSince(last) < 3_600 { return }
        self.unwedged[senderKey] = self.now()
        try await self.sendToDevices(type: "m.dummy", content: [:], [(sender, id, device)], freshSession: true)
        self.count("olm_unwedged")
    }

    /// Messages that waited longer than ``keyWait`` for their room key and whose sender was not
    /// told yet; they are marked told (stored) before this returns.
    public func overdue() async throws -> [(room: String, eventID: String)] {
        let cutoff = self.now().addingTimeInterval(-Self.keyWait)
        let due = try await self.device.contents().pending.filter { !$0.told && $0.received <= cutoff }
        guard !due.isEmpty else { return [] }
        let ids = Set(due.map(\.eventID))
        try await self.device.update { document in
            for index in document.pending.indices where ids.contains(document.pending[index].eventID) {
                document.pending[index].told = true
            }
        }
        return due.map { ($0.room, $0.eventID) }
    }
}
