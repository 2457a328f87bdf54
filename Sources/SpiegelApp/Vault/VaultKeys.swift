import Foundation
public import Logging
public import SpiegelVault

/// Where the vault's master key comes from, and the key itself.
public struct ResolvedMasterKey: Sendable {
    /// The key that wraps new keys.
    public let key: MasterKey
    /// During an unfinished rotation: the key being replaced.
    public let previous: MasterKey?
    /// Where the key was read, for `doctor` and logs (never the key).
    public let source: String
}

/// Finds the master key: `vault.master_key` (the environment), else `vault.key_file`, else, on the
/// built-in default data directory only, `./.spiegel-master.key`, made on first use.
public enum VaultKeys {
    /// The key file used on the built-in defaults.
    public static let defaultKeyFile = "./.spiegel-master.key"

    /// The key file in effect, or `nil` when the key comes from the environment or nothing is set
    /// outside the built-in defaults.
    public static func keyFile(for configuration: SpiegelConfiguration) -> String? {
        if configuration.vaultMasterKey != nil { return nil }
        if let file = configuration.vaultKeyFile { return file }
        return configuration.dataDirectory == SpiegelConfiguration().dataDirectory ? self.defaultKeyFile : nil
    }

    /// The file a rotation writes the new key to before it replaces the old one.
    public static func nextKeyFile(of path: String) -> String { path + ".next" }

    /// Resolves the key.
    /// - Parameter create: make the default key file when it is missing (serve does; other commands
    ///   only read).
    /// - Throws: ``VaultError`` with a message that says what to configure.
    public static func resolve(_ configuration: SpiegelConfiguration, create: Bool, logger: Logger) throws(VaultError) -> ResolvedMasterKey {
        if let text = configuration.vaultMasterKey {
            return ResolvedMasterKey(key: try MasterKey(base64: text, source: "vault.master_key"), previous: nil, source: "vault.master_key (environment)")
        }
        guard let path = self.keyFile(for: configuration) else {
            throw VaultError(.keyFile, "no master key configured: set vault.key_file (see `spiegel keys init`) or SPIEGEL_VAULT_MASTER_KEY")
        }
        if !FileManager.default.fileExists(atPath: path) && create && configuration.vaultKeyFile == nil {
            try MasterKey.createFile(at: path)
            logger.warning(
                "spiegel.vault.key_created",
                metadata: [
                    "spiegel.key_file": "\(path)",
                    "spiegel.hint": "a master key was made beside the data directory for trying Spiegel out; in production keep it elsewhere (vault.key_file, a systemd credential or SPIEGEL_VAULT_MASTER_KEY) and never in the same backup as the data",
                ]
            )
        }
        let next = self.nextKeyFile(of: path)
        if FileManager.default.fileExists(atPath: next) {
            // A rotation did not finish: keys open with either; new keys go under the new one.
            return ResolvedMasterKey(key: try MasterKey.load(file: next), previous: try MasterKey.load(file: path), source: "\(next) (rotation unfinished; run `spiegel keys rotate` again)")
        }
        return ResolvedMasterKey(key: try MasterKey.load(file: path), previous: nil, source: path)
    }

    /// Opens the vault of `configuration` with its master key.
    public static func openVault(_ configuration: SpiegelConfiguration, create: Bool, logger: Logger) throws(VaultError) -> Vault {
        let resolved = try self.resolve(configuration, create: create, logger: logger)
        return try Vault(
            configuration: VaultConfiguration(directory: configuration.vaultDirectory),
            masterKey: resolved.key, previousKey: resolved.previous, logger: logger
        )
    }
}
