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

    private let process: Process
    private let input: Pipe
    private let output: Pipe
    private let channel: Channel

    private init(userID: String, deviceID: String, logFile: URL, process: Process, input: Pipe, output: Pipe, channel: Channel) {
        self.userID = userID
        self.deviceID = deviceID
        self.logFile = logFile
        self.process = process
        self.input = input
        self.output = output
        self.channel = channel
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
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
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        defer { try? log.close() }
        try log.seekToEnd()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.script.path, "--homeserver", homeserver, "--user-id", client.userID,
            "--access-token", client.accessToken, "--device-id", deviceID, "--store", store.path,
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = log
        // A write to a script that died must fail with EPIPE, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        try process.run()

        let channel = Channel(logFile: logFile)
        let descriptor = output.fileHandleForReading.fileDescriptor
        let reader = Thread { channel.readLines(from: descriptor) }
        reader.name = "e2ee_teacher \(client.userID)"
        reader.start()

        let teacher = E2EETestClient(
            userID: client.userID, deviceID: deviceID, logFile: logFile,
            process: process, input: input, output: output, channel: channel
        )
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
        if self.process.isRunning {
            _ = try? await self.call(["cmd": "quit"], timeout: .zero, grace: .seconds(5))
        }
        try? self.input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while self.process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
    }

    // MARK: - The protocol

    /// Sends one command and returns its reply (`ok` true), one command at a time.
    /// - Throws: ``SynapseHarnessError`` when the reply is `ok` false, the script exits, or no
    ///   reply came within `timeout` + `grace`.
    private func call(_ command: [String: Any], timeout: Duration, grace: Duration = .seconds(30)) async throws -> [String: Any] {
        await self.channel.acquire()
        defer { self.channel.release() }
        let name = command["cmd"] as? String ?? "?"
        let id = self.channel.nextID()
        var message = command
        message["id"] = id
        var line = try JSONSerialization.data(withJSONObject: message)
        line.append(0x0A)

        let channel = self.channel
        let limit = timeout + grace
        let timer = Task {
            try await Task.sleep(for: limit)
            channel.fail(id, SynapseHarnessError("e2ee_teacher \(name): no reply within \(limit)\n\(channel.logTail())"))
        }
        defer { timer.cancel() }
        let text = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
                guard channel.wait(id, continuation) else { return }
                if let error = Self.write(line, to: self.input.fileHandleForWriting.fileDescriptor) {
                    channel.fail(id, SynapseHarnessError("e2ee_teacher \(name): writing the command failed: \(error)\n\(channel.logTail())"))
                }
            }
        } onCancel: {
            channel.fail(id, CancellationError())
        }
        guard let reply = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw SynapseHarnessError("e2ee_teacher \(name): unreadable reply \(text)")
        }
        guard reply["ok"] as? Bool == true else {
            throw SynapseHarnessError("e2ee_teacher \(name) failed: \(reply["error"] as? String ?? text)")
        }
        return reply
    }

    /// Writes all of `data` to `descriptor`; the errno text on failure. A command is a few
    /// hundred bytes and the script reads its input continuously: this does not block for long.
    private static func write(_ data: Data, to descriptor: Int32) -> String? {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> String? in
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                let written = Darwin.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += written
            }
            return nil
        }
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

/// The reply side of the protocol: the reader thread hands each line to the command waiting for
/// its id; and a FIFO lock so that commands run one at a time.
private final class Channel: Sendable {
    private struct State {
        var lastID = 0
        var waiting: (id: Int, continuation: CheckedContinuation<String, any Error>)?
        var closed = false
        var busy = false
        var queue: [CheckedContinuation<Void, Never>] = []
    }

    let logFile: URL
    private let state = Mutex(State())

    init(logFile: URL) {
        self.logFile = logFile
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = self.state.withLock { state in
                if state.busy {
                    state.queue.append(continuation)
                    return false
                }
                state.busy = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.queue.isEmpty {
                state.busy = false
                return nil
            }
            return state.queue.removeFirst()
        }
        next?.resume()
    }

    func nextID() -> Int {
        self.state.withLock { state in
            state.lastID += 1
            return state.lastID
        }
    }

    /// Registers the continuation for the reply to `id`; false (and resumed with an error) when
    /// the script has exited.
    func wait(_ id: Int, _ continuation: CheckedContinuation<String, any Error>) -> Bool {
        let closed = self.state.withLock { state in
            if !state.closed { state.waiting = (id, continuation) }
            return state.closed
        }
        if closed {
            continuation.resume(throwing: SynapseHarnessError("e2ee_teacher has exited\n\(self.logTail())"))
        }
        return !closed
    }

    /// Resumes the command waiting for `id`, if it still is, with `error`.
    func fail(_ id: Int, _ error: any Error) {
        self.take(id)?.resume(throwing: error)
    }

    private func take(_ id: Int) -> CheckedContinuation<String, any Error>? {
        self.state.withLock { state in
            guard let waiting = state.waiting, waiting.id == id else { return nil }
            state.waiting = nil
            return waiting.continuation
        }
    }

    /// The reader thread: splits the script's output into lines until it closes, and delivers
    /// each to the command whose id it carries (a late reply to a timed-out command is dropped).
    func readLines(from descriptor: Int32) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            pending.append(contentsOf: chunk[0..<count])
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                let reply = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                if let id = reply?["id"] as? Int {
                    self.take(id)?.resume(returning: line)
                }
            }
        }
        let waiting = self.state.withLock { state in
            state.closed = true
            defer { state.waiting = nil }
            return state.waiting?.continuation
        }
        waiting?.resume(throwing: SynapseHarnessError("e2ee_teacher exited\n\(self.logTail())"))
    }

    /// The last 30 lines of the script's log.
    func logTail() -> String {
        let text = (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(31)
        return "--- \(self.logFile.path) (last 30 lines)\n" + lines.joined(separator: "\n")
    }
}
