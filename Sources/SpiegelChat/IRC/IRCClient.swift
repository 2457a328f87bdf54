import Foundation
public import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import SpiegelAsync
import Synchronization

/// How Spiegel connects to an IRC server.
public struct IRCClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// TLS (the default); plain only for loopback tests and servers on the same machine.
    public var useTLS: Bool
    /// CA certificates (PEM) to trust instead of the system's, for a school's own CA.
    public var caBundle: String?
    /// The server's password (`PASS`), when it has one.
    public var serverPassword: String?
    /// The nick Spiegel asks for; when it is taken, `nick_`, `nick__`, then `nick1`…`nick9`.
    public var nick: String
    public var username: String
    public var realName: String
    /// SASL PLAIN: the bot's account and password. Without SASL (or when the server does not offer
    /// it) the bot goes on under its nick.
    public var saslAccount: String?
    public var saslPassword: String?
    /// Channels to join at every connect (the team channels).
    public var channels: [String]
    /// Lines sent at once before the flood control spaces them out.
    public var floodBurst: Int
    /// One line per this interval after the burst.
    public var floodInterval: Duration

    public init(
        host: String, port: Int, useTLS: Bool = true, caBundle: String? = nil, serverPassword: String? = nil, nick: String, username: String? = nil,
        realName: String = "Spiegel", saslAccount: String? = nil, saslPassword: String? = nil, channels: [String] = [],
        floodBurst: Int = 4, floodInterval: Duration = .milliseconds(2000)
    ) {
        self.host = host
        self.port = port
        self.useTLS = useTLS
        self.caBundle = caBundle
        self.serverPassword = serverPassword
        self.nick = nick
        self.username = username ?? nick
        self.realName = realName
        self.saslAccount = saslAccount
        self.saslPassword = saslPassword
        self.channels = channels
        self.floodBurst = floodBurst
        self.floodInterval = floodInterval
    }

    /// The nicks to try, in order.
    var nicks: [String] {
        [self.nick, self.nick + "_", self.nick + "__"] + (1...9).map { self.nick + String($0) }
    }
}

/// The IRCv3 capabilities Spiegel asks for when the server offers them.
let wantedCapabilities: Set<String> = [
    "cap-notify", "server-time", "message-tags", "echo-message", "labeled-response", "account-tag", "msgid", "sasl",
]

/// Not connected (or the connection ended before a line went out): the outbox tries again later.
public struct IRCNotConnected: Error, Sendable, CustomStringConvertible {
    public var description: String { "not connected to the IRC server" }
}

