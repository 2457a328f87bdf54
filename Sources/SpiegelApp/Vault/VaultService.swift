import ServiceLifecycle
import SpiegelVault

/// Keeps the vault open while the process runs, and closes it (journals synced, log emptied) on
/// graceful shutdown, after the services that write to it have stopped.
struct VaultService: Service {
    let vault: Vault

    func run() async throws {
        try? await gracefulShutdown()
        try await self.vault.close()
    }
}
