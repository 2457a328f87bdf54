import ServiceLifecycle
import SpiegelVault

/// Keeps the vault open while the process runs, and closes it (journals synced, log emptied) on
/// graceful shutdown, after the services that write to it have stopped.
///
/// When the vault fails (a sync failed: only a restart knows what the disk holds) it throws
/// ``VaultFailedError``, which shuts the group down; `spiegel serve` then exits with its own
/// status, so systemd restarts it and the restart replays the write-ahead log.
struct VaultService: Service {
    let vault: Vault

    func run() async throws {
        let reason = await cancelWhenGracefulShutdown { await self.vault.failure() }
        if let reason { throw VaultFailedError(reason: reason) }
        try await self.vault.close()
        if case .failed(let reason) = self.vault.health { throw VaultFailedError(reason: reason) }
    }
}

/// The vault stopped taking writes after a failed sync; a restart recovers.
public struct VaultFailedError: Error, Sendable, CustomStringConvertible {
    /// The failed step and the system's error, without personal data.
    public let reason: String
    public var description: String { "the vault stopped taking writes (\(self.reason)); a restart replays its write-ahead log" }
}
