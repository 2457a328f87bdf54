/// Olm (pairwise, between two devices) and Megolm (one sender to a room) as Spiegel's Matrix
/// end-to-end encryption uses them, behind protocols so that another implementation (vodozemac)
/// can replace libolm without touching the Matrix code.
///
/// Keys and messages are unpadded base64 strings, as Matrix carries them. An object of these
/// protocols is not thread-safe: one owner (an actor) uses it at a time. Pickles are the objects'
/// state, encrypted with `key`, to be stored and read back with the backend's `…(fromPickle:)`.
public protocol OlmBackend: Sendable {
    /// A new account with fresh identity keys.
    func makeAccount() throws(OlmError) -> any OlmAccount
    func account(fromPickle pickle: String, key: [UInt8]) throws(OlmError) -> any OlmAccount
    func session(fromPickle pickle: String, key: [UInt8]) throws(OlmError) -> any OlmSession
    /// A new outbound Megolm session (message index 0).
    func makeOutboundGroupSession() throws(OlmError) -> any OutboundGroupSession
    func outboundGroupSession(fromPickle pickle: String, key: [UInt8]) throws(OlmError) -> any OutboundGroupSession
    /// An inbound Megolm session from the `session_key` of an `m.room_key`.
    func inboundGroupSession(sessionKey: String) throws(OlmError) -> any InboundGroupSession
    func inboundGroupSession(fromPickle pickle: String, key: [UInt8]) throws(OlmError) -> any InboundGroupSession
    /// Whether `signature` is `key`'s Ed25519 signature of `message`.
    func verifyEd25519(key: String, message: [UInt8], signature: String) -> Bool
}

/// A device's long-term public keys.
public struct IdentityKeys: Sendable, Equatable, Codable {
    public var curve25519: String
    public var ed25519: String

    public init(curve25519: String, ed25519: String) {
        self.curve25519 = curve25519
        self.ed25519 = ed25519
    }
}

/// A device's Olm account: its identity keys, one-time keys and fallback key.
public protocol OlmAccount: AnyObject {
    var identityKeys: IdentityKeys { get }
    /// The Ed25519 signature of `message` with the account's key.
    func sign(_ message: [UInt8]) -> String
    /// How many one-time keys the account can hold.
    var maxOneTimeKeys: Int { get }
    func generateOneTimeKeys(count: Int) throws(OlmError)
    /// The one-time keys not yet marked published: key id → Curve25519 public key.
    func unpublishedOneTimeKeys() -> [String: String]
    /// Makes a new fallback key (the previous one stays usable until the next is made).
    func generateFallbackKey() throws(OlmError)
    /// The fallback key not yet marked published, if any: key id → Curve25519 public key.
    func unpublishedFallbackKey() -> [String: String]
    /// Marks the one-time keys and the fallback key published (after the server took them).
    func markKeysAsPublished()
    /// A session to another device from its identity key and a one-time key claimed for it.
    func createOutboundSession(theirIdentityKey: String, theirOneTimeKey: String) throws(OlmError) -> any OlmSession
    /// A session from another device's first (pre-key) message.
    func createInboundSession(theirIdentityKey: String, preKeyMessage: String) throws(OlmError) -> any OlmSession
    /// Removes the one-time key `session` was made with, so it is never used again.
    func removeOneTimeKeys(usedBy session: any OlmSession) throws(OlmError)
    func pickle(key: [UInt8]) -> String
}

/// An Olm message: a pre-key message (type 0) opens a session, a normal one (type 1) follows.
public struct OlmMessage: Sendable, Equatable {
    public var type: Int
    public var body: String

    public init(type: Int, body: String) {
        self.type = type
        self.body = body
    }
}

/// A pairwise Olm session between the account and one other device.
public protocol OlmSession: AnyObject {
    var sessionID: String { get }
    /// Whether the pre-key message `preKeyMessage` from `theirIdentityKey` belongs to this session.
    func matchesInbound(theirIdentityKey: String, preKeyMessage: String) -> Bool
    func encrypt(_ plaintext: [UInt8]) throws(OlmError) -> OlmMessage
    func decrypt(_ message: OlmMessage) throws(OlmError) -> [UInt8]
    func pickle(key: [UInt8]) -> String
}

/// The sending side of a Megolm session.
public protocol OutboundGroupSession: AnyObject {
    var sessionID: String { get }
    /// The index the next message gets.
    var messageIndex: UInt32 { get }
    /// The key that lets a receiver decrypt from the current index on.
    var sessionKey: String { get }
    func encrypt(_ plaintext: [UInt8]) throws(OlmError) -> String
    func pickle(key: [UInt8]) -> String
}

/// The receiving side of a Megolm session.
public protocol InboundGroupSession: AnyObject {
    var sessionID: String { get }
    var firstKnownIndex: UInt32 { get }
    func decrypt(_ ciphertext: String) throws(OlmError) -> (plaintext: [UInt8], messageIndex: UInt32)
    func pickle(key: [UInt8]) -> String
}

/// What went wrong in the Olm library: its error name, such as `BAD_MESSAGE_MAC`.
public struct OlmError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String

    public init(_ code: String) {
        self.code = code
    }

    public var description: String { "Olm error \(self.code)" }
}
