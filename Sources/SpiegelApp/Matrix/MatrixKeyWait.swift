import Foundation
import Logging
import ServiceLifecycle
import SpiegelChat

/// Tells a teacher once when their encrypted message could not be read because its room key
/// never came (see ``MatrixEncryption/overdue()``), so they can send it again.
struct MatrixKeyWait: Service {
    let bot: MatrixBot
    let encryption: MatrixEncryption
    let logger: Logger
    var tick: Duration = .seconds(5)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.tick) }
            guard !Task.isShuttingDownGracefully, self.encryption.isReady else { continue }
            do {
                for message in try await self.encryption.overdue() {
                    try await self.bot.tellUndecryptable(in: message.room, eventID: message.eventID)
                }
            } catch {
                self.logger.warning("spiegel.matrix.key_wait_failed", metadata: ["spiegel.error": "\(type(of: error))"])
            }
        }
    }
}
