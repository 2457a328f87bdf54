import Hummingbird
import SpiegelAsync
public import Logging
import NIOCore
public import Prometheus
public import ServiceLifecycle
import UnixSignals
public import SpiegelChat
public import Foundation
import SpiegelCoach
import SpiegelDialogue
import SpiegelOlm
import SpiegelVault

/// The long-running Spiegel process: the HTTP server and the services behind it, in one
/// `ServiceGroup` that drains on SIGTERM and SIGINT.
public struct SpiegelServer: Sendable {
    /// The configuration in effect.
    public let configuration: SpiegelConfiguration
    /// Where `/metrics` reads from; bootstrap `MetricsSystem` with a factory on the same registry.
    public let registry: PrometheusCollectorRegistry
    private let logger: Logger
    /// The clock of every service: conversations and their pauses, reminders, dates said in chat,
    /// signatures, retention (injectable for tests).
    private let now: @Sendable () -> Date
    /// Reads the configuration again, for SIGHUP; `nil` turns reloading off.
    private let reloadConfiguration: (@Sendable () throws -> SpiegelConfiguration)?

    /// Creates the server; nothing runs until ``run(onListening:)``.
    /// - Parameter reloadConfiguration: reads the configuration again on SIGHUP (the Prompts,
    ///   the teams file and the `coach.*` settings are taken; an invalid one is refused).
    public init(
        configuration: SpiegelConfiguration, registry: PrometheusCollectorRegistry, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init, reloadConfiguration: (@Sendable () throws -> SpiegelConfiguration)? = nil
    ) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.now = now
        self.reloadConfiguration = reloadConfiguration
    }

    /// Prepares the data directory, then serves until SIGTERM or SIGINT, and returns once every
    /// request in flight is answered and every service is stopped.
    /// - Parameter onListening: called with where the server listens once it accepts
    ///   connections (the port differs from the configured one when that was 0).
    public func run(onListening: @escaping @Sendable (Listening) async -> Void = { _ in }) async throws {
        OpenFileLimit.raiseToHardLimit(logger: self.logger)
        OpenFileLimit.armTimers()
        let services = try self.makeServices(onListening: onListening)
        // A failed vault drains the rest (requests in flight are answered) before the process
        // exits with its own status.
        let configurations = services.all.map { service in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: service, failureTerminationBehavior: service is VaultService ? .gracefullyShutdownGroup : .cancelGroup
            )
        }
        let group = ServiceGroup(
            configuration: .init(services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: self.logger)
        )
        try await group.run()
    }

    /// What ``makeServices(onListening:)`` builds.
    public struct Services: Sendable {
        /// In start order (they stop in reverse: the HTTP server first, so nothing new arrives
        /// while the rest drains, the vault last).
        public var all: [any Service]
        /// The HTTP client the outboxes and Matrix share.
        public let httpClient: CurlHTTPClient
    }

    /// Builds every service: the vault, retention, the HTTP client, then per connected chat its
    /// outbox and routes behind the one ``ChatGateway``, the reminders, and the HTTP server last.
    public func makeServices(onListening: @escaping @Sendable (Listening) async -> Void) throws -> Services {
        let dataDirectory = DataDirectory(path: self.configuration.dataDirectory)
        let state = try dataDirectory.prepare()
        if state.isOpenToOthers {
            self.logger.warning(
                "spiegel.data_dir.open_to_others",
                metadata: ["spiegel.hint": "chmod 700 the data directory: group and others can enter it"]
            )
        }
        if let violation = self.configuration.ruleViolations.first {
            throw SpiegelServerError(message: violation)
        }
        let vault = try VaultKeys.openVault(self.configuration, create: true, logger: self.logger)
        let httpClient = CurlHTTPClient(configuration: self.configuration.httpClient, logger: self.logger)
        var services: [any Service] = [VaultService(vault: vault)]
        if let retention = self.configuration.vaultRetention {
            services.append(RetentionService(vault: vault, retention: retention, now: self.now, logger: self.logger))
        }
        services.append(httpClient)
        let serverRunning = AsyncEvent()
        var routes: [(Router<BasicRequestContext>) -> Void] = []
        var chats = try Chats(configuration: self.configuration, vault: vault, client: httpClient, logger: self.logger, now: self.now)
        var library: DialogueLibrary?
        do {
            library = chats.isEmpty ? nil : try self.loadLibrary()
        } catch let error as SpiegelServerError where chats.hasOnlyTryout {
            // The built-in defaults away from a checkout (no ./Prompts): serve the rest.
            self.logger.error("spiegel.tryout.not_offered", metadata: ["spiegel.reason": "\(error.message)"])
            chats.tryout = nil
        }
        if let library {
            let coaching = CoachingService(library: library, vault: vault, configuration: self.configuration.coach, logger: self.logger, now: self.now)
            let rooms = RoomPolicy(configured: chats.teamRooms, teams: chats.teams)
            let outboxes = chats.transports.map { transport in
                Outbox(vault: vault, client: httpClient, transport: transport, isTeamRoom: { rooms.isTeamRoom($0, in: transport.name) }, logger: self.logger)
            }
            services += outboxes
            let language = self.configuration.coach.defaultLanguage
            let teamBook = TeamBook(vault: vault)
            let teamsInEffect = TeamsInEffect(chats.teams)
            let desk = chats.teams.isEmpty ? nil : TeamDesk(teams: teamsInEffect, book: teamBook, library: library, language: language, now: self.now)
            let gateway = ChatGateway(coaching: coaching, rooms: rooms, teamDesk: desk, outboxes: outboxes, logger: self.logger)
            if let reloadConfiguration = self.reloadConfiguration {
                services.append(ReloadService(
                    reloadConfiguration: reloadConfiguration, coaching: coaching, teams: teamsInEffect, tryout: chats.tryout?.mailboxes, logger: self.logger
                ))
            }
            if !chats.teams.isEmpty {
                services.append(TeamReminderService(
                    teams: teamsInEffect, book: teamBook, gateway: gateway, library: library, language: language,
                    grace: self.configuration.teams.grace, tick: self.configuration.teams.tick, now: self.now, logger: self.logger
                ))
            }
            if let plain = chats.plain {
                routes.append(PlainWebhookRoutes(signature: plain.signature, gateway: gateway, logger: self.logger, now: self.now).add(to:))
            }
            if let mattermost = chats.mattermost, let token = self.configuration.mattermost.token {
                routes.append(MattermostRoutes(token: token, gateway: gateway, botName: mattermost.botName, logger: self.logger).add(to:))
            }
            if let matrix = chats.matrix {
                let bot = MatrixBot(
                    gateway: gateway, api: matrix.transport.api, client: httpClient, state: MatrixState(vault: vault),
                    encryption: matrix.transport.encryption, requiresEncryption: self.configuration.matrix.encryption == .require,
                    texts: MatrixBot.Texts(library: library, language: language),
                    userID: matrix.settings.registration == nil ? nil : self.configuration.matrix.userID,
                    ignoredUsers: Set(self.configuration.matrix.ignoredUsers), typingAfter: self.configuration.matrix.typingAfter, logger: self.logger
                )
                if let encryption = matrix.transport.encryption {
                    services.append(MatrixKeyWait(bot: bot, encryption: encryption, logger: self.logger))
                }
                if let registration = matrix.settings.registration {
                    services.append(MatrixAppservice(bot: bot, client: httpClient, registration: registration, serverRunning: serverRunning, logger: self.logger))
                    routes.append(AppserviceRoutes(hsToken: registration.hsToken, bot: bot, logger: self.logger).add(to:))
                } else {
                    services.append(MatrixSyncService(bot: bot, client: httpClient, configuredUserID: self.configuration.matrix.userID, logger: self.logger))
                }
            }
            if let tryout = chats.tryout {
                if let problem = ReloadService.lintProblem(library) { tryout.mailboxes.reloaded(problem: problem) }
                routes.append(TryoutRoutes(gateway: gateway, mailboxes: tryout.mailboxes, logger: self.logger).add(to:))
            }
            if let irc = chats.irc {
                services.append(IRCService(
                    client: irc.client, gateway: gateway, identity: self.configuration.irc.identity, teamChannels: chats.teamRooms[IRCTransport.name] ?? [],
                    loginRequired: library.serviceMessage(
                        "irc_login_required", in: language, fallback: "Meld je eerst aan bij je account op deze server en stuur je bericht dan opnieuw."
                    ),
                    logger: self.logger
                ))
            }
            if self.configuration.coach.reminderAfter != nil {
                services.append(ReminderService(coaching: coaching, gateway: gateway, logger: self.logger))
            }
        }
        let offersTryout = chats.tryout != nil
        let application = self.makeApplication(dataDirectory: dataDirectory, vault: vault, routes: routes) { host, port in
            serverRunning.set()
            await onListening(Listening(host: host, port: port, offersTryout: offersTryout))
        }
        return Services(all: services + [application], httpClient: httpClient)
    }

    /// The chats the configuration connects, each transport made once.
    private struct Chats {
        var plain: PlainTransport?
        var mattermost: MattermostTransport?
        var matrix: (transport: MatrixTransport, settings: MatrixSettings)?
        var irc: IRCTransport?
        var tryout: TryoutTransport?
        /// The team rooms configured per transport (the teams file adds its own).
        var teamRooms: [String: [String]] = [:]
        var teams: [TeamsFile.Team] = []

        init(configuration: SpiegelConfiguration, vault: Vault, client: any HTTPClient, logger: Logger, now: @escaping @Sendable () -> Date) throws {
            if let secret = configuration.plain.secret, let url = configuration.plain.outboundURL {
                self.plain = PlainTransport(url: url, signature: PlainSignature(secret: Array(secret.utf8)), now: now)
                self.teamRooms[PlainTransport.name] = configuration.plain.teamRooms
            }
            if configuration.mattermost.token != nil, let url = configuration.mattermost.incomingWebhookURL {
                let mattermost = configuration.mattermost
                self.mattermost = MattermostTransport(url: url, roomURLs: mattermost.roomWebhookURLs, botName: mattermost.username)
                self.teamRooms[MattermostTransport.name] = mattermost.teamChannels
            }
            if let settings = try MatrixSettings(configuration.matrix) {
                let api = MatrixClientAPI(homeserverURL: settings.homeserverURL, accessToken: settings.accessToken)
                var encryption: MatrixEncryption?
                if configuration.matrix.encryption != .off {
                    let made = MatrixEncryption(backend: LibOlm(), vault: vault, api: api, client: client, logger: logger, now: now)
                    // A coachee's erasure takes their sessions from the vault; this drops them from memory.
                    vault.onErasure { pseudonym in await made.forget(pseudonym) }
                    encryption = made
                }
                self.matrix = (MatrixTransport(api: api, encryption: encryption), settings)
                self.teamRooms[MatrixTransport.name] = configuration.matrix.teamRooms
            }
            if configuration.offersTryout {
                self.tryout = TryoutTransport(mailboxes: TryoutMailboxes(vault: vault))
            } else if configuration.tryout.enabled {
                logger.warning(
                    "spiegel.tryout.not_offered",
                    metadata: ["spiegel.hint": "the try-out chat is offered on a loopback server.host only; set tryout.allow_remote: true to offer it to anyone who reaches the port"]
                )
            }
            self.teams = try configuration.teams.file.map { try TeamsFile.load(path: $0).teams } ?? []
            if let server = configuration.irc.server {
                let irc = configuration.irc
                // The team channels, and the IRC rooms of the teams file: reminders go there.
                var channels = irc.teamChannels.map { $0.lowercased() }
                for team in self.teams where team.transport == IRCTransport.name && !channels.contains(team.room.lowercased()) {
                    channels.append(team.room.lowercased())
                }
                let client = IRCClient(
                    configuration: IRCClientConfiguration(
                        host: server, port: irc.port, useTLS: irc.tls, caBundle: configuration.httpClient.caBundlePath,
                        serverPassword: irc.serverPassword, nick: irc.nick,
                        saslAccount: irc.saslAccount, saslPassword: irc.saslPassword, channels: channels
                    ),
                    logger: logger
                )
                if !irc.tls && !SpiegelConfiguration.isLoopback(server) {
                    logger.warning("spiegel.irc.no_tls", metadata: ["spiegel.hint": "irc.tls is false for a server elsewhere: teachers' words cross the network in the clear"])
                }
                self.irc = IRCTransport(client: client)
                // IRC compares channel names without case: the service passes them in lower case.
                self.teamRooms[IRCTransport.name] = channels
            }
        }

        var isEmpty: Bool { self.transports.isEmpty }

        /// Whether the try-out chat is the one chat: the built-in defaults.
        var hasOnlyTryout: Bool { self.tryout != nil && self.transports.count == 1 }

        var transports: [any ChatTransport] {
            let all: [(any ChatTransport)?] = [self.plain, self.mattermost, self.matrix?.transport, self.irc, self.tryout]
            return all.compactMap { $0 }
        }
    }

    /// The dialogue graphs in `prompts_dir`.
    private func loadLibrary() throws -> DialogueLibrary {
        do {
            return try DialogueLoader.loadLibrary(directory: self.configuration.promptsDirectory)
        } catch {
            throw SpiegelServerError(message: "the dialogue graphs do not load: " + error.errors.map { "\($0.location): \($0.message)" }.joined(separator: "; "))
        }
    }

    private func makeApplication(
        dataDirectory: DataDirectory,
        vault: Vault,
        routes: [(Router<BasicRequestContext>) -> Void],
        onListening: @escaping @Sendable (String, Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: RouteMetricsMiddleware())
        OperationsRoutes(dataDirectory: dataDirectory, vault: vault, registry: self.registry).add(to: router)
        for add in routes { add(router) }
        let logger = self.logger
        let host = self.configuration.server.host
        let connections = ConnectionGuard.Count(limit: self.configuration.server.maxConnections)
        let idleTimeout = TimeAmount.nanoseconds(Int64(self.configuration.server.idleTimeout / .nanoseconds(1)))
        return Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard(count: connections)], idleTimeout: idleTimeout)),
            configuration: .init(address: .hostname(host, port: self.configuration.server.port), serverName: "Spiegel"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("spiegel.server.listening", metadata: ["spiegel.host": "\(host)", "spiegel.port": "\(port)"])
                await onListening(host, port)
            },
            logger: logger
        )
    }
}

/// Where a started server listens, and what it offers there.
public struct Listening: Sendable {
    /// The host bound, as configured.
    public let host: String
    /// The port bound (the kernel's pick when 0 was configured).
    public let port: Int
    /// Whether the try-out chat is at `/`.
    public let offersTryout: Bool

    /// The server's address, `http://host:port`.
    public var url: String {
        "http://\(self.host.contains(":") ? "[\(self.host)]" : self.host):\(self.port)"
    }
}

/// A configuration the server cannot start with.
public struct SpiegelServerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}
