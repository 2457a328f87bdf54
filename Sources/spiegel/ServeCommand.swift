import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SpiegelApp
import SpiegelVault

/// `spiegel serve`: runs the bot until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the bot: the HTTP server and every service behind it, until SIGTERM or SIGINT; SIGHUP reloads the Prompts, the teams and the coach settings."
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let loaded = try self.options.loadConfiguration()
        let level = loaded.configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "spiegel")
        let file = loaded.file, dataDirectory = self.options.dataDirectory
        let server = SpiegelServer(configuration: loaded.configuration, registry: registry, logger: logger, reloadConfiguration: {
            try ConfigurationLoader.load(file: file, dataDirectory: dataDirectory, environment: ProcessInfo.processInfo.environment).configuration
        })
        do {
            try await server.run { listening in
                printNow("Spiegel is listening on \(listening.url) (health: /healthz, readiness: /readyz, metrics: /metrics)")
                if listening.offersTryout {
                    printNow("Try it out: open \(listening.url)/ in a browser. The conversation is kept in the vault like any chat's.")
                }
            }
        } catch let error as DataDirectoryError {
            printToStandardError("spiegel: \(error)")
            throw ExitCode.configuration
        } catch let error as VaultError {
            printToStandardError("spiegel: \(error.message)")
            // A missing or wrong key, or data from a newer Spiegel, is for the administrator to fix:
            // a restart would fail the same way. A disk error may pass.
            throw [.keyFile, .keyMismatch, .newerFormat].contains(error.code) ? ExitCode.configuration : ExitCode.failure
        } catch let error as VaultFailedError {
            printToStandardError("spiegel: \(error)")
            throw ExitCode.vaultFailed
        } catch let error as SpiegelServerError {
            printToStandardError("spiegel: \(error.message)")
            throw ExitCode.configuration
        }
        printNow("Spiegel stopped.")
    }
}
