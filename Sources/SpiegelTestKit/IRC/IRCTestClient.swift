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
    private let script: ScriptProcess

    private init(name: String, logFile: URL, removesLogFile: Bool, script: ScriptProcess) {
        self.name = name
        self.logFile = logFile
        self.removesLogFile = removesLogFile
        self.script = script
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
        let script = try ScriptProcess(
            name: "irc_teacher \(name)", executable: python, arguments: [script.path, "--name", name], logFile: log,
            makeError: { IRCHarnessError($0) }
        )
        let client = IRCTestClient(name: name, logFile: log, removesLogFile: logFile == nil, script: script)
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
        await self.script.stop(with: "exit")
        if self.removesLogFile {
            try? FileManager.default.removeItem(at: self.logFile)
        }
    }

    // MARK: - The protocol

    /// Sends one command and returns its reply (`ok` true), one command at a time.
    /// - Throws: ``IRCHarnessError`` when the reply is `ok` false, the script exits, or no reply
    ///   came within `timeout` + `grace`.
    private func call(_ command: [String: Any], timeout: Duration, grace: Duration = .seconds(10)) async throws -> [String: Any] {
        try await self.script.call(command, timeout: timeout, grace: grace)
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
