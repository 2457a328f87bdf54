public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A message read by an ``E2EETestClient``: decrypted when the client had the room key.
public struct E2EETestMessage: Sendable, Equatable {
    /// The event id.
    public let eventID: String
    /// `content.body`; `nil` for an encrypted event that could not be decrypted.
    public let body: String?
    /// `content.formatted_body`, when there is one.
    public let formattedBody: String?
    /// `content.msgtype` (`m.text`, `m.notice`, ...); `nil` when not decrypted.
    public let msgtype: String?
    /// Whether the event was sent as `m.room.encrypted`.
    public let encrypted: Bool
    /// Whether the client decrypted it (always false for an unencrypted event).
    public let decrypted: Bool
    /// The homeserver's timestamp of the event (milliseconds since 1970).
    public var originServerTS: Int64? = nil
}

/// A device an ``E2EETestClient`` knows for some user, with its identity keys.
public struct E2EETestDevice: Sendable, Equatable {
    /// The device id.
    public let deviceID: String
    /// Its ed25519 fingerprint key (unpadded base64).
    public let ed25519: String
    /// Its curve25519 identity key (unpadded base64).
    public let curve25519: String
    /// Its display name, if any.
    public let displayName: String?
}

/// A real end-to-end-encrypting Matrix client for one user, to play a teacher in an encrypted
/// room: `Tests/SpiegelAppTests/Fixtures/e2ee_teacher.py` (matrix-nio with vodozemac, installed
/// into the Synapse venv by `make synapse`) run by the venv's Python and driven over JSON lines.
///
/// It syncs in the background, trusts every device on first use and keeps its Olm account and
/// Megolm sessions in the `store` directory, so a client started again on the same store and
/// device continues. Its log is `e2ee_teacher.log` in that directory. Commands run one at a time;
/// each fails after its own timeout plus 30 s even if the script hangs. Call ``stop()`` when done;
/// a client deinitialized while running kills the script.
public final class E2EETestClient: Sendable {
    /// The user this client is.
    public let userID: String
    /// The device it uses (the access token's).
    public let deviceID: String
    /// The script's log (nio's included).
    public let logFile: URL

    private let script: ScriptProcess

    private init(userID: String, deviceID: String, logFile: URL, script: ScriptProcess) {
        self.userID = userID
        self.deviceID = deviceID
        self.logFile = logFile
        self.script = script
    }

