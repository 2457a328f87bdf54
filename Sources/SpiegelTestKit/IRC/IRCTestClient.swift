public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A line an ``IRCTestClient`` received (a PRIVMSG, a NOTICE or whatever ``IRCTestClient/received(commands:)``
/// asked for), parsed.
public struct IRCTestLine: Sendable, Equatable {
    /// The IRCv3 message tags, their values unescaped (`time`, `account`, `msgid`, ...); a tag
    /// without a value has the empty string.
    public let tags: [String: String]
    /// The source, `nick!user@host` or a server name; nil when the line had none.
    public let source: String?
    /// The command in capitals or the numeric: `PRIVMSG`, `NOTICE`, `ERROR`, `001`.
    public let command: String
    /// The first parameter when there are two or more: the channel or nick a message went to.
    /// Empty otherwise (`ERROR :...`).
    public let target: String
    /// The last parameter: a message's text.
    public let text: String
    /// When the client read the line.
    public let receivedAt: Date

    /// Creates a line.
    public init(tags: [String: String], source: String?, command: String, target: String, text: String, receivedAt: Date) {
        self.tags = tags
        self.source = source
        self.command = command
        self.target = target
        self.text = text
        self.receivedAt = receivedAt
    }

    /// The nick of ``source`` (the part before `!`).
    public var nick: String? {
        self.source.map { String($0.split(separator: "!", maxSplits: 1, omittingEmptySubsequences: false)[0]) }
    }
}

/// What ``IRCTestClient/connect(host:port:nick:user:saslAccount:saslPassword:caps:timeout:)``
/// reports once the server has welcomed the client (001).
public struct IRCTestRegistration: Sendable, Equatable {
    /// The nick the server registered (001's first parameter).
    public let nick: String
    /// The capabilities the server acknowledged (`sasl` among them after a SASL login).
    public let capabilities: [String]
    /// The capabilities the server offered in `CAP LS 302` (empty when none were negotiated).
    public let offeredCapabilities: [String]
    /// The account the client logged in to with SASL (from 900); nil without SASL.
    public let account: String?
}

/// A raw-socket IRC client playing a teacher or a team member:
/// `Tests/SpiegelAppTests/Fixtures/irc_teacher.py` (Python 3's standard library only, the
/// `python3` on `PATH`) driven over JSON lines.
///
/// It answers PINGs by itself and records every line it receives with its tags and the time it
/// arrived, across reconnects. Commands run one at a time; each fails after its own timeout plus
/// 10 s even if the script hangs. Its log (every line in and out, SASL payloads left out) is
/// ``logFile``. Call ``stop()`` when done; a client deinitialized while running kills the script.
public final class IRCTestClient: Sendable {
    /// The name the script logs under.
    public let name: String
    /// The script's log.
    public let logFile: URL

    private let removesLogFile: Bool
    private let process: Process
    private let input: Pipe
    private let output: Pipe
    private let channel: IRCScriptChannel

    private init(name: String, logFile: URL, removesLogFile: Bool, process: Process, input: Pipe, output: Pipe, channel: IRCScriptChannel) {
        self.name = name
        self.logFile = logFile
        self.removesLogFile = removesLogFile
        self.process = process
        self.input = input
        self.output = output
        self.channel = channel
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }

    /// The `python3` on `PATH` (else `/usr/bin/python3`).
    /// - Throws: ``IRCHarnessError`` when there is none.
    public static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/python3" } + ["/usr/bin/python3"]
        guard let python = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw IRCHarnessError("The IRC tests need python3, which is not on PATH: `make test` installs it (Debian package python3)")
        }
        return python
    }

    /// Starts the script; it connects nowhere until ``connect(host:port:nick:user:saslAccount:saslPassword:caps:timeout:)``.
    /// - Parameters:
    ///   - script: the path of `irc_teacher.py` (the tests' `Fixtures` directory).
    ///   - name: the name the script logs under, such as the nick it will use.
    ///   - logFile: where the script logs; a temporary file, removed by ``stop()``, when nil.
    public static func start(script: URL, name: String = "irc_teacher", logFile: URL? = nil) async throws -> IRCTestClient {
        let python = try Self.python()
        guard FileManager.default.fileExists(atPath: script.path) else {
            throw IRCHarnessError("no irc_teacher.py at \(script.path)")
        }
        let log = logFile ?? FileManager.default.temporaryDirectory.appendingPathComponent("irc_teacher-\(name)-\(UUID().uuidString).log")
        try FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        try handle.seekToEnd()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, "--name", name]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = handle
        // A write to a script that died must fail with EPIPE, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        try process.run()

        let channel = IRCScriptChannel(logFile: log)
        let descriptor = output.fileHandleForReading.fileDescriptor
        let reader = Thread { channel.readLines(from: descriptor) }
        reader.name = "irc_teacher \(name)"
        reader.start()

        let client = IRCTestClient(
            name: name, logFile: log, removesLogFile: logFile == nil,
            process: process, input: input, output: output, channel: channel
        )
        do {
            _ = try await client.call(["cmd": "ping"], timeout: .seconds(20))
        } catch {
            await client.stop()
            throw error
        }
        return client
    }

    // MARK: - Commands

    /// Connects (closing an earlier connection first) and registers: with `caps` or SASL, `CAP LS
    /// 302`, `CAP REQ` of those of `caps` the server offers (and `sasl`), `AUTHENTICATE PLAIN`
    /// and `CAP END`; then NICK/USER and waiting for 001. InspIRCd's 001 comes about 1 s later.
    /// - Parameters:
    ///   - user: the user name and real name; `nick` when nil.
    ///   - saslAccount: the account to log in to with SASL PLAIN, with `saslPassword`.
    ///   - caps: capabilities to request when offered, such as `server-time`, `message-tags`,
    ///     `account-tag`; see ``IRCTestRegistration/capabilities`` for what was granted.
    /// - Throws: ``IRCHarnessError`` when the connection is refused, the server offers no `sasl`,
    ///   SASL fails (the message names the numeric, `904`), the nick is refused (`433`), or no 001
    ///   came within `timeout`.
    @discardableResult
    public func connect(
        host: String, port: Int, nick: String, user: String? = nil, saslAccount: String? = nil, saslPassword: String? = nil,
        caps: [String] = [], timeout: Duration = .seconds(15)
    ) async throws -> IRCTestRegistration {
        var command: [String: Any] = [
            "cmd": "connect", "host": host, "port": port, "nick": nick, "caps": caps, "timeout": Self.seconds(timeout),
        ]
        if let user { command["user"] = user }
        if let saslAccount { command["sasl_account"] = saslAccount }
        if let saslPassword { command["sasl_password"] = saslPassword }
        let reply = try await self.call(command, timeout: timeout)
        return IRCTestRegistration(
            nick: try Self.string("nick", in: reply),
            capabilities: reply["caps"] as? [String] ?? [],
            offeredCapabilities: reply["offered"] as? [String] ?? [],
            account: reply["account"] as? String
        )
    }

    /// ``connect(host:port:nick:user:saslAccount:saslPassword:caps:timeout:)`` to `server`.
    @discardableResult
    public func connect(
        to server: IRCTestServer, nick: String, user: String? = nil, saslAccount: String? = nil, saslPassword: String? = nil,
        caps: [String] = [], timeout: Duration = .seconds(15)
    ) async throws -> IRCTestRegistration {
        try await self.connect(
            host: server.host, port: server.port, nick: nick, user: user, saslAccount: saslAccount, saslPassword: saslPassword,
            caps: caps, timeout: timeout)
    }

    /// Sends `PRIVMSG target :text`.
    /// - Throws: ``IRCHarnessError`` when not connected, or `text` holds CR, LF or NUL (use ``raw(_:)``).
    public func send(_ text: String, to target: String) async throws {
        _ = try await self.call(["cmd": "send", "target": target, "text": text], timeout: .seconds(15))
    }

    /// Sends `line` as it is, CRLF appended unless it ends in a newline: any command, tags, an
    /// over-long line, or many lines at once (a flood).
    public func raw(_ line: String) async throws {
        _ = try await self.call(["cmd": "raw", "line": line], timeout: .seconds(15))
    }

    /// Joins `channel` and waits for the server's JOIN of this client.
    /// - Throws: ``IRCHarnessError`` on a refusal numeric (`473`, `474`, ...) or after `timeout`.
    public func join(_ channel: String, timeout: Duration = .seconds(10)) async throws {
        _ = try await self.call(["cmd": "join", "channel": channel, "timeout": Self.seconds(timeout)], timeout: timeout)
    }

    /// Waits until at least `count` PRIVMSGs from `nick` have arrived (since the script started, to
    /// this client or to a channel; only to `target` when given) and returns all of them, in order.
    /// - Throws: ``IRCHarnessError`` listing what arrived when fewer than `count` did in time.
    public func waitForMessages(from nick: String, to target: String? = nil, count: Int = 1, timeout: Duration = .seconds(10)) async throws -> [IRCTestLine] {
        var command: [String: Any] = ["cmd": "wait_privmsg", "from": nick, "count": count, "timeout": Self.seconds(timeout)]
        if let target { command["target"] = target }
        let reply = try await self.call(command, timeout: timeout)
        guard let messages = reply["messages"] as? [[String: Any]] else {
            throw IRCHarnessError("irc_teacher \(self.name) wait_privmsg answered without messages")
        }
        return try messages.map(Self.line(from:))
    }

    /// Every line with one of `commands` received so far, in order: by default every PRIVMSG and
    /// NOTICE (server notices included); `["ERROR"]` shows why the server closed a connection.
    public func received(commands: [String] = ["PRIVMSG", "NOTICE"]) async throws -> [IRCTestLine] {
        let reply = try await self.call(["cmd": "received", "commands": commands], timeout: .seconds(10))
        guard let lines = reply["lines"] as? [[String: Any]] else {
            throw IRCHarnessError("irc_teacher \(self.name) received answered without lines")
        }
        return try lines.map(Self.line(from:))
    }

    /// Whether the client's connection is open (false once the server closed it).
    public func isConnected() async throws -> Bool {
        let reply = try await self.call(["cmd": "received", "commands": [String]()], timeout: .seconds(10))
        return reply["connected"] as? Bool ?? false
    }

    /// Sends QUIT (with `message`) and waits (at most 3 s) for the server to close the
    /// connection. The script keeps running: ``connect(host:port:nick:user:saslAccount:saslPassword:caps:timeout:)`` again.
    public func quit(_ message: String? = nil) async throws {
        var command: [String: Any] = ["cmd": "quit", "timeout": 3]
        if let message { command["message"] = message }
        _ = try await self.call(command, timeout: .seconds(5))
    }

    /// Ends the script (its connection closed without QUIT) and waits for it (at most 10 s, then
    /// kills it). Removes the log when it was a temporary file.
    public func stop() async {
        if self.process.isRunning {
            _ = try? await self.call(["cmd": "exit"], timeout: .zero, grace: .seconds(5))
        }
        try? self.input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while self.process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
        if self.removesLogFile {
            try? FileManager.default.removeItem(at: self.logFile)
        }
    }

    // MARK: - The protocol

    /// Sends one command and returns its reply (`ok` true), one command at a time.
    /// - Throws: ``IRCHarnessError`` when the reply is `ok` false, the script exits, or no reply
    ///   came within `timeout` + `grace`.
    private func call(_ command: [String: Any], timeout: Duration, grace: Duration = .seconds(10)) async throws -> [String: Any] {
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
        let client = self.name
        let timer = Task {
            try await Task.sleep(for: limit)
            channel.fail(id, IRCHarnessError("irc_teacher \(client) \(name): no reply within \(limit)\n\(channel.logTail())"))
        }
        defer { timer.cancel() }
        let text = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
                guard channel.wait(id, continuation) else { return }
                if let error = Self.write(line, to: self.input.fileHandleForWriting.fileDescriptor) {
                    channel.fail(id, IRCHarnessError("irc_teacher \(client) \(name): writing the command failed: \(error)\n\(channel.logTail())"))
                }
            }
        } onCancel: {
            channel.fail(id, CancellationError())
        }
        guard let reply = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw IRCHarnessError("irc_teacher \(client) \(name): unreadable reply \(text)")
        }
        guard reply["ok"] as? Bool == true else {
            throw IRCHarnessError("irc_teacher \(client) \(name) failed: \(reply["error"] as? String ?? text)")
        }
        return reply
    }

    /// Writes all of `data` to `descriptor`; the errno text on failure. A command is a few
    /// hundred bytes (or one raw flood) and the script reads its input continuously.
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

    /// A line as the script reports it.
    private static func line(from object: [String: Any]) throws -> IRCTestLine {
        IRCTestLine(
            tags: object["tags"] as? [String: String] ?? [:],
            source: object["source"] as? String,
            command: try Self.string("command", in: object),
            target: object["target"] as? String ?? "",
            text: object["text"] as? String ?? "",
            receivedAt: Date(timeIntervalSince1970: (object["received_at"] as? NSNumber)?.doubleValue ?? 0)
        )
    }

    private static func string(_ key: String, in reply: [String: Any]) throws -> String {
        guard let value = reply[key] as? String else {
            throw IRCHarnessError("irc_teacher answered without \(key)")
        }
        return value
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The reply side of the protocol: the reader thread hands each line to the command waiting for
/// its id; and a FIFO lock so that commands run one at a time.
private final class IRCScriptChannel: Sendable {
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
            continuation.resume(throwing: IRCHarnessError("irc_teacher has exited\n\(self.logTail())"))
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
        waiting?.resume(throwing: IRCHarnessError("irc_teacher exited\n\(self.logTail())"))
    }

    /// The last 30 lines of the script's log.
    func logTail() -> String {
        let text = (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(31)
        return "--- \(self.logFile.path) (last 30 lines)\n" + lines.joined(separator: "\n")
    }
}
