import ArgumentParser
import Foundation
import Glibc
import Logging
import SpiegelApp
import SpiegelVault

/// `spiegel backup DIR`: a copy of the vault, still encrypted, while Spiegel runs.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the vault (still encrypted) into a new directory; works while `spiegel serve` runs.",
        discussion: """
            The master key is not in the copy, on purpose: back it up separately (a password manager, a \
            safe), so that whoever holds a data backup cannot read it. Erasures done after this backup \
            stay effective when it is restored (`spiegel restore`).
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The backup directory to create (it must not exist yet).")
    var directory: String

    func run() throws {
        let configuration = try self.options.loadConfiguration().configuration
        do {
            let summary = try VaultBackup.copy(from: configuration.vaultDirectory, to: self.directory)
            print("Backed up \(summary.coachees) journals into \(self.directory) (encrypted; the master key is not in it).")
        } catch {
            printToStandardError("spiegel: \(error.message)")
            throw ExitCode.failure
        }
    }
}

/// `spiegel restore DIR`: the vault from a backup, erasures since then replayed, then checked.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore the vault from a backup made by `spiegel backup`, erase again whoever was erased since, and check it; stop `spiegel serve` first.",
        discussion: """
            The vault in place is moved aside (to vault.replaced-<time>) after its erased list is read, \
            never deleted: remove it yourself once the restored vault is checked.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The backup directory.")
    var directory: String

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    func run() async throws {
        let configuration = try self.options.loadConfiguration().configuration
        let vault = configuration.vaultDirectory
        do {
            let key = try VaultKeys.resolve(configuration, create: false, logger: Logger(label: "spiegel"))
            guard try Vault.keyFits(directory: self.directory, masterKey: key.key, previousKey: key.previous) == true else {
                printToStandardError("spiegel: the configured master key does not open the backup \(self.directory) (or it is no backup)")
                throw ExitCode.failure
            }
            var erasedSince: [String] = []
            var movedAside: String?
            if FileManager.default.fileExists(atPath: vault) {
                // Held by a running `spiegel serve`? Then nothing is touched.
                let lock = open(vault + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                defer { if lock >= 0 { close(lock) } }
                guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
                    printToStandardError("spiegel: the vault \(vault) is in use (a running `spiegel serve`?); stop it first")
                    throw ExitCode.failure
                }
                if !self.yes {
                    print("Replace the vault at \(vault) with the backup \(self.directory)? The current one is moved aside, not deleted. Type yes: ", terminator: "")
                    guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                        print("Nothing was changed.")
                        return
                    }
                }
                erasedSince = try VaultBackup.erasedList(of: vault)
                let stamp = vault + ".replaced-" + ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                var aside = stamp, number = 1
                while FileManager.default.fileExists(atPath: aside) {
                    number += 1
                    aside = stamp + "-\(number)"
                }
                guard rename(vault, aside) == 0 else {
                    printToStandardError("spiegel: cannot move \(vault) aside")
                    throw ExitCode.failure
                }
                movedAside = aside
            }
            let summary = try VaultBackup.restore(from: self.directory, to: vault, erasedSince: erasedSince)
            let opened = try Vault(configuration: VaultConfiguration(directory: vault), masterKey: key.key, previousKey: key.previous, logger: Logger(label: "spiegel"))
            let checked = try await opened.verifyAll()
            try await opened.close()
            print("Restored \(checked.journals) journals (\(checked.records) records, every one opened with the master key); erased again since the backup: \(summary.erasedAgain).")
            if let movedAside { print("The vault that was in place is at \(movedAside); remove it once you are satisfied.") }
        } catch let error as VaultError {
            printToStandardError("spiegel: \(error.message)")
            throw ExitCode.failure
        }
    }
}
