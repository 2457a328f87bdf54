import Foundation
import Logging
import ServiceLifecycle
import SpiegelChat
import Synchronization

/// IRC for Spiegel: keeps the connection (``IRCClient``) up and hands the gateway what teachers
/// write. A private message to the bot is coaching; a message in a team channel goes to the
/// gateway as a team room's (lesson-study round commands; nothing there is coached); anything
/// else (other channels, notices, CTCP) is ignored.
///
/// Who a teacher is: their services account (from `account-tag`) or their nick, per
/// `irc.identity`, as `irc:account:<name>` or `irc:nick:<name>` so that a nick can never pass for
/// an account. In account mode a private message from someone not logged in is answered with
/// `irc_login_required` and not kept.
///
/// Messages are handed over one at a time, in the order the server sent them, so each teacher's
/// messages reach their conversation in order. IRC has no acknowledgement: what the server sent
/// while the bot was connected is read and journalled before the next line is read.
final class IRCService: Service {
    private let client: IRCClient
    private let gateway: ChatGateway
    private let identity: SpiegelConfiguration.IRC.Identity
    private let teamChannels: Set<String>
    private let loginRequired: String
    private let logger: Logger
    /// Distinguishes this process's generated message ids from a later one's.
    private let boot = UUID().uuidString.prefix(8).lowercased()
    private let counter = Counter()
    private let warnedOfNicks = Mutex(false)

    init(
        client: IRCClient, gateway: ChatGateway, identity: SpiegelConfiguration.IRC.Identity, teamChannels: [String],
        loginRequired: String, logger: Logger
    ) {
        self.client = client
        self.gateway = gateway
        self.identity = identity
        self.teamChannels = Set(teamChannels.map { $0.lowercased() })
        self.loginRequired = loginRequired
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await self.client.run { message, session in await self.receive(message, session: session) }
        } onGracefulShutdown: {
            Task { await self.client.stop() }
        }
    }

    /// One message from the server.
    func receive(_ message: IRCMessage, session: IRCClient.Session) async {
        guard message.command == "PRIVMSG", message.parameters.count >= 2, let nick = message.nick, !nick.contains(".") else { return }
        let target = message.parameters[0]
        let text = message.parameters[1]
        // CTCP (VERSION, ACTION…) is not a message to the coach.
        guard !text.hasPrefix("\u{1}") else { return }
        let isPrivate = target.lowercased() == session.nick.lowercased()
        guard isPrivate || self.teamChannels.contains(target.lowercased()) else { return }
        let user: String
        if self.usesAccounts(session) {
            guard let account = message.account else {
                if isPrivate { await self.tell(nick, self.loginRequired) }
                return
            }
            user = "irc:account:" + account
        } else {
            user = "irc:nick:" + nick
        }
        let id = message.tags["msgid"] ?? "irc-\(self.boot)-\(self.counter.next())"
        // Channel names in lower case, as the room policy has them (IRC ignores their case).
        let chat = ChatMessage(id: id, user: user, room: isPrivate ? nick : target.lowercased(), text: text)
        do {
            _ = try await self.gateway.receive(chat, from: IRCTransport.name)
        } catch is RateLimited {
            // The teacher was told to send it again; IRC cannot be asked to.
        } catch {
            self.logger.error("spiegel.irc.message_not_kept", metadata: ["spiegel.reason": "\(String(describing: type(of: error)))"])
        }
    }

    private func usesAccounts(_ session: IRCClient.Session) -> Bool {
        switch self.identity {
        case .account: return true
        case .nick: return false
        case .auto:
            let accounts = session.capabilities.contains("account-tag")
            if !accounts, self.warnedOfNicks.withLock({ warned in defer { warned = true }; return !warned }) {
                self.logger.warning("spiegel.irc.nick_identity", metadata: ["spiegel.hint": "the server offers no account-tag: teachers are known by nick"])
            }
            return accounts
        }
    }

    private func tell(_ nick: String, _ text: String) async {
        do {
            try await self.gateway.say(text, in: nick, via: IRCTransport.name, key: "irc-login-\(self.boot)-\(self.counter.next())", isPrivate: false)
        } catch {
            self.logger.warning("spiegel.irc.notice_failed")
        }
    }

    /// Numbers for generated ids, in order.
    private final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int { self.value.withLock { $0 += 1; return $0 } }
    }
}
