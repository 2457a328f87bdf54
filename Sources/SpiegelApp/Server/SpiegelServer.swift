import Hummingbird
public import Logging
import NIOCore
public import Prometheus
public import ServiceLifecycle
import UnixSignals
public import SpiegelChat
import Foundation
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

    /// Creates the server; nothing runs until ``run(onListening:)``.
    public init(configuration: SpiegelConfiguration, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
    }

    /// Prepares the data directory, then serves until SIGTERM or SIGINT, and returns once every
    /// request in flight is answered and every service is stopped.
    /// - Parameter onListening: called with the bound host and port once the server accepts
    ///   connections (the port differs from the configured one when that was 0).
    public func run(onListening: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) async throws {
        let (services, _) = try self.makeServices(onListening: onListening)
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: self.logger)
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
            services.append(RetentionService(vault: vault, retention: retention, logger: self.logger))
        }
        services.append(httpClient)
        var routes: [(Router<BasicRequestContext>) -> Void] = []
        var gateways: [ChatGateway] = []
        if plain.secret != nil || mattermost.token != nil {
            let coaching = try self.makeCoachingService(vault: vault)
            if let secret = plain.secret, let url = plain.outboundURL {
                let signature = PlainSignature(secret: Array(secret.utf8))
                let transport = PlainTransport(teamRooms: Set(plain.teamRooms), url: url, signature: signature)
                let outbox = Outbox(vault: vault, client: httpClient, transport: transport, logger: self.logger)
                services.append(outbox)
                gateways.append(ChatGateway(coaching: coaching, outbox: outbox, logger: self.logger))
                routes.append(PlainWebhookRoutes(signature: signature, gateway: gateways.last!, logger: self.logger, now: Date.init).add(to:))
            }
            if let token = mattermost.token, let url = mattermost.incomingWebhookURL {
                let transport = MattermostTransport(
                    teamRooms: Set(mattermost.teamChannels), url: url, roomURLs: mattermost.roomWebhookURLs, botName: mattermost.username
                )
                let outbox = Outbox(vault: vault, client: httpClient, transport: transport, logger: self.logger)
                services.append(outbox)
                gateways.append(ChatGateway(coaching: coaching, outbox: outbox, logger: self.logger))
                let route = MattermostRoutes(
                    token: token, gateway: gateways.last!, teamChannels: Set(mattermost.teamChannels), botName: mattermost.username, logger: self.logger
                )
                routes.append(route.add(to:))
            }
            if self.configuration.coach.reminderAfter != nil {
                services.append(ReminderService(coaching: coaching, gateways: gateways, logger: self.logger))
            }
        }
        let application = self.makeApplication(dataDirectory: dataDirectory, routes: routes, onListening: onListening)
        return (services + [application], httpClient)
    }

    /// The coaching service over the graphs in `prompts_dir`.
    private func makeCoachingService(vault: Vault) throws -> CoachingService {
        let library: DialogueLibrary
        do {
            library = try DialogueLoader.loadLibrary(directory: self.configuration.promptsDirectory)
        } catch {
            throw SpiegelServerError(message: "the dialogue graphs do not load: " + error.errors.map { "\($0.location): \($0.message)" }.joined(separator: "; "))
        }
        return CoachingService(library: library, vault: vault, configuration: self.configuration.coach, logger: self.logger)
    }

    private func makeApplication(
        dataDirectory: DataDirectory,
        routes: [(Router<BasicRequestContext>) -> Void],
        onListening: @escaping @Sendable (String, Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        OperationsRoutes(dataDirectory: dataDirectory, registry: self.registry).add(to: router)
        for add in routes { add(router) }
        let logger = self.logger
        let host = self.configuration.server.host
        return Application(
            router: router,
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