    /// The script, found from this source file: the package root is four levels up.
    static var script: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/SpiegelAppTests/Fixtures/e2ee_teacher.py")
    }

    /// Starts the client for `client`'s user and device and waits for its first sync and key
    /// upload.
    /// - Parameters:
    ///   - homeserver: the homeserver's base URL, such as ``SynapseHomeserver/baseURL``.
    ///   - client: the user's id, access token and device id (as ``SynapseHomeserver/register(_:admin:displayName:)`` returns).
    ///   - store: the directory of its crypto store and log (created if missing).
    public static func start(homeserver: String, client: MatrixTestClient, store: URL) async throws -> E2EETestClient {
        guard let deviceID = client.deviceID else {
            throw SynapseHarnessError("E2EETestClient needs the device id of \(client.userID)'s access token")
        }
        let python = try SynapseHomeserver.python()
        guard FileManager.default.fileExists(atPath: Self.script.path) else {
            throw SynapseHarnessError("no e2ee_teacher.py at \(Self.script.path)")
        }
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        let logFile = store.appendingPathComponent("e2ee_teacher.log")
        let script = try ScriptProcess(
            name: "e2ee_teacher \(client.userID)", executable: python,
            arguments: [
                Self.script.path, "--homeserver", homeserver, "--user-id", client.userID,
                "--access-token", client.accessToken, "--device-id", deviceID, "--store", store.path,
            ],
            logFile: logFile, makeError: { SynapseHarnessError($0) }
        )
        let teacher = E2EETestClient(userID: client.userID, deviceID: deviceID, logFile: logFile, script: script)
        do {
            _ = try await teacher.call(["cmd": "ping"], timeout: .seconds(60))
        } catch {
            await teacher.stop()
            throw error
        }
        return teacher
    }

    // MARK: - Commands

    /// Creates a direct chat (preset `trusted_private_chat`, `is_direct`) inviting `user`,
    /// encrypted with Megolm unless `encrypted` is false, and returns its id once the client has
    /// it (and the invite) from `/sync`.
    public func createDirectChat(with user: String, encrypted: Bool = true, timeout: Duration = .seconds(30)) async throws -> String {
        let reply = try await self.call(
            ["cmd": "create_dm", "invite": user, "encrypted": encrypted, "timeout": Self.seconds(timeout)], timeout: timeout)
        return try Self.string("room", in: reply)
    }

    /// Joins `room` (after an invite) and waits until the client has the join from `/sync`.
    public func join(_ room: String, timeout: Duration = .seconds(30)) async throws {
        _ = try await self.call(["cmd": "join", "room": room, "timeout": Self.seconds(timeout)], timeout: timeout)
    }

    /// Waits until the client has seen `user` join `room`.
    public func waitJoined(_ user: String, in room: String, timeout: Duration = .seconds(30)) async throws {
        _ = try await self.call(["cmd": "wait_joined", "room": room, "user": user, "timeout": Self.seconds(timeout)], timeout: timeout)
    }

    /// Sends `text` as an `m.text` to `room`, encrypted when the room is (the room key shared with
    /// every current device of every member first), and returns the event id.
    @discardableResult
    public func send(_ text: String, to room: String) async throws -> String {
        let reply = try await self.call(["cmd": "send", "room": room, "text": text], timeout: .seconds(30))
        return try Self.string("event_id", in: reply)
    }

    /// Waits until `sender` has at least `count` messages in `room` and all of them are
    /// decrypted (room keys can arrive after the message), then returns all of `sender`'s
    /// messages in the room, oldest first. When time runs out with `count` messages of which some
    /// are still undecryptable, those are returned with `decrypted` false and no body.
    /// - Throws: ``SynapseHarnessError`` when fewer than `count` arrived in time.
    public func waitForMessages(in room: String, from sender: String, count: Int, timeout: Duration = .seconds(60)) async throws -> [E2EETestMessage] {
        let reply = try await self.call(
            ["cmd": "wait_messages", "room": room, "sender": sender, "count": count, "timeout": Self.seconds(timeout)], timeout: timeout)
        guard let messages = reply["messages"] as? [[String: Any]] else {
            throw SynapseHarnessError("e2ee_teacher wait_messages answered without messages")
        }
        return try messages.map(Self.message(from:))
    }

    /// A message as the script reports it.
    private static func message(from message: [String: Any]) throws -> E2EETestMessage {
        E2EETestMessage(
            eventID: try Self.string("event_id", in: message),
            body: message["body"] as? String,
            formattedBody: message["formatted_body"] as? String,
            msgtype: message["msgtype"] as? String,
            encrypted: message["encrypted"] as? Bool ?? false,
            decrypted: message["decrypted"] as? Bool ?? false,
            originServerTS: (message["ts"] as? NSNumber)?.int64Value
        )
    }

    /// The first message of `sender` after the event `after` (read from the newest page of the
    /// room, so it costs the same at any history length), and the homeserver's timestamp of
    /// `after`; waits for it to come and be decrypted.
    public func waitForReply(in room: String, from sender: String, after: String, timeout: Duration = .seconds(30)) async throws -> (message: E2EETestMessage, afterTS: Int64?) {
        let reply = try await self.call(["cmd": "wait_reply", "room": room, "sender": sender, "after": after, "timeout": Self.seconds(timeout)], timeout: timeout)
        guard let message = reply["message"] as? [String: Any] else {
            throw SynapseHarnessError("e2ee_teacher wait_reply answered without a message")
        }
        return (try Self.message(from: message), (reply["after_ts"] as? NSNumber)?.int64Value)
    }

    /// The devices the client knows for `user` (their keys queried from the homeserver first).
    public func devices(of user: String) async throws -> [E2EETestDevice] {
        let reply = try await self.call(["cmd": "devices", "user": user], timeout: .seconds(30))
        guard let devices = reply["devices"] as? [[String: Any]] else {
            throw SynapseHarnessError("e2ee_teacher devices answered without devices")
        }
        return try devices.map { device in
            E2EETestDevice(
                deviceID: try Self.string("device_id", in: device),
                ed25519: try Self.string("ed25519", in: device),
                curve25519: try Self.string("curve25519", in: device),
                displayName: (device["display_name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            )
        }
    }

    /// Drops the room's outbound Megolm session: the next message starts a new one and sends its
    /// key to the members' devices again.
    public func startNewSession(in room: String) async throws {
        _ = try await self.call(["cmd": "new_session", "room": room], timeout: .seconds(30))
    }

    /// Asks the script to quit and waits for it (at most 10 s, then kills it). Its store stays.
    public func stop() async {
        await self.script.stop(with: "quit")
    }

    // MARK: - The protocol

    /// Sends one command and returns its reply (`ok` true), one command at a time.
    /// - Throws: ``SynapseHarnessError`` when the reply is `ok` false, the script exits, or no
    ///   reply came within `timeout` + `grace`.
    private func call(_ command: [String: Any], timeout: Duration, grace: Duration = .seconds(30)) async throws -> [String: Any] {
        try await self.script.call(command, timeout: timeout, grace: grace)
    }

    private static func string(_ key: String, in reply: [String: Any]) throws -> String {
        guard let value = reply[key] as? String else {
            throw SynapseHarnessError("e2ee_teacher answered without \(key)")
        }
        return value
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
