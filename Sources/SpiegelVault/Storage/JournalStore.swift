import Crypto
import Dispatch
import Glibc
import Foundation
import Logging
import Synchronization

/// Owns the write-ahead log and every open journal; all their I/O runs in order on one serial
/// queue, off Swift's cooperative pool.
///
/// Appends wait in `pending` while a flush syncs; the next flush takes them all at once (group
/// commit), so throughput grows with the number of writers instead of being one sync per record.
/// - Important: the properties marked "queue only" are touched on `queue` alone.
final class JournalStore: @unchecked Sendable {
    struct Layout: Sendable {
        let root: String
        var coachees: String { self.root + "/coachees" }
        var writeAheadLog: String { self.root + "/wal" }
        /// The pseudonyms erased so far, one hex per line: replayed on a restored backup.
        var erasedList: String { self.root + "/erased" }
        func directory(of pseudonym: Pseudonym) -> String { self.coachees + "/" + pseudonym.hex }
        func keyFile(of pseudonym: Pseudonym) -> String { self.directory(of: pseudonym) + "/key" }
        func journal(of pseudonym: Pseudonym) -> String { self.directory(of: pseudonym) + "/journal" }
    }

    /// A coachee's journal as the store has it open.
    ///
    /// Acknowledged frames wait in `buffered` (they are safe in the synced log) until the journal
    /// is read or checkpointed: one write per coachee then, instead of one per record.
    struct OpenJournal {
        var descriptor: Int32
        var path: String
        var count: UInt64
        var buffered: [UInt8] = []
        var isDirty = false
    }

    /// What `load` gives back: the data key and the number of records.
    struct Loaded: Sendable {
        let dataKey: SymmetricKey
        let count: UInt64
    }

    private struct PendingAppend {
        let entries: [WriteAheadLog.Entry]
        let completion: @Sendable (Result<Void, VaultError>) -> Void
    }

    let layout: Layout
    let keys: [MasterKey]
    private let logger: Logger
    private let checkpointBytes: Int
    private let queue = DispatchQueue(label: "spiegel.vault")
    private let pending = Mutex<(appends: [PendingAppend], isFlushScheduled: Bool)>(([], false))

    // Queue only.
    private var walDescriptor: Int32 = -1
    private var walOffset = 0
    private var journals: [Pseudonym: OpenJournal] = [:]
    private var failure: VaultError?

    /// Opens the log and replays into the journals whatever a crash left only in the log.
    init(layout: Layout, keys: [MasterKey], checkpointBytes: Int, logger: Logger) throws(VaultError) {
        self.layout = layout
        self.keys = keys
        self.checkpointBytes = checkpointBytes
        self.logger = logger
        try self.recover()
    }

    // MARK: - Called from the vault

    /// Queues `entries` for the next flush; `completion` runs once the log holding them is synced
    /// and each frame is in its journal. Entries are written in the order they were queued.
    func enqueue(_ entries: [WriteAheadLog.Entry], completion: @escaping @Sendable (Result<Void, VaultError>) -> Void) {
        let mustSchedule = self.pending.withLock { pending in
            pending.appends.append(PendingAppend(entries: entries, completion: completion))
            defer { pending.isFlushScheduled = true }
            return !pending.isFlushScheduled
        }
        if mustSchedule { self.queue.async { self.flush() } }
    }

