import Crypto

/// A 32-byte key sealed under a master key: `SPK1`, the master key's identifier, and the
/// ChaChaPoly box, with what the key is for bound as associated data.
enum WrappedKey {
    private static let magic = Array("SPK1".utf8)
    /// The length of a wrapped key.
    static let size = 4 + 8 + 12 + 32 + 16

    /// Seals `key` under `master`; `purpose` (such as the coachee's pseudonym) is bound to it.
    static func wrap(_ key: SymmetricKey, under master: MasterKey, purpose: [UInt8]) throws(VaultError) -> [UInt8] {
        do {
            let box = try key.withUnsafeBytes { bytes in
                try ChaChaPoly.seal(Array(bytes), using: master.wrappingKey, authenticating: purpose)
            }
            return self.magic + master.identifier + Array(box.combined)
        } catch {
            throw VaultError(.authenticationFailure, "cannot seal a key")
        }
    }

    /// The identifier of the master key that wrapped `bytes`, or `nil` when they are no wrapped key.
    static func masterIdentifier(of bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count == self.size, Array(bytes.prefix(4)) == self.magic else { return nil }
        return Array(bytes[4..<12])
    }

    /// Opens a wrapped key with whichever of `keys` wrapped it.
    static func unwrap(_ bytes: [UInt8], with keys: [MasterKey], purpose: [UInt8], what: String) throws(VaultError) -> SymmetricKey {
        guard let identifier = self.masterIdentifier(of: bytes) else {
            throw VaultError(.corruptJournal, "\(what) is not a wrapped key")
        }
        guard let master = keys.first(where: { $0.identifier == identifier }) else {
            throw VaultError(.keyMismatch, "\(what) was wrapped by another master key than the one configured")
        }
        do {
            let box = try ChaChaPoly.SealedBox(combined: bytes[12...])
            return SymmetricKey(data: try ChaChaPoly.open(box, using: master.wrappingKey, authenticating: purpose))
        } catch {
            throw VaultError(.authenticationFailure, "\(what) does not open: damaged, or moved from elsewhere")
        }
    }
}
