import Glibc

/// Re-wraps every key of a vault under a new master key, without rewriting any journal.
///
/// One key file at a time, each replaced atomically: after a crash at any point every key opens
/// with the old or the new master key (the vault opens with both while a rotation is unfinished),
/// and running the rotation again finishes it. Run it while the vault is not open.
public enum KeyRotation {
    /// Re-wraps the naming key and every data key under `newKey`.
    /// - Parameter afterEachKey: called after each key file is replaced (tests inject crashes).
    /// - Returns: how many key files were re-wrapped now (0 when the rotation was complete).
    @discardableResult
    public static func rotate(
        vault directory: String, from oldKey: MasterKey, to newKey: MasterKey,
        afterEachKey: (Int) throws -> Void = { _ in }
    ) throws -> Int {
        let layout = JournalStore.Layout(root: directory)
        var files: [(path: String, purpose: [UInt8])] = [(directory + "/naming.key", Array("spiegel naming key v1".utf8))]
        for pseudonym in try layout.allPseudonyms() {
            files.append((layout.keyFile(of: pseudonym), Array("spiegel data key v1".utf8) + pseudonym.bytes))
        }
        var rotated = 0
        for file in files {
            guard let wrapped = try FileIO.read(file.path) else { continue }
            if WrappedKey.masterIdentifier(of: wrapped) == newKey.identifier { continue }
            let key = try WrappedKey.unwrap(wrapped, with: [oldKey, newKey], purpose: file.purpose, what: file.path)
            try FileIO.replaceAtomically(file.path, with: try WrappedKey.wrap(key, under: newKey, purpose: file.purpose), mode: 0o600)
            rotated += 1
            try afterEachKey(rotated)
        }
        return rotated
    }

    /// Makes the new key file the key file: renamed over the old one, directory synced. Call it
    /// only after ``rotate(vault:from:to:afterEachKey:)`` returned.
    public static func promote(_ newKeyFile: String, to keyFile: String) throws(VaultError) {
        guard rename(newKeyFile, keyFile) == 0 else {
            throw VaultError(.io, "cannot move \(newKeyFile) to \(keyFile): \(String(cString: strerror(errno)))")
        }
        try FileIO.syncDirectory(FileIO.directory(of: keyFile))
    }
}