    /// Runs `body` on the queue, after every append and operation submitted before it.
    func perform<Result: Sendable>(_ body: @escaping @Sendable (JournalStore) throws(VaultError) -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            self.queue.async {
                do {
                    continuation.resume(returning: try body(self))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    // MARK: - Queue only

    private func flush() {
        let batch = self.pending.withLock { pending in
            defer {
                pending.appends = []
                pending.isFlushScheduled = false
            }
            return pending.appends
        }
        guard !batch.isEmpty else { return }
        do throws(VaultError) {
            if let failure { throw failure }
            var buffer: [UInt8] = []
            for append in batch {
                for entry in append.entries { WriteAheadLog.encode(entry, into: &buffer) }
            }
            try FileIO.write(self.walDescriptor, buffer, path: self.layout.writeAheadLog)
            try FileIO.sync(self.walDescriptor, path: self.layout.writeAheadLog)
            self.walOffset += buffer.count
            for append in batch {
                for entry in append.entries { try self.write(entry) }
            }
            for append in batch { append.completion(.success(())) }
        } catch {
            // The log may hold part of the batch; appends stop until a restart replays it.
            self.failure = self.failure ?? VaultError(.closed, "the vault stopped taking writes after: \(error.message)")
            self.logger.error("spiegel.vault.write_failed", metadata: ["spiegel.error": "\(error.code)"])
            for append in batch { append.completion(.failure(error)) }
            return
        }
        if self.walOffset >= self.checkpointBytes {
            do {
                try self.checkpoint()
            } catch {
                self.logger.error("spiegel.vault.checkpoint_failed", metadata: ["spiegel.error": "\(error.code)"])
            }
        }
    }

    /// Adds an acknowledged entry to its coachee's journal (written when read or checkpointed),
    /// opening the journal again if a checkpoint closed it.
    private func write(_ entry: WriteAheadLog.Entry) throws(VaultError) {
        if self.journals[entry.pseudonym] == nil, try self.load(entry.pseudonym, create: false) == nil {
            throw VaultError(.unknownCoachee, "coachee \(entry.pseudonym) has no journal")
        }
        try self.journals[entry.pseudonym]!.add(entry)
    }

    /// Writes what waits in memory for `pseudonym`'s journal to the file (not synced).
    private func writeBuffered(_ pseudonym: Pseudonym) throws(VaultError) {
        guard let journal = self.journals[pseudonym], !journal.buffered.isEmpty else { return }
        try FileIO.write(journal.descriptor, journal.buffered, path: journal.path)
        self.journals[pseudonym]?.buffered = []
        self.journals[pseudonym]?.isDirty = true
    }

    /// Writes and syncs every journal changed since the last checkpoint, then empties the log.
    func checkpoint() throws(VaultError) {
        for pseudonym in Array(self.journals.keys) {
            try self.writeBuffered(pseudonym)
            guard let journal = self.journals[pseudonym], journal.isDirty else { continue }
            try FileIO.sync(journal.descriptor, path: journal.path)
            self.journals[pseudonym]?.isDirty = false
        }
        guard ftruncate(self.walDescriptor, 0) == 0, lseek(self.walDescriptor, 0, SEEK_SET) == 0 else {
            throw VaultError(.io, "cannot empty the write-ahead log")
        }
        try FileIO.sync(self.walDescriptor, path: self.layout.writeAheadLog)
        self.walOffset = 0
        // Every journal is written and synced: close them, so thousands of coachees over months
        // do not hold thousands of files open. The next record opens its journal again.
        for journal in self.journals.values { Glibc.close(journal.descriptor) }
        self.journals = [:]
    }

    /// Opens (and repairs) a coachee's journal, creating the coachee when `create` is set.
    /// - Returns: `nil` when the coachee does not exist and `create` is not set.
    func load(_ pseudonym: Pseudonym, create: Bool) throws(VaultError) -> Loaded? {
        let keyPath = self.layout.keyFile(of: pseudonym)
        guard let wrapped = try FileIO.read(keyPath) else {
            guard create else { return nil }
            return try self.create(pseudonym)
        }
        let dataKey = try WrappedKey.unwrap(wrapped, with: self.keys, purpose: self.purpose(of: pseudonym), what: "the data key of coachee \(pseudonym)")
        if let journal = self.journals[pseudonym] {
            try self.writeBuffered(pseudonym)
            return Loaded(dataKey: dataKey, count: journal.count)
        }
        let path = self.layout.journal(of: pseudonym)
        let descriptor = try FileIO.open(path, flags: O_RDWR | O_APPEND, create: 0o600)
        do {
            let count = try self.repair(descriptor, path: path, pseudonym: pseudonym, dataKey: dataKey)
            self.journals[pseudonym] = OpenJournal(descriptor: descriptor, path: path, count: count)
            return Loaded(dataKey: dataKey, count: count)
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    func purpose(of pseudonym: Pseudonym) -> [UInt8] {
        Array("spiegel data key v1".utf8) + pseudonym.bytes
    }

    /// A new coachee: its directory, a wrapped random data key, an empty journal, all synced.
    private func create(_ pseudonym: Pseudonym) throws(VaultError) -> Loaded {
        let directory = self.layout.directory(of: pseudonym)
        try FileIO.makeDirectory(directory)
        let dataKey = SymmetricKey(size: .bits256)
        let wrapped = try WrappedKey.wrap(dataKey, under: self.keys[0], purpose: self.purpose(of: pseudonym))
        let path = self.layout.journal(of: pseudonym)
        let descriptor = try FileIO.open(path, flags: O_RDWR | O_APPEND | O_TRUNC, create: 0o600)
        do {
            try FileIO.write(descriptor, JournalFormat.header, path: path)
            try FileIO.sync(descriptor, path: path)
            // The key last: a directory with a key always has a journal.
            try FileIO.replaceAtomically(self.layout.keyFile(of: pseudonym), with: wrapped, mode: 0o600)
            try FileIO.syncDirectory(self.layout.coachees)
        } catch {
            Glibc.close(descriptor)
            throw error
        }
        self.journals[pseudonym] = OpenJournal(descriptor: descriptor, path: path, count: 0)
        return Loaded(dataKey: dataKey, count: 0)
    }

    /// Cuts off a torn last record (cut short, or zero-filled by a crash); returns the count of
    /// whole records. A whole last record that does not open is corruption, reported.
    private func repair(_ descriptor: Int32, path: String, pseudonym: Pseudonym, dataKey: SymmetricKey) throws(VaultError) -> UInt64 {
        guard let bytes = try FileIO.read(path) else { return 0 }
        let scan = try JournalFormat.scan(bytes, what: "the journal of coachee \(pseudonym)")
        var length = scan.wholeLength
        var frames = scan.frames
        if let last = frames.last {
            do {
                _ = try JournalFormat.open(bytes, frame: last, sequence: UInt64(frames.count - 1), pseudonym: pseudonym, key: dataKey)
            } catch {
                guard bytes[(last.offset + 5)..<(last.offset + last.length)].allSatisfy({ $0 == 0 }) else { throw error }
                frames.removeLast()
                length = last.offset
            }
        }
        if bytes.count < JournalFormat.header.count {
            // Created but never written: start it again.
            guard ftruncate(descriptor, 0) == 0 else { throw VaultError(.io, "cannot repair \(path)") }
            try FileIO.write(descriptor, JournalFormat.header, path: path)
            try FileIO.sync(descriptor, path: path)
            return 0
        }
        if length < bytes.count {
            guard ftruncate(descriptor, off_t(length)) == 0 else { throw VaultError(.io, "cannot cut the torn tail of \(path)") }
            try FileIO.sync(descriptor, path: path)
            self.logger.notice("spiegel.vault.torn_tail_cut", metadata: ["spiegel.coachee": "\(pseudonym)", "spiegel.bytes": "\(bytes.count - length)"])
        }
        return UInt64(frames.count)
    }

    /// Erases a coachee: the wrapped data key first (after that, every copy of the journal, in a
    /// backup or in the log, is unreadable), then the journal and the directory, then the log.
    func erase(_ pseudonym: Pseudonym) throws(VaultError) {
        if let journal = self.journals.removeValue(forKey: pseudonym) { Glibc.close(journal.descriptor) }
        let directory = self.layout.directory(of: pseudonym)
        try FileIO.remove(self.layout.keyFile(of: pseudonym))
        if FileIO.exists(directory) { try FileIO.syncDirectory(directory) }
        try FileIO.remove(self.layout.journal(of: pseudonym))
        for name in try FileIO.list(directory) { try FileIO.remove(directory + "/" + name) }
        if rmdir(directory) != 0 && errno != ENOENT { throw VaultError(.io, "cannot remove \(directory)") }
        try FileIO.syncDirectory(self.layout.coachees)
        try Self.noteErased(pseudonym, in: self.layout)
        try self.checkpoint()
    }

    /// Adds `pseudonym` to the erased list, synced: a backup restored later is cleared of it.
    static func noteErased(_ pseudonym: Pseudonym, in layout: Layout) throws(VaultError) {
        let descriptor = try FileIO.open(layout.erasedList, flags: O_WRONLY | O_APPEND, create: 0o600)
        defer { Glibc.close(descriptor) }
        try FileIO.write(descriptor, Array((pseudonym.hex + "\n").utf8), path: layout.erasedList)
        try FileIO.sync(descriptor, path: layout.erasedList)
    }

    /// Syncs everything and closes every file; the store takes no more work.
    func close() throws(VaultError) {
        if self.failure == nil { try self.checkpoint() }
        for journal in self.journals.values { Glibc.close(journal.descriptor) }
        self.journals = [:]
        Glibc.close(self.walDescriptor)
        self.failure = VaultError(.closed, "the vault is closed")
    }

    // MARK: - Recovery

    /// Finishes erasures a crash interrupted, and copies into the journals what the log holds.
    private func recover() throws(VaultError) {
        for name in try FileIO.list(self.layout.coachees) {
            guard let pseudonym = Pseudonym(hex: name) else { continue }
            if !FileIO.exists(self.layout.keyFile(of: pseudonym)) {
                // No key: an erasure or a creation was cut short. Either way nothing readable is
                // left, and nothing of it was acknowledged.
                try self.erase(pseudonym, withoutCheckpoint: true)
            }
        }
        self.walDescriptor = try FileIO.open(self.layout.writeAheadLog, flags: O_RDWR | O_APPEND, create: 0o600)
        let entries = WriteAheadLog.decode(try FileIO.read(self.layout.writeAheadLog) ?? [])
        var replayed = 0
        for entry in entries {
            let loaded: Loaded?
            do {
                loaded = try self.load(entry.pseudonym, create: false)
            } catch {
                self.logger.error("spiegel.vault.replay_failed", metadata: ["spiegel.coachee": "\(entry.pseudonym)", "spiegel.error": "\(error.code)"])
                continue
            }
            guard let loaded else { continue }  // Erased since: its records are unreadable anyway.
            if entry.sequence == loaded.count {
                try self.write(entry)
                replayed += 1
            } else if entry.sequence > loaded.count {
                self.logger.error("spiegel.vault.replay_gap", metadata: ["spiegel.coachee": "\(entry.pseudonym)", "spiegel.record": "\(entry.sequence)"])
            }
        }
        if replayed > 0 {
            self.logger.notice("spiegel.vault.replayed", metadata: ["spiegel.records": "\(replayed)"])
        }
        try self.checkpoint()
    }

    private func erase(_ pseudonym: Pseudonym, withoutCheckpoint: Bool) throws(VaultError) {
        let directory = self.layout.directory(of: pseudonym)
        for name in try FileIO.list(directory) { try FileIO.remove(directory + "/" + name) }
        if rmdir(directory) != 0 && errno != ENOENT { throw VaultError(.io, "cannot remove \(directory)") }
        try FileIO.syncDirectory(self.layout.coachees)
    }
}

extension JournalStore.OpenJournal {
    /// Takes the next record's frame; its sequence number must be the next one.
    mutating func add(_ entry: WriteAheadLog.Entry) throws(VaultError) {
        guard entry.sequence == self.count else {
            throw VaultError(.corruptJournal, "record \(entry.sequence) of coachee \(entry.pseudonym) does not follow record \(self.count)")
        }
        self.buffered += entry.frame
        self.count += 1
    }
}
