import Foundation

/// What end-to-end encryption keeps of the bot's own device, in the vault's system namespace
/// (the `matrix-crypto` document).
struct DeviceDocument: Codable, Sendable {
    /// The device the account belongs to; a new device gets a new account.
    var deviceID: String?
    /// The Olm account, pickled.
    var account: String?
    /// Whether the homeserver took the signed device keys.
    var deviceKeysUploaded = false
    /// Rooms known to be encrypted, with their rotation settings.
    var encryptedRooms: [String: RoomEncryption] = [:]
    /// Outbound Megolm sessions of rooms with more than one other member.
    var outbound: [String: OutboundRecord] = [:]
    /// Encrypted messages whose room key has not come yet, oldest first.
    var pending: [PendingEvent] = []
}

/// What end-to-end encryption keeps of one other user, in their companion document (erased with
/// them): their devices as first seen, the Olm sessions with those devices, the Megolm sessions
/// they sent, and the outbound session of their direct chat with the bot.
struct PeerDocument: Codable, Sendable {
    /// Device id → keys, trusted on first use.
    var devices: [String: DeviceRecord] = [:]
    /// A device's Curve25519 key → its Olm sessions, pickled, the one last used first.
    var olmSessions: [String: [String]] = [:]
    /// Megolm session id → the inbound session.
    var inbound: [String: InboundRecord] = [:]
    /// Room → the outbound Megolm session of a room where this user is the only other member.
    var outbound: [String: OutboundRecord] = [:]
}

/// A room's `m.room.encryption` settings.
struct RoomEncryption: Codable, Sendable, Equatable {
    var rotationPeriodMilliseconds: Int64 = 604_800_000
    var rotationPeriodMessages = 100
}

/// Another user's device, as first seen.
struct DeviceRecord: Codable, Sendable, Equatable {
    var curve25519: String
    var ed25519: String
    /// Listed by the homeserver at the last query; a device no longer listed gets no more keys.
    var isListed = true
    /// Keys changed after the first sight: not trusted, never sent a room key.
    var isBlocked = false
}

/// An outbound Megolm session and whom its key went to.
struct OutboundRecord: Codable, Sendable, Equatable {
    var pickle: String
    var sessionID: String
    var created: Date
    var messages = 0
    /// User → device id → the device's Curve25519 key when the key was sent.
    var sharedWith: [String: [String: String]] = [:]
    /// Set when a member left or a device went: the next message starts a new session.
    var mustRotate = false
}

/// An inbound Megolm session.
struct InboundRecord: Codable, Sendable, Equatable {
    var room: String
    /// The Curve25519 key of the device that sent the room key.
    var senderKey: String
    var pickle: String
}

/// An encrypted room message waiting for its room key (the ciphertext only).
struct PendingEvent: Codable, Sendable, Equatable {
    var eventID: String
    var room: String
    var sender: String
    var sessionID: String
    var senderKey: String?
    var ciphertext: String
    var received: Date
    /// Whether the sender was told the message could not be read.
    var told = false
}
