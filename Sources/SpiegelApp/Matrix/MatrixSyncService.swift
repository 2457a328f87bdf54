import Foundation
import HTTPTypes
import Logging
import Metrics
import ServiceLifecycle
import SpiegelChat

/// `/sync` mode: long-polls the homeserver as the bot's account and hands what arrives to the
/// ``MatrixBot``. The position (`next_batch`) is written to the vault only after the batch's
/// messages are journalled and their replies queued, so a restart neither replays old messages
/// nor misses new ones. On the very first sync (no position yet), messages already in the rooms
/// are history, not questions: only invites are acted on. Errors back off exponentially (with
/// jitter) up to a minute.
struct MatrixSyncService: Service {
    let bot: MatrixBot
    let client: any HTTPClient
    let configuredUserID: String?
    let logger: Logger
    var pollTimeoutMilliseconds = 30_000

    /// Only what the bot needs: messages, encrypted messages and memberships in the timeline;
    /// memberships and encryption in the state; no presence, receipts, typing or account data.
    /// To-device messages, device lists and key counts always come.
    static let filter = #"{"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]},"room":{"timeline":{"limit":50,"types":["m.room.message","m.room.encrypted","m.room.member","m.room.encryption"]},"state":{"types":["m.room.member","m.room.encryption"],"lazy_load_members":true},"ephemeral":{"not_types":["*"]},"account_data":{"not_types":["*"]}}}"#

    func run() async throws {
        try await self.bot.state.load()
        var failures = 0
        var device: String?
        var nextEncryptionStart = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if self.bot.userID == nil {
                    device = try await self.identify()
                }
                if let encryption = self.bot.encryption, !encryption.isReady, ContinuousClock.now >= nextEncryptionStart {
                    nextEncryptionStart = ContinuousClock.now + .seconds(60)
                    await self.startEncryption(encryption, device: device)
                }
                try await self.syncOnce()
                failures = 0
            } catch is CancellationError {
                break
            } catch {
                failures += 1
                let bound = min(60_000, 1_000 * (1 << min(failures - 1, 6)))
                let delay = Int.random(in: bound / 2...bound)
                // HTTP and Matrix errors name a host or an error code; anything else (a body that
                // did not decode) only by its type, never with what it held.
                let described = error is HTTPClientError || error is MatrixError ? "\(error)" : "\(type(of: error))"
                self.logger.warning("spiegel.matrix.sync_failed", metadata: [
                    "spiegel.error": "\(described)", "spiegel.retry_in_ms": "\(delay)",
                ])
                Counter(label: "spiegel_matrix_sync_failures_total").increment()
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(delay)) }
            }
        }
    }

    /// Makes the device's keys ready; a failure is logged (with what to do) and tried again a
    /// minute later, while unencrypted rooms go on being coached.
    private func startEncryption(_ encryption: MatrixEncryption, device: String?) async {
        guard let device, let me = self.bot.userID else {
            self.logger.error("spiegel.matrix.no_device", metadata: ["spiegel.hint": "matrix.access_token has no device: log the bot in with its password to get a token with a device, or set matrix.encryption: off"])
            return
        }
        do {
            try await encryption.start(.accessToken(deviceID: device), userID: me)
        } catch {
            let described = error is HTTPClientError || error is MatrixError ? "\(error)" : "\(type(of: error))"
            self.logger.error("spiegel.matrix.e2ee_start_failed", metadata: [
                "spiegel.error": "\(described)",
                "spiegel.hint": "a device that has keys from another Spiegel data directory refuses new ones: log the bot in again for a new access token",
            ])
        }
    }

    /// Learns the bot's user id from the homeserver and checks it against the configured one.
    /// - Returns: the device of the access token, if it has one.
    private func identify() async throws -> String? {
        let response = try await self.client.execute(self.bot.api.whoami())
        guard response.status.kind == .successful else {
            throw MatrixError(response) ?? MatrixError(errcode: "HTTP_\(response.status.code)")
        }
        struct WhoAmI: Decodable {
            var user_id: String
            var device_id: String?
        }
        let whoami = try JSONDecoder().decode(WhoAmI.self, from: Data(response.body))
        let me = whoami.user_id
        if let configured = self.configuredUserID, configured != me {
            self.logger.error("spiegel.matrix.user_mismatch", metadata: ["spiegel.hint": "matrix.user_id differs from the account of matrix.access_token"])
            throw MatrixError(errcode: "SPIEGEL_USER_MISMATCH")
        }
        self.bot.setUserID(me)
        self.logger.info("spiegel.matrix.sync_started")
        return whoami.device_id
    }

    private func syncOnce() async throws {
        let since = self.bot.state.contents.since
        let response = try await cancelWhenGracefulShutdown {
            try await self.client.execute(self.bot.api.sync(since: since, timeoutMilliseconds: since == nil ? 0 : self.pollTimeoutMilliseconds, filter: Self.filter))
        }
        guard response.status.kind == .successful else {
            throw MatrixError(response) ?? MatrixError(errcode: "HTTP_\(response.status.code)")
        }
        let sync = try JSONDecoder().decode(SyncResponse.self, from: Data(response.body))
        var events: [MatrixEvent] = []
        for (room, invited) in sync.rooms?.invite ?? [:] {
            for var event in invited.inviteState?.events?.elements ?? [] {
                event.roomID = room
                events.append(event)
            }
        }
        for (room, joined) in sync.rooms?.join ?? [:] {
            if joined.timeline?.limited == true, since != nil {
                Counter(label: "spiegel_matrix_sync_gaps_total").increment()
            }
            for var event in (joined.state?.events?.elements ?? []) + (joined.timeline?.events?.elements ?? []) {
                event.roomID = room
                events.append(event)
            }
        }
        var devices = MatrixEncryption.DeviceUpdates()
        devices.toDevice = sync.toDevice?.events ?? []
        devices.changedUsers = sync.deviceLists?.changed ?? []
        devices.leftUsers = sync.deviceLists?.left ?? []
        devices.oneTimeKeyCounts = sync.oneTimeKeyCounts
        devices.unusedFallbackKeyTypes = sync.unusedFallbackKeyTypes
        try await self.bot.process(events, live: since != nil, devices: devices)
        try await self.bot.state.update { $0.since = sync.nextBatch }
    }

    private struct SyncResponse: Decodable {
        var nextBatch: String
        var rooms: Rooms?
        var toDevice: ToDevice?
        var deviceLists: DeviceLists?
        var oneTimeKeyCounts: [String: Int]?
        var unusedFallbackKeyTypes: [String]?

        struct ToDevice: Decodable {
            var events: [JSONValue]?
        }

        struct DeviceLists: Decodable {
            var changed: [String]?
            var left: [String]?
        }

        struct Rooms: Decodable {
            var join: [String: JoinedRoom]?
            var invite: [String: InvitedRoom]?
        }

        struct JoinedRoom: Decodable {
            var state: Events?
            var timeline: Events?
        }

        struct InvitedRoom: Decodable {
            var inviteState: Events?
            enum CodingKeys: String, CodingKey { case inviteState = "invite_state" }
        }

        struct Events: Decodable {
            var events: LenientArray<MatrixEvent>?
            var limited: Bool?
        }

        enum CodingKeys: String, CodingKey {
            case nextBatch = "next_batch"
            case rooms
            case toDevice = "to_device"
            case deviceLists = "device_lists"
            case oneTimeKeyCounts = "device_one_time_keys_count"
            case unusedFallbackKeyTypes = "device_unused_fallback_key_types"
        }
    }
}
