import ArgumentParser
import Foundation
import Logging
import SpiegelApp
import SpiegelVault

/// `spiegel keys`: the vault's master key.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create or rotate the vault's master key.",
        subcommands: [Initialize.self, Rotate.self]
    )

    struct Initialize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a master key file (mode 0600, never over an existing file)."
        )

        @OptionGroup var options: GlobalOptions

        @Option(name: .customLong("key-file"), help: "Where to write it. Default: vault.key_file, or ./.spiegel-master.key on the built-in defaults.")
        var keyFile: String?

        func run() throws {
            let configuration = try self.options.loadConfiguration().configuration
            guard let path = self.keyFile ?? configuration.vaultKeyFile ?? VaultKeys.keyFile(for: configuration) else {
                printToStandardError("spiegel: say where the key goes: --key-file PATH (and set vault.key_file to it)")
                throw ExitCode.failure
            }
            do {
                try MasterKey.createFile(at: path)
            } catch {
                printToStandardError("spiegel: \(error.message)")
                throw ExitCode.failure
            }
            print("Created the master key \(path) (mode 0600).")
            print("Keep a copy somewhere safe and apart from the backups of the data directory: without it the vault cannot be read; with it, anyone holding a data backup can.")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap every key of the vault under a new master key (stop `spiegel serve` first). Safe to run again after a crash."
        )

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let configuration = try self.options.loadConfiguration().configuration
            guard configuration.vaultMasterKey == nil, let path = VaultKeys.keyFile(for: configuration) else {
                printToStandardError("spiegel: rotation works on a key file (vault.key_file); a key from the environment is rotated by whoever provides it")
                throw ExitCode.failure
            }
            let next = VaultKeys.nextKeyFile(of: path)
            do {
                let old = try MasterKey.load(file: path)
                let new = FileManager.default.fileExists(atPath: next) ? try MasterKey.load(file: next) : try MasterKey.createFile(at: next)
                // Holding the vault's lock: no `serve` writes meanwhile.
                let vault = try Vault(
                    configuration: VaultConfiguration(directory: configuration.vaultDirectory), masterKey: new, previousKey: old,
                    logger: Logger(label: "spiegel")
                )
                let count: Int
                do {
                    count = try KeyRotation.rotate(vault: configuration.vaultDirectory, from: old, to: new)
                } catch {
                    try? await vault.close()
                    throw error
                }
                try await vault.close()
                try KeyRotation.promote(next, to: path)
                print("Re-wrapped \(count) keys; \(path) now holds the new master key. Replace every copy of the old key.")
            } catch let error as VaultError {
                printToStandardError("spiegel: \(error.message)")
                throw ExitCode.failure
            }
        }
    }
}
