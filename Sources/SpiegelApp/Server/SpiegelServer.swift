import Hummingbird
public import Logging
import NIOCore
public import Prometheus
public import ServiceLifecycle
import UnixSignals
public import SpiegelChat
public import Foundation
import SpiegelCoach
import SpiegelDialogue
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
    /// - Parameter onListening: called with the bound host and port once the server accepts
    ///   connections (the port differs from the configured one when that was 0).
    public func run(onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) async throws {
        let (services, _) = try self.makeServices(onListening: onListening)
        // A failed vault drains the rest (requests in flight are answered) before the process
        // exits with its own status.
        let configurations = services.map { service in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: service, failureTerminationBehavior: service is VaultService ? .gracefullyShutdownGroup : .cancelGroup
            )
        }
        let group = ServiceGroup(
            configuration: .init(services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: self.logger)
        )
        try await group.run()
    }

    /// The services in start order (they stop in reverse: the HTTP server first, so nothing new
    /// arrives while the rest drains, the vault last), and the HTTP client they share.
    public func makeServices(
        onListening: @escaping @Sendable (String, Int) async -> Void
    ) throws -> ([any Service], CurlHTTPClient) {
        let dataDirectory = DataDirectory(path: self.configuration.dataDirectory)
        let state = try dataDirectory.prepare()
        if state.isOpenToOthers {
            self.logger.warning(
                "spiegel.data_dir.open_to_others",
                metadata: ["spiegel.hint": "chmod 700 the data directory: group and others can enter it"]
            )
        }
        let plain = self.configuration.plain, mattermost = self.configuration.mattermost
        if (plain.secret == nil) != (plain.outboundURL == nil) {
            throw SpiegelServerError(message: "the plain webhook needs both plain.secret and plain.outbound_url (or neither)")
        }
        if (mattermost.token == nil) != (mattermost.incomingWebhookURL == nil) {
            throw SpiegelServerError(message: "the Mattermost webhooks need both mattermost.token and mattermost.incoming_webhook_url (or neither)")
        }
        let vault = try VaultKeys.openVault(self.configuration, create: true, logger: self.logger)
        let httpClient = CurlHTTPClient(configuration: self.configuration.httpClient, logger: self.logger)
        var services: [any Service] = [VaultService(vault: vault)]
        if let retention = self.configuration.vaultRetention {
            services.append(RetentionService(vault: vault, retention: retention, now: self.now, logger: self.logger))
        }
        services.append(httpClient)
        var routes: [(Router<BasicRequestContext>) -> Void] = []
        var gateways: [ChatGateway] = []
        let matrix = try MatrixSettings(self.configuration.matrix)
        let teams = try self.configuration.teams.file.map { try TeamsFile.load(path: $0).teams } ?? []
        if plain.secret != nil || mattermost.token != nil || matrix != nil {
            let library = try self.loadLibrary()
            let coaching = CoachingService(library: library, vault: vault, configuration: self.configuration.coach, logger: self.logger, now: self.now)
            let outboxes = OutboxDirectory()
            // The teams file's rooms are team rooms too: no coaching there, no conversation sent there.
            func teamRooms(_ transport: String, _ configured: [String]) -> Set<String> {
                Set(configured).union(teams.filter { $0.transport == transport }.map(\.room))
            }
            let language = self.configuration.coach.defaultLanguage
            let teamBook = TeamBook(vault: vault)
            let teamsInEffect = TeamsInEffect(teams)
            let desk = teams.isEmpty ? nil : TeamDesk(teams: teamsInEffect, book: teamBook, library: library, language: language, now: self.now)
            if let reloadConfiguration = self.reloadConfiguration {
                services.append(ReloadService(reloadConfiguration: reloadConfiguration, coaching: coaching, teams: teamsInEffect, logger: self.logger))
            }
            if !teams.isEmpty {
                services.append(TeamReminderService(
                    teams: teamsInEffect, book: teamBook, outboxes: outboxes, library: library, language: language,
                    grace: self.configuration.teams.grace, tick: self.configuration.teams.tick, now: self.now, logger: self.logger
                ))
            }
            func gateway(for transport: any ChatTransport) -> ChatGateway {
                let outbox = Outbox(vault: vault, client: httpClient, transport: transport, logger: self.logger)
                services.append(outbox)
                outboxes.add(outbox)
                let gateway = ChatGateway(coaching: coaching, outbox: outbox, outboxes: outboxes, teamDesk: desk, logger: self.logger)
                gateways.append(gateway)
                return gateway
            }
            if let secret = plain.secret, let url = plain.outboundURL {
                let signature = PlainSignature(secret: Array(secret.utf8))
                let plainGateway = gateway(for: PlainTransport(teamRooms: teamRooms("plain", plain.teamRooms), url: url, signature: signature, now: self.now))
                routes.append(PlainWebhookRoutes(signature: signature, gateway: plainGateway, logger: self.logger, now: self.now).add(to:))
            }
            if let token = mattermost.token, let url = mattermost.incomingWebhookURL {
                let mattermostGateway = gateway(for: MattermostTransport(
                    teamRooms: teamRooms("mattermost", mattermost.teamChannels), url: url, roomURLs: mattermost.roomWebhookURLs, botName: mattermost.username
                ))
                let route = MattermostRoutes(
                    token: token, gateway: mattermostGateway, teamChannels: Set(mattermost.teamChannels), botName: mattermost.username, logger: self.logger
                )
                routes.append(route.add(to:))
            }
            if let matrix {
                let api = MatrixClientAPI(homeserverURL: matrix.homeserverURL, accessToken: matrix.accessToken)
                let matrixGateway = gateway(for: MatrixTransport(api: api, teamRooms: teamRooms("matrix", self.configuration.matrix.teamRooms)))
                let bot = MatrixBot(
                    gateway: matrixGateway, api: api, client: httpClient, state: MatrixState(vault: vault),
                    texts: MatrixBot.Texts(library: library, language: self.configuration.coach.defaultLanguage),
                    userID: matrix.registration == nil ? nil : self.configuration.matrix.userID,
                    teamRooms: teamRooms("matrix", self.configuration.matrix.teamRooms), ignoredUsers: Set(self.configuration.matrix.ignoredUsers),
                    typingAfter: self.configuration.matrix.typingAfter, logger: self.logger
                )
                if let registration = matrix.registration {
                    services.append(MatrixAppservice(bot: bot, client: httpClient, registration: registration, logger: self.logger))
                    routes.append(AppserviceRoutes(hsToken: registration.hsToken, bot: bot, logger: self.logger).add(to:))
                } else {
                    services.append(MatrixSyncService(bot: bot, client: httpClient, configuredUserID: self.configuration.matrix.userID, logger: self.logger))
                }
            }
            if self.configuration.coach.reminderAfter != nil {
                services.append(ReminderService(coaching: coaching, gateways: gateways, logger: self.logger))
            }
        }
        let application = self.makeApplication(dataDirectory: dataDirectory, vault: vault, routes: routes, onListening: onListening)
        return (services + [application], httpClient)
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
        router.add(middleware: MetricsMiddleware())
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

/// A configuration the server cannot start with.
public struct SpiegelServerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}