/// One IRC connection at a time, kept up: registration (CAP 302, SASL PLAIN, nick fallback),
/// PING/PONG and a silence check, and a reconnect with backoff and full jitter whenever it
/// drops. Lines go out through a token bucket (``IRCFloodControl``) so the server never
/// penalises or drops the bot.
public actor IRCClient {
    /// What the transport needs to know of the connection.
    public struct Session: Sendable {
        /// The nick the server gave.
        public var nick: String
        /// Capabilities in effect.
        public var capabilities: Set<String>
        /// The bytes the server puts before a relayed message (`:nick!user@host `), for the
        /// 512-byte limit; the longest host a server shows is assumed.
        public var prefixBytes: Int
    }

    private let configuration: IRCClientConfiguration
    private let logger: Logger
    private var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>?
    /// The session in effect: in a `Mutex`, so a waiter can check it without the actor.
    private let published = Mutex<Session?>(nil)
    private var session: Session? { self.published.withLock { $0 } }
    private var flood: IRCFloodControl
    /// Set by ``stop()``; in a `Mutex`, so a backoff wait can see it without the actor.
    private let stopping = Mutex(false)
    private var isStopping: Bool { self.stopping.withLock { $0 } }
    private var channel: (any Channel)?
    /// Signalled when a session starts or the client stops.
    private let sessionChange = AsyncCondition()

    // Registration of the current connection.
    private var offered: [String: String] = [:]
    private var enabled: Set<String> = []
    private var nickIndex = 0
    private var lastReceived = ContinuousClock.now

    public init(configuration: IRCClientConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.flood = IRCFloodControl(burst: configuration.floodBurst, interval: configuration.floodInterval)
    }

    /// The session in effect, `nil` while connecting.
    public var current: Session? { self.session }

    /// How many times a connection registered since start (1 after the first connect).
    public private(set) var registrations = 0

    /// Waits (up to `timeout`) for a registered connection; `nil` when none came, or the client
    /// stopped.
    public nonisolated func waitForSession(timeout: Duration) async throws -> Session? {
        try await self.sessionChange.wait(for: { self.published.withLock { $0 } }, timeout: timeout)
    }

    /// Connects, and connects again after each drop, until ``stop()``; hands every message the
    /// server sends (PRIVMSG and NOTICE included) to `onMessage`, one at a time, in order.
    public func run(onMessage: @escaping @Sendable (IRCMessage, Session) async -> Void) async {
        var attempt = 0
        while !self.isStopping && !Task.isCancelled {
            let wasRegistered: Bool
            do {
                wasRegistered = try await self.connectOnce(onMessage: onMessage)
            } catch {
                wasRegistered = false
                self.logger.warning("spiegel.irc.connection_failed", metadata: ["spiegel.reason": "\(Self.reason(error))"])
            }
            self.detach()
            guard !self.isStopping && !Task.isCancelled else { break }
            attempt = wasRegistered ? 1 : attempt + 1
            let delay = Self.backoff(attempt: attempt)
            self.logger.info("spiegel.irc.reconnecting", metadata: ["spiegel.after_ms": "\(delay / .milliseconds(1))"])
            await self.pause(delay)
        }
        self.detach()
    }

    /// Waits `delay`, cut short by ``stop()``.
    private nonisolated func pause(_ delay: Duration) async {
        _ = try? await self.sessionChange.wait(for: { self.stopping.withLock { $0 } ? true : nil }, timeout: delay)
    }

    /// Says goodbye and ends ``run(onMessage:)``.
    public func stop() async {
        self.stopping.withLock { $0 = true }
        if let writer = self.writer {
            try? await writer.write(Self.buffer(try IRCMessage.quit("Spiegel stopt / is stopping").serialized()))
        }
        try? await self.channel?.close()
        self.sessionChange.signal()
    }

    /// Sends `messages` in order, each after the flood control lets it.
    /// - Throws: ``IRCNotConnected`` when there is no session (or it ended meanwhile).
    public func send(_ messages: [IRCMessage]) async throws {
        for message in messages {
            let line = try message.serialized()
            let wait = self.flood.reserve(now: .now)
            if wait > .zero { try await Task.sleep(for: wait) }
            guard let writer = self.writer, self.session != nil else { throw IRCNotConnected() }
            try await writer.write(Self.buffer(line))
        }
    }

    // MARK: - One connection

    /// Returns whether the connection got as far as registering.
    private func connectOnce(onMessage: @escaping @Sendable (IRCMessage, Session) async -> Void) async throws -> Bool {
        let configuration = self.configuration
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let bundle = configuration.caBundle { tlsConfiguration.trustRoots = .file(bundle) }
        let tls = try configuration.useTLS ? NIOSSLContext(configuration: tlsConfiguration) : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(15))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .connect(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // An IP address is no name to send (SNI): the certificate is checked against it instead.
                        let isAddress = (try? SocketAddress(ipAddress: configuration.host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : configuration.host))
                    }
                    // Tags may take 8 KiB of a line; a server sending more is cut off.
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: 16_384))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        self.offered = [:]
        self.enabled = []
        self.nickIndex = 0
        self.lastReceived = .now
        return try await channel.executeThenClose { inbound, outbound in
            self.writer = outbound
            self.channel = channel.channel
            try await self.writeNow(.cap("LS", "302"))
            if let password = configuration.serverPassword { try await self.writeNow(IRCMessage(command: "PASS", parameters: [password])) }
            try await self.writeNow(.nick(configuration.nicks[0]))
            try await self.writeNow(.user(configuration.username, realName: configuration.realName))
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.watchSilence() }
                defer { group.cancelAll() }
                for try await buffer in inbound {
                    self.lastReceived = .now
                    guard let message = IRCMessage(parsing: String(decoding: buffer.readableBytesView, as: UTF8.self)) else { continue }
                    if let delivered = try await self.handle(message), let session = self.session {
                        await onMessage(delivered, session)
                    }
                }
                return self.session != nil
            }
        }
    }

    /// Sends a PING after a minute of silence and gives up on the connection after three.
    private func watchSilence() async throws {
        while true {
            try await Task.sleep(for: .seconds(30))
            let silence = ContinuousClock.now - self.lastReceived
            if silence > .seconds(180) {
                self.logger.warning("spiegel.irc.silent", metadata: ["spiegel.seconds": "\(silence / .seconds(1))"])
                try? await self.channel?.close()
                return
            }
            if silence > .seconds(60) { try? await self.writeNow(IRCMessage(command: "PING", parameters: ["spiegel"])) }
        }
    }

    /// Registration and keep-alive; returns the message when it is for the caller.
    private func handle(_ message: IRCMessage) async throws -> IRCMessage? {
        switch message.command {
        case "PING":
            try await self.writeNow(.pong(message.parameters.last ?? ""))
        case "CAP":
            try await self.handleCapability(message)
        case "AUTHENTICATE":
            if message.parameters.first == "+", let account = self.configuration.saslAccount, let password = self.configuration.saslPassword {
                let credentials = Data((account + "\u{0}" + account + "\u{0}" + password).utf8).base64EncodedString()
                // In pieces of 400; a last piece of exactly 400 is followed by "+".
                var rest = Substring(credentials)
                repeat {
                    let piece = rest.prefix(400)
                    rest = rest.dropFirst(400)
                    try await self.writeNow(.authenticate(String(piece)))
                    if piece.count == 400 && rest.isEmpty { try await self.writeNow(.authenticate("+")) }
                } while !rest.isEmpty
            }
        case "900":
            self.logger.info("spiegel.irc.logged_in")
        case "903":
            try await self.writeNow(.cap("END"))
        case "902", "904", "905", "906", "908":
            // Not logged in: the bot goes on under its nick (a server whose services are down
            // offers SASL and refuses it).
            self.logger.warning("spiegel.irc.sasl_failed", metadata: ["spiegel.numeric": "\(message.command)"])
            if message.command != "908" { try await self.writeNow(.cap("END")) }
        case "433", "432", "436":
            guard self.session == nil else { break }
            self.nickIndex += 1
            guard self.nickIndex < self.configuration.nicks.count else { throw IRCRegistrationError.noNickFree }
            try await self.writeNow(.nick(self.configuration.nicks[self.nickIndex]))
        case "001":
            let nick = message.parameters.first ?? self.configuration.nicks[self.nickIndex]
            // `:nick!user@host ` with the longest host a server shows (63).
            let prefixBytes = 1 + nick.utf8.count + 1 + min(self.configuration.username.utf8.count + 1, 11) + 1 + 63 + 1
            self.published.withLock { $0 = Session(nick: nick, capabilities: self.enabled, prefixBytes: prefixBytes) }
            self.registrations += 1
            self.logger.notice("spiegel.irc.connected", metadata: ["spiegel.capabilities": "\(self.enabled.sorted().joined(separator: ","))"])
            for channel in self.configuration.channels { try await self.writeNow(.join(channel)) }
            self.sessionChange.signal()
        case "NICK":
            if let session = self.session, message.nick == session.nick, let new = message.parameters.first {
                self.published.withLock { $0?.nick = new }
            }
        case "ERROR":
            self.logger.warning("spiegel.irc.server_closed")
        case "PRIVMSG", "NOTICE":
            guard let session = self.session else { return nil }
            // The bot's own lines come back with echo-message.
            if message.nick?.lowercased() == session.nick.lowercased() { return nil }
            return message
        case "JOIN", "PART", "KICK", "INVITE":
            return self.session == nil ? nil : message
        default:
            break
        }
        return nil
    }

    private func handleCapability(_ message: IRCMessage) async throws {
        // CAP <nick> <subcommand> [*] :<capabilities>
        guard message.parameters.count >= 3 else { return }
        let subcommand = message.parameters[1].uppercased()
        let more = message.parameters.count >= 4 && message.parameters[2] == "*"
        let list = (message.parameters.last ?? "").split(separator: " ").map(String.init)
        switch subcommand {
        case "LS", "NEW":
            for item in list {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                self.offered[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            guard !more else { return }
            var wanted = wantedCapabilities.intersection(self.offered.keys).subtracting(self.enabled)
            if self.configuration.saslAccount == nil || !(self.offered["sasl"].map { $0.isEmpty || $0.split(separator: ",").contains("PLAIN") } ?? false) {
                wanted.remove("sasl")
            }
            if wanted.isEmpty {
                if subcommand == "LS" { try await self.writeNow(.cap("END")) }
            } else {
                try await self.writeNow(.cap("REQ", wanted.sorted().joined(separator: " ")))
            }
        case "ACK":
            self.enabled.formUnion(list.map { $0.hasPrefix("-") ? String($0.dropFirst()) : $0 })
            if self.session == nil {
                if list.contains("sasl") {
                    try await self.writeNow(.authenticate("PLAIN"))
                } else {
                    try await self.writeNow(.cap("END"))
                }
            }
            let enabled = self.enabled
            self.published.withLock { $0?.capabilities = enabled }
        case "NAK":
            if self.session == nil { try await self.writeNow(.cap("END")) }
        case "DEL":
            self.enabled.subtract(list)
            for item in list { self.offered[item] = nil }
            let enabled = self.enabled
            self.published.withLock { $0?.capabilities = enabled }
        default:
            break
        }
    }

    /// A line outside the flood control (registration, PONG: the server expects them at once).
    private func writeNow(_ message: IRCMessage) async throws {
        guard let writer = self.writer else { throw IRCNotConnected() }
        try await writer.write(Self.buffer(try message.serialized()))
    }

    private func detach() {
        self.writer = nil
        self.channel = nil
        if self.session != nil { self.logger.notice("spiegel.irc.disconnected") }
        self.published.withLock { $0 = nil }
        self.sessionChange.signal()
    }

    private static func buffer(_ line: String) -> ByteBuffer {
        ByteBuffer(string: line + "\r\n")
    }

    /// Up to 1 s, 2 s, 4 s… 5 minutes at most, at random below that (full jitter), so a
    /// restarted server is not hit by every bot at the same moment.
    static func backoff(attempt: Int) -> Duration {
        let ceiling = min(300_000, 1_000 << min(max(attempt - 1, 0), 9))
        return .milliseconds(Int.random(in: 250...max(250, ceiling)))
    }

    /// Why a connection failed, without anything a user wrote.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as IRCRegistrationError: error.description
        case is IRCNotConnected: "not connected"
        default: String(describing: type(of: error)) + ": " + String(describing: error).prefix(120)
        }
    }
}

/// Registration could not finish.
public enum IRCRegistrationError: Error, Sendable, CustomStringConvertible {
    case noNickFree

    public var description: String {
        switch self {
        case .noNickFree: "every nick Spiegel tried is taken"
        }
    }
}
