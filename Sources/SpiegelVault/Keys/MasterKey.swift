import Crypto
import Foundation

/// The key that protects every other key of the vault: 32 random bytes, kept in a file of mode
/// 0600 or in an environment variable, never in the data directory's backups.
///
/// Its `description` is redacted; the bytes are reachable only through swift-crypto.
public struct MasterKey: Sendable, CustomStringConvertible {
    let key: SymmetricKey
    /// Names this key in wrapped keys, so a vault under rotation knows which key opens which.
    let identifier: [UInt8]
    /// Wraps data keys and the naming key.
    let wrappingKey: SymmetricKey

    init(_ key: SymmetricKey) {
        self.key = key
        let tag = HMAC<SHA256>.authenticationCode(for: Array("spiegel key id v1".utf8), using: key)
        self.identifier = Array(Array(tag).prefix(8))
        self.wrappingKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, info: Array("spiegel wrapping key v1".utf8), outputByteCount: 32
        )
    }

    /// A new random key.
    public static func generate() -> MasterKey {
        MasterKey(SymmetricKey(size: .bits256))
    }

    /// The key as base64, for `SPIEGEL_VAULT_MASTER_KEY` and key files.
    public var base64Encoded: String {
        self.key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// Reads a key from base64 text (a key file's content or the environment variable).
    /// - Throws: ``VaultError`` with code `keyFile` when it is not 32 bytes of base64.
    public init(base64 text: String, source: String) throws(VaultError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: trimmed), data.count == 32 else {
            throw VaultError(.keyFile, "\(source) does not hold a master key (32 bytes of base64); create one with `spiegel keys init`")
        }
        self.init(SymmetricKey(data: data))
    }

    /// Reads the key file at `path`, refusing a file that group or others can read.
    public static func load(file path: String) throws(VaultError) -> MasterKey {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw VaultError(.keyFile, "no master key file at \(path); create one with `spiegel keys init` or set SPIEGEL_VAULT_MASTER_KEY")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw VaultError(.keyFile, "the master key file \(path) can be read by others (mode \(String(status.st_mode & 0o777, radix: 8))); run chmod 600 on it")
        }
        guard let bytes = try FileIO.read(path), let text = String(bytes: bytes, encoding: .utf8) else {
            throw VaultError(.keyFile, "cannot read the master key file \(path)")
        }
        return try MasterKey(base64: text, source: "the master key file \(path)")
    }

    /// Writes a new key file: never over an existing file, mode 0600, synced with its directory.
    /// - Throws: ``VaultError`` when the file exists or cannot be written.
    @discardableResult
    public static func createFile(at path: String) throws(VaultError) -> MasterKey {
        let key = MasterKey.generate()
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST {
                throw VaultError(.keyFile, "\(path) exists already; a key is never overwritten (move it away first if you mean to)")
            }
            throw VaultError(.keyFile, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw VaultError(.keyFile, "cannot set the mode of \(path)") }
        try FileIO.write(descriptor, Array((key.base64Encoded + "\n").utf8), path: path)
        try FileIO.sync(descriptor, path: path)
        try FileIO.syncDirectory(FileIO.directory(of: path))
        return key
    }

    public var description: String { "MasterKey(redacted)" }
}
