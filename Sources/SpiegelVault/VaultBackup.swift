import Glibc

/// Copies of the vault, still encrypted, and their restore.
///
/// A backup is a file copy that needs no key and no lock, so it runs beside `spiegel serve`: the
/// write-ahead log (which holds the keys of journals whose files are not made yet), the erased
/// list (after the log, so it names every journal erased since the log was copied), the naming
/// key, then each journal's wrapped key and journal (the coachees', then the system's).
/// What it catches is what a power cut at that moment would leave, which the vault recovers from
/// when it is opened (the log replayed, a torn tail cut); a record written during the copy may be
/// missing from it.
///
/// Erasure survives a restore: crypto-shredding makes a coachee's old journal unreadable only once
/// their wrapped key is gone, and a backup taken before the erasure still holds that key. So every
/// erasure is also noted in the vault's erased list (pseudonyms only), and a restore erases again
/// every pseudonym on the backup's list and on the list of the vault it replaces.
public enum VaultBackup {
    /// What a backup or a restore did.
    public struct Summary: Sendable, Equatable {
        /// Journals in the copy: the coachees' and the bot's own.
        public var coachees: Int
        /// Erasures replayed on the restored copy.
        public var erasedAgain: Int
    }

    /// Copies the vault at `source` into `destination`, which must not exist yet.
    public static func copy(from source: String, to destination: String) throws(VaultError) -> Summary {
        let from = JournalStore.Layout(root: source), to = JournalStore.Layout(root: destination)
        guard FileIO.exists(from.coachees) else { throw VaultError(.io, "there is no vault at \(source)") }
        guard !FileIO.exists(destination) else { throw VaultError(.io, "\(destination) exists already: a backup goes into a new directory") }
        try FileIO.makeDirectory(FileIO.directory(of: destination))
        try FileIO.makeDirectory(destination)
        try FileIO.makeDirectory(to.coachees)
        try FileIO.makeDirectory(to.system)
        for name in ["wal", "erased", "naming.key"] {
            try self.copyFile(source + "/" + name, to: destination + "/" + name)
        }
        var count = 0
        for pseudonym in try from.allPseudonyms() {
            try FileIO.makeDirectory(to.directory(of: pseudonym))
            // The key first: a journal without its key would be a coachee half-made.
            guard try self.copyFile(from.keyFile(of: pseudonym), to: to.keyFile(of: pseudonym)) else {
                rmdir(to.directory(of: pseudonym))
                continue
            }
            try self.copyFile(from.journal(of: pseudonym), to: to.journal(of: pseudonym))
            try FileIO.syncDirectory(to.directory(of: pseudonym))
            count += 1
        }
        try FileIO.syncDirectory(to.coachees)
        try FileIO.syncDirectory(to.system)
        try FileIO.syncDirectory(destination)
        return Summary(coachees: count, erasedAgain: 0)
    }

    /// Copies the backup at `backup` to `target` (which must not exist) and erases there again
    /// every pseudonym on the backup's erased list and on `erasedSince` (the list of the vault
    /// being replaced). Open the result with the master key to check it.
    public static func restore(from backup: String, to target: String, erasedSince: [String]) throws(VaultError) -> Summary {
        var summary = try self.copy(from: backup, to: target)
        let layout = JournalStore.Layout(root: target)
        let erased = Set(try self.erasedList(of: backup) + erasedSince)
        for name in erased.sorted() {
            guard let pseudonym = Pseudonym(erasedListName: name), FileIO.exists(layout.directory(of: pseudonym)) else { continue }
            try FileIO.remove(layout.keyFile(of: pseudonym))
            try FileIO.syncDirectory(layout.directory(of: pseudonym))
            try FileIO.remove(layout.journal(of: pseudonym))
            if rmdir(layout.directory(of: pseudonym)) != 0 && errno != ENOENT { throw VaultError(.io, "cannot remove \(layout.directory(of: pseudonym))") }
            summary.coachees -= 1
            summary.erasedAgain += 1
        }
        // The log's copies of their keys (journals whose files were not made yet) go too.
        try self.dropFromLog(erased.compactMap(Pseudonym.init(erasedListName:)), in: layout)
        // The restored vault's list holds both, so the next restore knows them too.
        let known = Set(try self.erasedList(of: target))
        for name in erased.subtracting(known).sorted() {
            if let pseudonym = Pseudonym(erasedListName: name) { try JournalStore.noteErased(pseudonym, in: layout) }
        }
        try FileIO.syncDirectory(layout.coachees)
        try FileIO.syncDirectory(layout.system)
        return summary
    }

    /// Rewrites the log of a restored copy without the entries of `erased`.
    private static func dropFromLog(_ erased: [Pseudonym], in layout: JournalStore.Layout) throws(VaultError) {
        guard let bytes = try FileIO.read(layout.writeAheadLog) else { return }
        let entries = WriteAheadLog.decode(bytes)
        let erased = Set(erased)
        let kept = entries.filter { !erased.contains($0.entry.pseudonym) }
        guard kept.count < entries.count else { return }
        var log: [UInt8] = []
        for (_, entry) in kept { WriteAheadLog.encode(entry, into: &log) }
        try FileIO.replaceAtomically(layout.writeAheadLog, with: log, mode: 0o600)
    }

    /// The pseudonyms on a vault's erased list.
    public static func erasedList(of vault: String) throws(VaultError) -> [String] {
        let bytes = try FileIO.read(JournalStore.Layout(root: vault).erasedList) ?? []
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init).filter { Pseudonym(erasedListName: $0) != nil }
    }

    /// Copies one file (mode 0600, synced); `false` when there is none.
    @discardableResult
    private static func copyFile(_ source: String, to destination: String) throws(VaultError) -> Bool {
        guard let bytes = try FileIO.read(source) else { return false }
        let descriptor = try FileIO.open(destination, flags: O_WRONLY | O_TRUNC, create: 0o600)
        defer { Glibc.close(descriptor) }
        try FileIO.write(descriptor, bytes, path: destination)
        try FileIO.sync(descriptor, path: destination)
        return true
    }
}
