import Hummingbird
public import Logging
import NIOCore
public import Prometheus
public import ServiceLifecycle
import UnixSignals
public import SpiegelChat

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
        let vault = try VaultKeys.openVault(self.configuration, create: true, logger: self.logger)
        let httpClient = CurlHTTPClient(configuration: self.configuration.httpClient, logger: self.logger)
        let application = self.makeApplication(dataDirectory: dataDirectory, onListening: onListening)
        var services: [any Service] = [VaultService(vault: vault)]
        if let retention = self.configuration.vaultRetention {
            services.append(RetentionService(vault: vault, retention: retention, logger: self.logger))
        }
        return (services + [httpClient, application], httpClient)
    }

    private func makeApplication(
        dataDirectory: DataDirectory,
        onListening: @escaping @Sendable (String, Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        OperationsRoutes(dataDirectory: dataDirectory, registry: self.registry).add(to: router)
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
