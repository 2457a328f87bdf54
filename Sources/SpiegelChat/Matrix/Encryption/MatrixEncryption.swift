public import Foundation
import HTTPTypes
public import Logging
import Metrics
public import SpiegelOlm
public import SpiegelVault
import SpiegelAsync
import Synchronization

/// The bot device's end-to-end encryption: its Olm account and keys on the homeserver, Olm
/// sessions with other users' devices, the Megolm sessions they send with, and one outbound
/// Megolm session per encrypted room.
///
/// Everything it learns is written to the vault before the call that learned it returns, so a
/// transaction or sync batch is acknowledged only once its keys are stored, and a restart (or a
/// SIGKILL) keeps the same device and sessions. The bot's own state is the `matrix-crypto` system
/// document; what concerns another user (their devices, the Olm sessions with them, the room keys
/// they sent, the outbound session of their direct chat) is in their companion document, erased
/// with them. Devices are trusted on first use: a device whose keys later change gets no more
/// room keys.
public actor MatrixEncryption {
    public static let olmAlgorithm = "m.olm.v1.curve25519-aes-sha2"
    public static let megolmAlgorithm = "m.megolm.v1.aes-sha2"
    /// The vault encrypts every document; the pickles need no key of their own.
    static let pickleKey = Array("spiegel olm pickle v1".utf8)

    /// How the bot's device comes to be.
    public enum DeviceSource: Sendable {
        /// `/sync` mode: the device of the access token.
        case accessToken(deviceID: String)
        /// Application-service mode: a device made with `m.login.application_service`.
        case applicationService
    }

    /// What a room message became.
    public enum Decryption: Sendable {
        case decrypted(MatrixEvent)
        /// Its room key has not come yet: kept, and handed back by ``receive(_:)`` once it has.
        case waitingForKey
        case undecryptable(reason: String)
    }

    /// What a sync or transaction says about devices and keys.
    public struct DeviceUpdates: Sendable {
        public var toDevice: [JSONValue] = []
        /// Users whose devices changed, or who no longer share a room.
        public var changedUsers: [String] = []
        public var leftUsers: [String] = []
        /// The bot device's unused one-time keys per algorithm, when told.
        public var oneTimeKeyCounts: [String: Int]?
        /// The bot device's unused fallback key types, when told.
        public var unusedFallbackKeyTypes: [String]?

        public init() {}
    }

    let backend: any OlmBackend
    let vault: Vault
    /// The client-server API as the bot's device (with `user_id` and `device_id` in
    /// application-service mode, once the device is known).
    public private(set) var api: MatrixClientAPI
    let client: any HTTPClient
    /// The bot's user id, known from ``start(_:userID:)`` on.
    public private(set) var userID = ""
    let logger: Logger
    let now: @Sendable () -> Date
    let device: VaultDocument<DeviceDocument>
    var peers: [String: VaultDocument<PeerDocument>] = [:]
    var identity = IdentityKeys(curve25519: "", ed25519: "")
    public private(set) var deviceID = ""
    /// When users' device lists were read (in this process), dropped when they change. A list
    /// older than ``deviceListLifetime`` is read again, for homeservers that do not tell changes.
    var freshDeviceLists: [String: Date] = [:]
    static let deviceListLifetime: TimeInterval = 300
    /// Joined members per room, dropped on a membership change.
    var members: [String: Set<String>] = [:]
    /// Rooms the homeserver said are not encrypted (asked once per process; an
    /// `m.room.encryption` event changes it).
    var unencryptedRooms: Set<String> = []
    /// To-device messages already taken (they may come both pushed and by `/sync`).
    var seenToDevice: [String] = []
    /// Megolm session and index → the event it decrypted (a replayed index is refused).
    var decryptedIndexes: [String: String] = [:]
    /// Megolm sessions whose key was asked for in this process.
    var requestedSessions: Set<String> = []
    /// When a fresh Olm session was last made with a device (by its Curve25519 key) to unwedge it.
    var unwedged: [String: Date] = [:]
    private let ready = AsyncEvent()
    /// Held across every change of the account or the Olm sessions, awaits included: the actor
    /// alone would let a second change read a session while the first is still writing it.
    private let changing = AsyncLock()
    private nonisolated let readyDevice = Mutex<String?>(nil)

    public init(backend: any OlmBackend, vault: Vault, api: MatrixClientAPI, client: any HTTPClient, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.backend = backend
        self.vault = vault
        self.api = api
        self.client = client
        self.logger = logger
        self.now = now
        self.device = VaultDocument(vault: vault, name: "matrix-crypto", initial: DeviceDocument(), snapshotsPerJournal: 500)
    }

    /// Loads or makes the account and the device, and uploads the signed device keys, one-time
    /// keys and a fallback key if the homeserver lacks them. Until it returns, ``waitUntilReady(timeout:)``
    /// waits (the bot joins no room before its keys are there).
    public func start(_ source: DeviceSource, userID: String) async throws {
        try await self.exclusively { try await self.startDevice(source, userID: userID) }
    }

    private func startDevice(_ source: DeviceSource, userID: String) async throws {
        self.userID = userID
        let stored = try await self.device.contents()
        var deviceID: String
        switch source {
        case .accessToken(let id): deviceID = id
        case .applicationService: deviceID = stored.deviceID ?? "SPIEGEL" + RandomID.make().prefix(8).uppercased()
        }
        if stored.deviceID != deviceID || stored.account == nil {
            if stored.account != nil {
                self.logger.warning("spiegel.matrix.e2ee_new_device", metadata: ["spiegel.hint": "the bot's Matrix device changed: a new Olm account is made; earlier sessions cannot be used"])
            }
            let account = try self.backend.makeAccount()
            let pickle = account.pickle(key: Self.pickleKey)
            try await self.device.update {
                $0 = DeviceDocument()
                $0.deviceID = deviceID
                $0.account = pickle
            }
        }
        let account = try self.loadAccount()
        self.identity = account.identityKeys
        self.deviceID = deviceID
        if case .applicationService = source {
            self.api = self.api.acting(as: self.userID, deviceID: deviceID)
            let uploaded = try await self.device.contents().deviceKeysUploaded
            let unknown = uploaded ? try await self.deviceIsUnknown() : true
            if unknown {
                try await self.call(self.api.loginAsApplicationService(userID: self.userID, deviceID: deviceID))
                try await self.device.update { $0.deviceKeysUploaded = false }
            }
        }
        try await self.uploadKeys()
        self.readyDevice.withLock { $0 = deviceID }
        self.ready.set()
        self.logger.info("spiegel.matrix.e2ee_ready", metadata: ["spiegel.device": "\(deviceID)"])
    }

    /// Whether ``start(_:userID:)`` has the device's keys on the homeserver within `timeout`.
    public nonisolated func waitUntilReady(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await self.ready.wait()) != nil }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    public nonisolated var isReady: Bool { self.ready.isSet }

    /// The bot's device id, once ``start(_:userID:)`` has its keys on the homeserver.
    public nonisolated var readyDeviceID: String? { self.readyDevice.withLock { $0 } }

    /// Drops what is held in memory of the user whose coachee pseudonym is `pseudonym` (the
    /// vault erased their companion document).
    public func forget(_ pseudonym: Pseudonym) {
        for user in self.peers.keys where self.vault.pseudonym(of: CoacheeID(user)) == pseudonym {
            self.peers[user] = nil
            self.freshDeviceLists[user] = nil
        }
    }

    /// Runs `body` while no other change of the account or the Olm sessions runs.
    func exclusively<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await self.changing.lock()
        defer { self.changing.unlock() }
        return try await body()
    }

    // MARK: Keys

    func loadAccount() throws -> any OlmAccount {
        guard let pickle = self.device.current.account else { throw MatrixError(errcode: "SPIEGEL_NO_ACCOUNT") }
        return try self.backend.account(fromPickle: pickle, key: Self.pickleKey)
    }

    /// Whether the homeserver no longer knows the bot's device (application service).
    private func deviceIsUnknown() async throws -> Bool {
        let response = try await self.client.execute(self.api.uploadKeys([:]))
        return response.status.code == 400 && MatrixError(response)?.errcode == "M_UNKNOWN_DEVICE"
    }

    /// The device's keys signed by the account.
    private func signedDeviceKeys(_ account: any OlmAccount) -> JSONValue {
        let keys: JSONValue = [
            "user_id": .string(self.userID),
            "device_id": .string(self.deviceID),
            "algorithms": [.string(Self.olmAlgorithm), .string(Self.megolmAlgorithm)],
            "keys": .object([
                "curve25519:\(self.deviceID)": .string(self.identity.curve25519),
                "ed25519:\(self.deviceID)": .string(self.identity.ed25519),
            ]),
        ]
        return self.signed(keys, with: account)
    }

    func signed(_ object: JSONValue, with account: any OlmAccount) -> JSONValue {
        let signature = account.sign(object.signedBytes)
        return object.setting("signatures", to: .object([self.userID: .object(["ed25519:\(self.deviceID)": .string(signature)])]))
    }

    /// Uploads what the homeserver lacks: the device keys once, then the unpublished one-time and
    /// fallback keys; tops the one-time keys up to half of what the account holds when
    /// `oneTimeKeyCount` is known and lower. The account is written before the upload (keys the
    /// homeserver may have) and after it (marked published).
    func uploadKeys(oneTimeKeyCount: Int? = nil, needsFallback: Bool = false) async throws {
        var account = try self.loadAccount()
        let target = account.maxOneTimeKeys / 2
        var changed = false
        if let count = oneTimeKeyCount, count < target, account.unpublishedOneTimeKeys().isEmpty {
            try account.generateOneTimeKeys(count: target - count)
            changed = true
        }
        let uploaded = self.device.current.deviceKeysUploaded
        if !uploaded, account.unpublishedOneTimeKeys().isEmpty {
            try account.generateOneTimeKeys(count: target)
            changed = true
        }
        if (!uploaded || needsFallback), account.unpublishedFallbackKey().isEmpty {
            try account.generateFallbackKey()
            changed = true
        }
        if changed {
            let pickle = account.pickle(key: Self.pickleKey)
            try await self.device.update { $0.account = pickle }
        }
        var body: [String: JSONValue] = [:]
        if !uploaded { body["device_keys"] = self.signedDeviceKeys(account) }
        var oneTimeKeys: [String: JSONValue] = [:]
        for (id, key) in account.unpublishedOneTimeKeys() {
            oneTimeKeys["signed_curve25519:\(id)"] = self.signed(["key": .string(key)], with: account)
        }
        if !oneTimeKeys.isEmpty { body["one_time_keys"] = .object(oneTimeKeys) }
        var fallbackKeys: [String: JSONValue] = [:]
        for (id, key) in account.unpublishedFallbackKey() {
            fallbackKeys["signed_curve25519:\(id)"] = self.signed(["key": .string(key), "fallback": true], with: account)
        }
        if !fallbackKeys.isEmpty { body["fallback_keys"] = .object(fallbackKeys) }
        guard !body.isEmpty else { return }
        try await self.call(self.api.uploadKeys(.object(body)))
        // Marked published only now that the homeserver has them.
        account = try self.loadAccount()
        account.markKeysAsPublished()
        let pickle = account.pickle(key: Self.pickleKey)
        try await self.device.update {
            $0.account = pickle
            $0.deviceKeysUploaded = true
        }
        Counter(label: "spiegel_matrix_e2ee_keys_uploaded_total").increment(by: oneTimeKeys.count + fallbackKeys.count)
    }

    /// Asks the homeserver how many one-time keys it holds and tops them up.
    func topUpOneTimeKeys() async throws {
        let counts = try await self.call(self.api.uploadKeys([:]))
        let count = counts["one_time_key_counts"]?["signed_curve25519"]?.int ?? 0
        try await self.uploadKeys(oneTimeKeyCount: Int(count))
    }

    // MARK: Documents

    /// The companion document of `user`, loaded.
    func peer(_ user: String) async throws -> VaultDocument<PeerDocument> {
        if let known = self.peers[user] { return known }
        let document = VaultDocument(vault: self.vault, name: self.vault.companionName(of: CoacheeID(user)), initial: PeerDocument(), snapshotsPerJournal: 200)
        try await document.load()
        self.peers[user] = document
        return document
    }

    // MARK: HTTP

    /// Executes `request`; a status other than 2xx throws the Matrix error it carries.
    @discardableResult
    func call(_ request: HTTPClientRequest) async throws -> JSONValue {
        let response = try await self.client.execute(request)
        guard response.status.kind == .successful else {
            throw MatrixError(response) ?? MatrixError(errcode: "HTTP_\(response.status.code)")
        }
        return JSONValue.parse(response.body) ?? [:]
    }

    func count(_ kind: String) {
        Counter(label: "spiegel_matrix_e2ee_total", dimensions: [("kind", kind)]).increment()
    }
}
