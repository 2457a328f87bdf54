import Foundation
import Logging
import ServiceLifecycle
import SpiegelVault

/// Erases coachees inactive for longer than `vault.retention`: at start, then once a day.
struct RetentionService: Service {
    let vault: Vault
    let retention: Duration
    let now: @Sendable () -> Date
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let seconds = Double(self.retention.components.seconds)
            do {
                _ = try await self.vault.eraseInactive(before: self.now().addingTimeInterval(-seconds))
            } catch {
                self.logger.error("spiegel.vault.retention_failed")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(86_400)) }
        }
    }
}
