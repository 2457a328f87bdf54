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
///
/// Every write lands whole or not at all: the store numbers and seals records only when it writes
/// them, and cuts a file back to its last whole frame when a write fails half-way, before anything
/// else is written to it. A failed write leaves the store degraded (the next write tries again); a
/// failed sync stops it, as PostgreSQL does since 2018: after one, the kernel may have dropped the
/// pages it could not write, so only a restart that replays the log knows what the disk holds.
/// - Important: the properties marked "queue only" are touched on `queue` alone.
final class JournalStore: @unchecked Sendable {
    struct Layout: Sendable {
        let root: String
        var coachees: String { self.root + "/coachees" }
        /// Spiegel's own journals, apart from the coachees.
        var system: String { self.root + "/system" }
        var writeAheadLog: String { self.root + "/wal" }
        /// The pseudonyms erased so far, one per line (a hex, after `system/` for a system
        /// journal): replayed on a restored backup.
        var erasedList: String { self.root + "/erased" }
        /// The directory holding the journals of `namespace`.
        func parent(_ namespace: Pseudonym.Namespace) -> String { namespace == .system ? self.system : self.coachees }
        func directory(of pseudonym: Pseudonym) -> String { self.parent(pseudonym.namespace) + "/" + pseudonym.hex }
        /// Every journal of `namespace` on disk.
        func pseudonyms(in namespace: Pseudonym.Namespace) throws(VaultError) -> [Pseudonym] {
            guard FileIO.exists(self.parent(namespace)) else { return [] }
            return try FileIO.list(self.parent(namespace)).compactMap { Pseudonym(hex: $0, namespace: namespace) }
        }
        /// Every journal on disk, coachees first.
        func allPseudonyms() throws(VaultError) -> [Pseudonym] {
            try self.pseudonyms(in: .coachee) + self.pseudonyms(in: .system)
        }
        func keyFile(of pseudonym: Pseudonym) -> String { self.directory(of: pseudonym) + "/key" }
        func journal(of pseudonym: Pseudonym) -> String { self.directory(of: pseudonym) + "/journal" }
    }

    /// A coachee's journal as the store has it open: in memory, not as a file (a file is opened
    /// only for a step and closed after it, so thousands of coachees between two checkpoints hold
    /// no descriptors).
    ///
    /// Acknowledged frames wait in `buffered` (they are safe in the synced log) until the journal
    /// is read or checkpointed: one write per coachee then, instead of one per record.
    struct OpenJournal {
        let dataKey: SymmetricKey
        var path: String
        /// Records acknowledged: in the file or in `buffered`.
        var count: UInt64
        /// The bytes of the file that hold whole frames.
        var length: Int
        var buffered: [UInt8] = []
        var isDirty = false
        /// A failed write left bytes past `length` that could not be cut off yet.
        var mustCutBack = false
        /// A new journal's wrapped data key, while the key is in the log only: its files are made
        /// at the next checkpoint (``makeFilesOfNewJournals()``).
        var wrappedKey: [UInt8]?
    }

    /// An open journal's data key and number of records.
    struct Loaded: Sendable {
        let dataKey: SymmetricKey
        let count: UInt64
    }

    /// What ``read(_:)`` gives back: the journal's bytes are in its file, or here while its files
    /// are not made yet.
    struct Readable: Sendable {
        let loaded: Loaded
        let bytes: [UInt8]?

        /// The journal's bytes: from memory, or read from its file at `path`.
        func contents(at path: String) throws(VaultError) -> [UInt8] {
            if let bytes = self.bytes { return bytes }
            return try FileIO.read(path) ?? []
        }
    }

    private struct PendingAppend {
        let pseudonym: Pseudonym
        let records: [NewRecord]
        let completion: @Sendable (Result<[UInt64], VaultError>) -> Void
    }

    /// Appends numbered, sealed and encoded for the log, not written yet.
    private struct SealedBatch {
        /// The log entries of every accepted append, in order.
        var entries: [UInt8] = []
        var accepted: [(append: PendingAppend, frames: [[UInt8]], first: UInt64)] = []
        /// Each journal's record count once this batch is in.
        var counts: [Pseudonym: UInt64] = [:]
        /// The journals this batch makes, each with where its key entry's wrapped key starts in
        /// `entries`.
        var created: [Pseudonym: (journal: OpenJournal, keyOffset: Int)] = [:]
        var isEmpty: Bool { self.accepted.isEmpty }
    }

    /// What writers and the flusher share, under `pending`'s lock.
    private struct Pending {
        var appends: [PendingAppend] = []
        /// A flush runs or is queued: a new append needs no other.
        var isFlushing = false
        /// Operations queued behind the flush (``perform(_:)``): the flush makes way for them.
        var operationsWaiting = 0
        /// The log's sync under way has ended (set by the sync queue).
        var isSyncDone = false
        /// The flusher sleeps on `wake` until an append comes or the sync ends.
        var isFlusherWaiting = false
    }

    let layout: Layout
    let keys: [MasterKey]
    let health = HealthMonitor()
    private let logger: Logger
    private let checkpointBytes: Int
    /// How many journals a checkpoint has open at once (two files each while it makes new ones).
    static let filesAtOnce = 128
    private let queue = DispatchQueue(label: "spiegel.vault")
    /// Where the log's `fdatasync` runs, so the flusher can seal the next batch meanwhile.
    private let syncQueue = DispatchQueue(label: "spiegel.vault.sync")
    private let pending = Mutex(Pending())
    private let wake = DispatchSemaphore(value: 0)
    /// The journals whose files are not made yet (their key is in the log): read from any thread.
    private let inLogOnly = Mutex<Set<Pseudonym>>([])

    // Queue only.
    private var walDescriptor: Int32 = -1
    /// The bytes of the log that hold whole, synced entries.
    private var walOffset = 0
    /// A failed write left bytes past `walOffset` that could not be cut off yet.
    private var walMustCutBack = false
    private var journals: [Pseudonym: OpenJournal] = [:]
    /// The journals whose key entry the log holds, with where its wrapped key starts in the log:
    /// erasing one before the log is emptied overwrites it there.
    private var keysInLog: [Pseudonym: Int] = [:]
    /// Directories of new journals whose key was renamed in but not yet synced: synced before the
    /// log (still holding the key) is emptied.
    private var directoriesToSync: Set<String> = []
    /// The names on the erased list, once read.
    private var listedAsErased: Set<String>?
    /// Set when the store takes no more writes: closed, or a sync failed.
    private var stopped: VaultError?

    /// Opens the log and replays into the journals whatever a crash left only in the log.
    init(layout: Layout, keys: [MasterKey], checkpointBytes: Int, logger: Logger) throws(VaultError) {
        self.layout = layout
        self.keys = keys
        self.checkpointBytes = checkpointBytes
        self.logger = logger
        try self.recover()
    }

    // MARK: - Called from the vault

    /// Queues `records` for the next flush; `completion` runs with their sequence numbers once the
    /// log holding them is synced, or with the error that kept them out of every file.
    /// Records are numbered and written in the order they were queued.
    func enqueue(
        _ records: [NewRecord], for pseudonym: Pseudonym,
        completion: @escaping @Sendable (Result<[UInt64], VaultError>) -> Void
    ) {
        self.enqueue([PendingAppend(pseudonym: pseudonym, records: records, completion: completion)])
    }

    /// Queues appends to several journals for the same flush (one sync of the log).
    func enqueue(_ appends: [(records: [NewRecord], pseudonym: Pseudonym, completion: @Sendable (Result<[UInt64], VaultError>) -> Void)]) {
        self.enqueue(appends.map { PendingAppend(pseudonym: $0.pseudonym, records: $0.records, completion: $0.completion) })
    }

    private func enqueue(_ appends: [PendingAppend]) {
        guard !appends.isEmpty else { return }
        let (mustStart, mustWake) = self.pending.withLock { pending in
            pending.appends += appends
            let mustStart = !pending.isFlushing
            pending.isFlushing = true
            defer { pending.isFlusherWaiting = false }
            return (mustStart, pending.isFlusherWaiting)
        }
        // Outside the lock: waking a thread takes a while, and the flusher and every other
        // writer wait for the lock meanwhile.
        if mustStart { self.queue.async { self.flush() } }
        if mustWake { self.wake.signal() }
    }

    /// Runs `body` on the queue, after every append and operation submitted before it. An I/O
    /// error it throws leaves the store degraded.
    func perform<Result: Sendable>(_ body: @escaping @Sendable (JournalStore) throws(VaultError) -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            self.submit {
                do throws(VaultError) {
                    continuation.resume(returning: try body(self))
                } catch {
                    self.noteFailure(error, during: "an operation")
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Runs `work` on the queue; a flush under way makes way for it. Counted and queued under the
    /// lock, so a flush that sees the count has taken every append submitted before, and any
    /// flush it queues after comes after `work`.
    private func submit(_ work: @escaping @Sendable () -> Void) {
        self.pending.withLock { pending in
            pending.operationsWaiting += 1
            self.queue.async {
                self.pending.withLock { $0.operationsWaiting -= 1 }
                work()
            }
        }
    }

    /// Tries again what a failure left undone (cutting files back, the checkpoint); the store is
    /// healthy again when that works. Nothing happens when it is healthy or stopped.
    func retry() throws(VaultError) {
        guard self.stopped == nil, case .degraded = self.health.current else { return }
        do {
            try self.cutBackWriteAheadLogIfNeeded()
            try self.checkpoint()
        } catch {
            self.noteFailure(error, during: "a retry")
            throw error
        }
        self.noteHealthy()
    }

    // MARK: - Queue only

    /// Writes and syncs what waits, batch after batch, until nothing waits or an operation does.
    ///
    /// While the log syncs a batch of several appends (on `syncQueue`), the appends that come
    /// meanwhile are numbered and sealed: the CPU's part of the next batch overlaps the disk's part
    /// of this one. A batch of one (a writer alone) is synced here, without the hand-off.
    /// A batch is written only once the one before is synced, so the log holds them in order; a
    /// failed sync stops the store, and the batch sealed meanwhile fails with it.
    private func flush() {
        var current = SealedBatch()
        var makesWay = false
        while true {
            if current.isEmpty {
                guard let batch = self.take(makingWay: &makesWay) else { return }
                current = self.seal(batch, after: SealedBatch(), into: SealedBatch())
                continue
            }
            guard self.write(current) else {
                current = SealedBatch()
                continue
            }
            guard current.accepted.count > 1 else {
                // One writer alone: nothing to seal meanwhile, and the hand-off to the sync
                // queue would only add to its wait.
                do throws(VaultError) {
                    try FileIO.sync(self.walDescriptor, path: self.layout.writeAheadLog)
                } catch {
                    self.stop(after: error, during: "syncing the write-ahead log")
                    self.noteKeysMaybeInLog(current)
                    for item in current.accepted { item.append.completion(.failure(error)) }
                    current = SealedBatch()
                    continue
                }
                self.apply(current, keeping: SealedBatch())
                current = SealedBatch()
                continue
            }
            self.pending.withLock { $0.isSyncDone = false }
            let (descriptor, path) = (self.walDescriptor, self.layout.writeAheadLog)
            let syncFailure = Mutex<VaultError?>(nil)
            self.syncQueue.async {
                do throws(VaultError) {
                    try FileIO.sync(descriptor, path: path)
                } catch {
                    syncFailure.withLock { $0 = error }
                }
                let mustWake = self.pending.withLock { pending in
                    pending.isSyncDone = true
                    defer { pending.isFlusherWaiting = false }
                    return pending.isFlusherWaiting
                }
                if mustWake { self.wake.signal() }
            }
            var next = SealedBatch()
            while let batch = self.takeWhileSyncing(makingWay: &makesWay) {
                next = self.seal(batch, after: current, into: next)
            }
            if let error = syncFailure.withLock({ $0 }) {
                self.stop(after: error, during: "syncing the write-ahead log")
                self.noteKeysMaybeInLog(current)
                for item in current.accepted { item.append.completion(.failure(error)) }
                for item in next.accepted { item.append.completion(.failure(self.stopped ?? error)) }
                current = SealedBatch()
                continue
            }
            self.apply(current, keeping: next)
            current = next
        }
    }

    /// The appends waiting, or `nil` when the flush ends: nothing waits (the next append starts
    /// another), or the flush has made way for an operation (and queued another behind it).
    private func take(makingWay makesWay: inout Bool) -> [PendingAppend]? {
        self.pending.withLock { pending -> [PendingAppend]? in
            if pending.appends.isEmpty {
                pending.isFlushing = false
                return nil
            }
            if makesWay {
                // Every append submitted before the operation is in; the rest come after it.
                self.queue.async { self.flush() }
                return nil
            }
            makesWay = pending.operationsWaiting > 0
            defer { pending.appends = [] }
            return pending.appends
        }
    }

    /// The appends that came while the log syncs, as they come; `nil` once the sync has ended.
    private func takeWhileSyncing(makingWay makesWay: inout Bool) -> [PendingAppend]? {
        while true {
            let batch = self.pending.withLock { pending -> [PendingAppend]?? in
                if pending.isSyncDone { return .some(nil) }
                if !makesWay && !pending.appends.isEmpty {
                    makesWay = pending.operationsWaiting > 0
                    defer { pending.appends = [] }
                    return .some(pending.appends)
                }
                pending.isFlusherWaiting = true
                return nil
            }
            guard let batch else {
                self.wake.wait()
                continue
            }
            return batch
        }
    }

    /// Numbers and seals `batch` after the records of `previous` (sealed, not yet written) and of
    /// `sealed`. An append that cannot be (its coachee erased meanwhile, its journal not opening)
    /// fails alone.
    private func seal(_ batch: [PendingAppend], after previous: SealedBatch, into sealed: SealedBatch) -> SealedBatch {
        var sealed = sealed
        if let stopped = self.stopped {
            for append in batch { append.completion(.failure(stopped)) }
            return sealed
        }
        var nonces: NonceBatch
        do throws(VaultError) {
            nonces = try NonceBatch(count: batch.reduce(0) { $0 + $1.records.count })
        } catch {
            self.noteFailure(error, during: "drawing nonces")
            for append in batch { append.completion(.failure(error)) }
            return sealed
        }
        for append in batch {
            do throws(VaultError) {
                let pseudonym = append.pseudonym
                let first: UInt64
                // The key of the journal as it is now: a coachee erased and made again since the
                // append was queued has a new one.
                let dataKey: SymmetricKey
                if let known = sealed.counts[pseudonym] ?? previous.counts[pseudonym] {
                    first = known
                    dataKey = (sealed.created[pseudonym]?.journal ?? previous.created[pseudonym]?.journal ?? self.journals[pseudonym])!.dataKey
                } else if let open = try self.opened(pseudonym) {
                    (first, dataKey) = (open.count, open.dataKey)
                } else {
                    // A new journal: its key goes into the log before its first records.
                    let journal = try self.newJournal(pseudonym)
                    sealed.created[pseudonym] = (journal, sealed.entries.count + WriteAheadLog.wrappedKeyOffset)
                    WriteAheadLog.encode(.key(journal.wrappedKey!, of: pseudonym), into: &sealed.entries)
                    (first, dataKey) = (0, journal.dataKey)
                }
                var frames: [[UInt8]] = []
                for (offset, record) in append.records.enumerated() {
                    let sequence = first + UInt64(offset)
                    let frame = try JournalFormat.seal(record, sequence: sequence, pseudonym: pseudonym, key: dataKey, nonce: nonces.next())
                    WriteAheadLog.encode(.init(pseudonym: pseudonym, sequence: sequence, frame: frame), into: &sealed.entries)
                    frames.append(frame)
                }
                sealed.counts[pseudonym] = first + UInt64(frames.count)
                sealed.accepted.append((append, frames, first))
            } catch {
                if error.code == .io { self.noteFailure(error, during: "opening a journal") }
                append.completion(.failure(error))
            }
        }
        return sealed
    }

    /// Writes a sealed batch to the log (not synced); on failure its appends fail and the log is
    /// cut back to its last synced entry.
    private func write(_ batch: SealedBatch) -> Bool {
        do throws(VaultError) {
            if let stopped = self.stopped { throw stopped }
            try self.cutBackWriteAheadLogIfNeeded()
        } catch {
            self.noteFailure(error, during: "cutting back the write-ahead log")
            for item in batch.accepted { item.append.completion(.failure(error)) }
            return false
        }
        do throws(VaultError) {
            try FileIO.write(self.walDescriptor, batch.entries, path: self.layout.writeAheadLog)
        } catch {
            self.cutBackWriteAheadLog()
            self.noteFailure(error, during: "writing the write-ahead log")
            for item in batch.accepted { item.append.completion(.failure(error)) }
            return false
        }
        return true
    }

    /// After a failed sync, the log may hold the keys of the batch's new journals, though none was
    /// acknowledged: an erasure before the restart overwrites them too.
    private func noteKeysMaybeInLog(_ batch: SealedBatch) {
        for (pseudonym, created) in batch.created { self.keysInLog[pseudonym] = self.walOffset + created.keyOffset }
    }

    /// Takes a synced batch into its journals (in memory; on disk at the next checkpoint) and
    /// tells its writers. The journals of `next`, sealed meanwhile, stay in memory through a checkpoint.
    private func apply(_ batch: SealedBatch, keeping next: SealedBatch) {
        for (pseudonym, created) in batch.created {
            self.journals[pseudonym] = created.journal
            self.keysInLog[pseudonym] = self.walOffset + created.keyOffset
        }
        if !batch.created.isEmpty { self.inLogOnly.withLock { $0.formUnion(batch.created.keys) } }
        self.walOffset += batch.entries.count
        for item in batch.accepted { self.journals[item.append.pseudonym]!.add(item.frames) }
        // The health first, so a writer that is told its records are safe sees it up to date.
        if self.walOffset >= self.checkpointBytes {
            do throws(VaultError) {
                try self.checkpoint(keeping: Set(next.counts.keys))
                self.noteHealthy()
            } catch {
                // The log still holds every record: nothing is lost, the next flush tries again.
                self.noteFailure(error, during: "the checkpoint")
            }
        } else if !self.walMustCutBack {
            self.noteHealthy()
        }
        for item in batch.accepted {
            item.append.completion(.success((0..<UInt64(item.frames.count)).map { item.first + $0 }))
        }
    }

    /// A journal's key and number of records, opening it if a checkpoint closed it; `nil` when
    /// the journal does not exist.
    private func opened(_ pseudonym: Pseudonym) throws(VaultError) -> Loaded? {
        if let journal = self.journals[pseudonym] { return Loaded(dataKey: journal.dataKey, count: journal.count) }
        return try self.openFromDisk(pseudonym)
    }

    /// A new journal, in memory: a random data key, wrapped for the log.
    private func newJournal(_ pseudonym: Pseudonym) throws(VaultError) -> OpenJournal {
        let dataKey = SymmetricKey(size: .bits256)
        let wrapped = try WrappedKey.wrap(dataKey, under: self.keys[0], purpose: self.purpose(of: pseudonym))
        return OpenJournal(
            dataKey: dataKey, path: self.layout.journal(of: pseudonym), count: 0, length: JournalFormat.header.count, wrappedKey: wrapped
        )
    }

    /// Cuts the log back to its last synced entry after a failed write, and syncs that, so a later
    /// entry never follows the remains of one that was refused. When the cut fails it is tried
    /// again before the next write; when its sync fails the store stops.
    private func cutBackWriteAheadLog() {
        do throws(VaultError) {
            try FileIO.truncate(self.walDescriptor, to: self.walOffset, path: self.layout.writeAheadLog)
        } catch {
            self.walMustCutBack = true
            return
        }
        self.walMustCutBack = false
        do throws(VaultError) {
            try FileIO.sync(self.walDescriptor, path: self.layout.writeAheadLog)
        } catch {
            self.stop(after: error, during: "syncing the cut-back write-ahead log")
        }
    }

    private func cutBackWriteAheadLogIfNeeded() throws(VaultError) {
        guard self.walMustCutBack else { return }
        self.cutBackWriteAheadLog()
        if let stopped = self.stopped { throw stopped }
        if self.walMustCutBack { throw VaultError(.io, "cannot cut back the write-ahead log") }
    }

    /// Writes what waits in memory for `pseudonym`'s journal to the file (not synced). A write
    /// that fails is cut off the file before the error is thrown (or before the next write, when
    /// the cut fails too); what was buffered stays buffered.
    private func writeBuffered(_ pseudonym: Pseudonym) throws(VaultError) {
        guard let journal = self.journals[pseudonym], journal.wrappedKey == nil, journal.mustCutBack || !journal.buffered.isEmpty else { return }
        let descriptor = try FileIO.open(journal.path, flags: O_RDWR | O_APPEND)
        defer { Glibc.close(descriptor) }
        try self.writeBuffered(pseudonym, to: descriptor)
    }

    /// The same, to the journal's file open at `descriptor`.
    private func writeBuffered(_ pseudonym: Pseudonym, to descriptor: Int32) throws(VaultError) {
        guard let journal = self.journals[pseudonym], journal.wrappedKey == nil else { return }
        if journal.mustCutBack {
            try FileIO.truncate(descriptor, to: journal.length, path: journal.path)
            self.journals[pseudonym]?.mustCutBack = false
        }
        guard !journal.buffered.isEmpty else { return }
        do throws(VaultError) {
            try FileIO.write(descriptor, journal.buffered, path: journal.path)
        } catch {
            do throws(VaultError) {
                try FileIO.truncate(descriptor, to: journal.length, path: journal.path)
            } catch {
                self.journals[pseudonym]?.mustCutBack = true
            }
            throw error
        }
        self.journals[pseudonym]?.length += journal.buffered.count
        self.journals[pseudonym]?.buffered = []
        self.journals[pseudonym]?.isDirty = true
    }

    /// Writes and syncs every journal changed since the last checkpoint, then empties the log and
    /// forgets the journals but those `kept`. A failed write leaves the log as it was (it still
    /// holds every record); a failed sync stops the store.
    ///
    /// Files are opened ``filesAtOnce`` journals at a time and closed before the next ones, so a
    /// checkpoint after thousands of coachees wrote needs no more descriptors than after a few.
    func checkpoint(keeping kept: Set<Pseudonym> = []) throws(VaultError) {
        if let stopped = self.stopped { throw stopped }
        try self.makeFilesOfNewJournals()
        let changed = self.journals.filter { $0.value.wrappedKey == nil && ($0.value.isDirty || $0.value.mustCutBack || !$0.value.buffered.isEmpty) }
            .keys.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        for start in stride(from: 0, to: changed.count, by: Self.filesAtOnce) {
            let group = changed[start..<min(changed.count, start + Self.filesAtOnce)]
            var opened: [(pseudonym: Pseudonym, descriptor: Int32, path: String)] = []
            defer { for file in opened { Glibc.close(file.descriptor) } }
            for pseudonym in group {
                let path = self.layout.journal(of: pseudonym)
                opened.append((pseudonym, try FileIO.open(path, flags: O_RDWR | O_APPEND), path))
                try self.writeBuffered(pseudonym, to: opened[opened.count - 1].descriptor)
            }
            do throws(VaultError) {
                try FileIO.syncAll(opened.map { ($0.descriptor, $0.path) })
            } catch {
                self.stop(after: error, during: "syncing a journal")
                throw error
            }
            for file in opened { self.journals[file.pseudonym]?.isDirty = false }
        }
        try FileIO.truncate(self.walDescriptor, to: 0, path: self.layout.writeAheadLog)
        self.walOffset = 0
        self.walMustCutBack = false
        self.keysInLog = [:]
        do throws(VaultError) {
            try FileIO.sync(self.walDescriptor, path: self.layout.writeAheadLog)
        } catch {
            self.stop(after: error, during: "syncing the emptied write-ahead log")
            throw error
        }
        // Every journal is written and synced: forget them, so thousands of coachees over months
        // are not kept in memory. The next record reads its journal's state again.
        self.journals = kept.isEmpty ? [:] : self.journals.filter { kept.contains($0.key) }
    }

    // MARK: - Health

    private func noteFailure(_ error: VaultError, during step: String) {
        guard error.code == .io, self.stopped == nil else { return }
        let reason = Self.reason(error, during: step)
        if self.health.set(.degraded(reason: reason)) != nil {
            self.logger.error("spiegel.vault.degraded", metadata: ["spiegel.reason": "\(reason)"])
        }
    }

    private func noteHealthy() {
        guard self.stopped == nil, let previous = self.health.set(.healthy) else { return }
        if case .degraded = previous { self.logger.notice("spiegel.vault.recovered") }
    }

    /// Takes no more writes: what the disk holds after a failed sync is known only after a restart.
    private func stop(after error: VaultError, during step: String) {
        let reason = Self.reason(error, during: step)
        self.stopped = VaultError(.closed, "the vault stopped taking writes after a failed sync (\(reason)); restart Spiegel", systemError: error.systemError)
        self.health.set(.failed(reason: reason))
        self.logger.critical("spiegel.vault.failed", metadata: ["spiegel.reason": "\(reason)"])
    }

    /// "writing the write-ahead log: No space left on device": the step and the system's words,
    /// no path (paths carry pseudonyms).
    private static func reason(_ error: VaultError, during step: String) -> String {
        guard let number = error.systemError else { return "\(step) failed" }
        return "\(step): \(String(cString: strerror(number)))"
    }

    /// Opens (and repairs) a journal whose files exist; `nil` when they do not.
    private func openFromDisk(_ pseudonym: Pseudonym) throws(VaultError) -> Loaded? {
        guard let wrapped = try FileIO.read(self.layout.keyFile(of: pseudonym)) else { return nil }
        let dataKey = try WrappedKey.unwrap(wrapped, with: self.keys, purpose: self.purpose(of: pseudonym), what: "the data key of coachee \(pseudonym)")
        let path = self.layout.journal(of: pseudonym)
        let descriptor = try FileIO.open(path, flags: O_RDWR | O_APPEND, create: 0o600)
        defer { Glibc.close(descriptor) }
        let (count, length) = try self.repair(descriptor, path: path, pseudonym: pseudonym, dataKey: dataKey)
        self.journals[pseudonym] = OpenJournal(dataKey: dataKey, path: path, count: count, length: length)
        return Loaded(dataKey: dataKey, count: count)
    }

    /// A journal to read: its file holds every acknowledged record (what waited is written), or,
    /// while its files are not made, its bytes come from memory. `nil` when it does not exist.
    func read(_ pseudonym: Pseudonym) throws(VaultError) -> Readable? {
        guard let loaded = try self.opened(pseudonym) else { return nil }
        if let journal = self.journals[pseudonym], journal.wrappedKey != nil {
            return Readable(loaded: loaded, bytes: JournalFormat.header + journal.buffered)
        }
        try self.writeBuffered(pseudonym)
        return Readable(loaded: loaded, bytes: nil)
    }

    /// Every journal of `namespace`: those with files, and those whose key is in the log only.
    /// From any thread.
    func pseudonyms(in namespace: Pseudonym.Namespace) throws(VaultError) -> [Pseudonym] {
        // The log's first: a journal whose files are made meanwhile is on disk by then.
        let inLog = self.inLogOnly.withLock { $0.filter { $0.namespace == namespace } }
        let onDisk = try self.layout.pseudonyms(in: namespace)
        return onDisk + inLog.subtracting(onDisk).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// Whether a journal exists: its files, or its key in the log. From any thread.
    func exists(_ pseudonym: Pseudonym) -> Bool {
        self.inLogOnly.withLock { $0.contains(pseudonym) } || FileIO.exists(self.layout.keyFile(of: pseudonym))
    }

    func purpose(of pseudonym: Pseudonym) -> [UInt8] {
        Array("spiegel data key v1".utf8) + pseudonym.bytes
    }

    /// Makes the files of the journals whose key is in the log only, before the log is emptied,
    /// ``filesAtOnce`` journals at a time: each journal written whole and its wrapped key beside it
    /// (a temporary file), the group synced side by side and closed, its keys renamed in; then the
    /// directories synced, with those a failed step left.
    ///
    /// A crash at any point leaves a directory without a key (finished off at the next open) or a
    /// journal made whole, and the log still holds the key and the records either way.
    private func makeFilesOfNewJournals() throws(VaultError) {
        let files = self.journals.filter { $0.value.wrappedKey != nil }
            .sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
            .map { pseudonym, journal in
                NewJournalFiles(
                    pseudonym: pseudonym, directory: self.layout.directory(of: pseudonym), journal: journal.path,
                    key: self.layout.keyFile(of: pseudonym) + ".tmp", contents: JournalFormat.header + journal.buffered,
                    wrappedKey: journal.wrappedKey!
                )
            }
        var renameFailure: VaultError?
        for start in stride(from: 0, to: files.count, by: Self.filesAtOnce) {
            let group = Array(files[start..<min(files.count, start + Self.filesAtOnce)])
            if let failure = try self.makeFiles(of: group) { renameFailure = renameFailure ?? failure }
        }
        if !self.directoriesToSync.isEmpty {
            let paths = self.directoriesToSync.sorted()
            for start in stride(from: 0, to: paths.count, by: Self.filesAtOnce) {
                let directories = try FileIO.openDirectories(Array(paths[start..<min(paths.count, start + Self.filesAtOnce)]))
                defer { for directory in directories { Glibc.close(directory.descriptor) } }
                do throws(VaultError) {
                    try FileIO.syncAll(directories, full: true)
                } catch {
                    self.stop(after: error, during: "syncing a new journal's directory")
                    throw error
                }
            }
            self.directoriesToSync = []
        }
        if let renameFailure { throw renameFailure }
    }

    /// Makes the files of `group` (side by side), syncs them, closes them and renames their keys
    /// in; their directories wait in `directoriesToSync`. Returns the first rename that failed.
    private func makeFiles(of group: [NewJournalFiles]) throws(VaultError) -> VaultError? {
        var written: [(files: NewJournalFiles, journal: Int32, key: Int32)] = []
        func discardWritten() {
            for file in written {
                Glibc.close(file.journal)
                Glibc.close(file.key)
                unlink(file.files.key)
            }
        }
        // Side by side: ext4 looks for a free inode for each of the three (skipping those freed in
        // the last minutes), which took up to 2 ms a journal, while every append waits here.
        let results = FileIO.concurrently(group.count, width: 4) { index throws(VaultError) in try group[index].make() }
        var failure: VaultError?
        for (file, result) in zip(group, results) {
            switch result {
            case .success(let descriptors): written.append((file, descriptors.journal, descriptors.key))
            case .failure(let error): failure = failure ?? error
            }
        }
        if let failure {
            discardWritten()
            throw failure
        }
        do throws(VaultError) {
            try FileIO.syncAll(written.flatMap { [($0.journal, $0.files.journal), ($0.key, $0.files.key)] })
        } catch {
            discardWritten()
            self.stop(after: error, during: "syncing a new journal")
            throw error
        }
        var renameFailure: VaultError?
        var made: [Pseudonym] = []
        for file in written {
            Glibc.close(file.key)
            Glibc.close(file.journal)
            let pseudonym = file.files.pseudonym
            do throws(VaultError) {
                try FileIO.rename(file.files.key, to: self.layout.keyFile(of: pseudonym))
            } catch {
                unlink(file.files.key)
                renameFailure = renameFailure ?? error
                continue
            }
            self.journals[pseudonym]!.length = file.files.contents.count
            self.journals[pseudonym]!.buffered = []
            self.journals[pseudonym]!.wrappedKey = nil
            self.directoriesToSync.insert(file.files.directory)
            self.directoriesToSync.insert(self.layout.parent(pseudonym.namespace))
            made.append(pseudonym)
        }
        if !made.isEmpty { self.inLogOnly.withLock { $0.subtract(made) } }
        return renameFailure
    }

    /// Cuts off a torn last record (cut short, or zero-filled by a crash); returns the count of
    /// whole records and the length they take. A whole last record that does not open is
    /// corruption, reported.
    private func repair(_ descriptor: Int32, path: String, pseudonym: Pseudonym, dataKey: SymmetricKey) throws(VaultError) -> (UInt64, Int) {
        guard let bytes = try FileIO.read(path) else { throw VaultError(.io, "\(path) vanished while it was opened") }
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
            try FileIO.truncate(descriptor, to: 0, path: path)
            try FileIO.write(descriptor, JournalFormat.header, path: path)
            try FileIO.sync(descriptor, path: path)
            return (0, JournalFormat.header.count)
        }
        if length < bytes.count {
            try FileIO.truncate(descriptor, to: length, path: path)
            try FileIO.sync(descriptor, path: path)
            self.logger.notice("spiegel.vault.torn_tail_cut", metadata: ["spiegel.coachee": "\(pseudonym)", "spiegel.bytes": "\(bytes.count - length)"])
        }
        return (UInt64(frames.count), length)
    }

    /// Erases a journal: the wrapped data key first (after that, every copy of the journal, in a
    /// backup or in the log, is unreadable), then the journal and the directory, then, for a
    /// coachee, the log.
    ///
    /// A journal made since the log was last emptied has its key there too: that copy is
    /// overwritten in place, synced, before the files go.
    func erase(_ pseudonym: Pseudonym) throws(VaultError) {
        self.journals[pseudonym] = nil
        self.inLogOnly.withLock { _ = $0.remove(pseudonym) }
        if let offset = self.keysInLog.removeValue(forKey: pseudonym) {
            try self.shredKeyInLog(at: offset)
        }
        let directory = self.layout.directory(of: pseudonym)
        if FileIO.exists(directory) {
            try FileIO.remove(self.layout.keyFile(of: pseudonym))
            try FileIO.syncDirectory(directory)
            try FileIO.remove(self.layout.journal(of: pseudonym))
            for name in try FileIO.list(directory) { try FileIO.remove(directory + "/" + name) }
            if rmdir(directory) != 0 && errno != ENOENT { throw VaultError(.io, "cannot remove \(directory)") }
            try FileIO.syncDirectory(self.layout.parent(pseudonym.namespace))
        }
        try self.noteErasedOnce(pseudonym)
        // The log's copies are unreadable already (the key is gone). A system journal is erased
        // as compaction, an outbox each time it empties: its copies wait for the next checkpoint,
        // or each delivered reply would cost one (every journal synced, new ones' files made).
        // A coachee's copies leave the log at once (at the next checkpoint if the disk refuses now).
        guard pseudonym.namespace == .coachee else { return }
        do throws(VaultError) {
            try self.checkpoint()
        } catch {
            self.noteFailure(error, during: "the checkpoint after an erasure")
        }
    }

    /// Overwrites with zeros, synced, the wrapped key that starts at `offset` in the log. The entry
    /// keeps its length, so the entries after it still read; at a replay, a key that is no wrapped
    /// key is a journal erased.
    private func shredKeyInLog(at offset: Int) throws(VaultError) {
        let path = self.layout.writeAheadLog
        // Not the log's own descriptor: with `O_APPEND`, Linux writes at the end whatever the offset.
        let descriptor = try FileIO.open(path, flags: O_WRONLY)
        defer { Glibc.close(descriptor) }
        try FileIO.write(descriptor, [UInt8](repeating: 0, count: WrappedKey.size), at: offset, path: path)
        do throws(VaultError) {
            try FileIO.sync(descriptor, path: path)
        } catch {
            self.stop(after: error, during: "syncing the write-ahead log")
            throw error
        }
    }

    /// Lists `pseudonym` as erased unless it is listed already (an outbox's journal, erased
    /// whenever it empties, is listed once).
    private func noteErasedOnce(_ pseudonym: Pseudonym) throws(VaultError) {
        if self.listedAsErased == nil { self.listedAsErased = Set(try VaultBackup.erasedList(of: self.layout.root)) }
        guard self.listedAsErased?.contains(pseudonym.erasedListName) == false else { return }
        try Self.noteErased(pseudonym, in: self.layout)
        self.listedAsErased?.insert(pseudonym.erasedListName)
    }

    /// Adds `pseudonym` to the erased list, synced: a backup restored later is cleared of it.
    static func noteErased(_ pseudonym: Pseudonym, in layout: Layout) throws(VaultError) {
        let descriptor = try FileIO.open(layout.erasedList, flags: O_WRONLY | O_APPEND, create: 0o600)
        defer { Glibc.close(descriptor) }
        try FileIO.write(descriptor, Array((pseudonym.erasedListName + "\n").utf8), path: layout.erasedList)
        try FileIO.sync(descriptor, path: layout.erasedList)
    }

    /// Syncs everything and closes every file; the store takes no more work.
    func close() throws(VaultError) {
        defer {
            self.journals = [:]
            Glibc.close(self.walDescriptor)
            self.stopped = VaultError(.closed, "the vault is closed")
        }
        if self.stopped == nil {
            try self.cutBackWriteAheadLogIfNeeded()
            try self.checkpoint()
        }
    }

    // MARK: - Recovery

    /// Finishes erasures a crash interrupted, and copies into the journals what the log holds.
    private func recover() throws(VaultError) {
        for pseudonym in try self.layout.allPseudonyms() {
            if !FileIO.exists(self.layout.keyFile(of: pseudonym)) {
                // No key: an erasure, or the making of a new journal's files, was cut short.
                // Nothing readable is left here; a new journal's acknowledged records and key are
                // still in the log, and the replay below makes it again.
                try self.erase(pseudonym, withoutCheckpoint: true)
            }
        }
        self.walDescriptor = try FileIO.open(self.layout.writeAheadLog, flags: O_RDWR | O_APPEND, create: 0o600)
        let entries = WriteAheadLog.decode(try FileIO.read(self.layout.writeAheadLog) ?? [])
        var replayed = 0
        for (offset, entry) in entries {
            if entry.kind == .key {
                self.replayKey(entry, at: offset)
                continue
            }
            let loaded: Loaded?
            do {
                loaded = try self.opened(entry.pseudonym)
            } catch {
                self.logger.error("spiegel.vault.replay_failed", metadata: ["spiegel.coachee": "\(entry.pseudonym)", "spiegel.error": "\(error.code)"])
                continue
            }
            guard let loaded else { continue }  // Erased since: its records are unreadable anyway.
            if entry.sequence == loaded.count {
                // An entry of a coachee erased (the log not emptied after it) and made again
                // since does not open under the new key: it belongs to no journal now.
                let frame = (offset: 0, length: entry.frame.count, type: entry.frame.count > 4 ? entry.frame[4] : 0)
                guard (try? JournalFormat.open(entry.frame, frame: frame, sequence: entry.sequence, pseudonym: entry.pseudonym, key: loaded.dataKey)) != nil else {
                    self.logger.notice("spiegel.vault.replay_skipped_erased", metadata: ["spiegel.coachee": "\(entry.pseudonym)"])
                    continue
                }
                self.journals[entry.pseudonym]!.add([entry.frame])
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

    /// A new journal's key, found in the log: the journal again in memory (its records follow),
    /// unless its files were made before the crash, or an erasure overwrote the key.
    private func replayKey(_ entry: WriteAheadLog.Entry, at offset: Int) {
        let pseudonym = entry.pseudonym
        guard !FileIO.exists(self.layout.keyFile(of: pseudonym)) else { return }
        // A journal made from an earlier key, erased since: its successor replaces it.
        self.journals[pseudonym] = nil
        self.inLogOnly.withLock { _ = $0.remove(pseudonym) }
        self.keysInLog[pseudonym] = nil
        guard WrappedKey.masterIdentifier(of: entry.wrappedKey) != nil else {
            self.logger.notice("spiegel.vault.replay_skipped_erased", metadata: ["spiegel.coachee": "\(pseudonym)"])
            return
        }
        let dataKey: SymmetricKey
        do throws(VaultError) {
            dataKey = try WrappedKey.unwrap(entry.wrappedKey, with: self.keys, purpose: self.purpose(of: pseudonym), what: "the data key of coachee \(pseudonym) in the write-ahead log")
        } catch {
            self.logger.error("spiegel.vault.replay_failed", metadata: ["spiegel.coachee": "\(pseudonym)", "spiegel.error": "\(error.code)"])
            return
        }
        self.journals[pseudonym] = OpenJournal(
            dataKey: dataKey, path: self.layout.journal(of: pseudonym), count: 0, length: JournalFormat.header.count, wrappedKey: entry.wrappedKey
        )
        self.keysInLog[pseudonym] = offset + WriteAheadLog.wrappedKeyOffset
        self.inLogOnly.withLock { _ = $0.insert(pseudonym) }
    }

    private func erase(_ pseudonym: Pseudonym, withoutCheckpoint: Bool) throws(VaultError) {
        let directory = self.layout.directory(of: pseudonym)
        for name in try FileIO.list(directory) { try FileIO.remove(directory + "/" + name) }
        if rmdir(directory) != 0 && errno != ENOENT { throw VaultError(.io, "cannot remove \(directory)") }
        try FileIO.syncDirectory(self.layout.parent(pseudonym.namespace))
    }
}

extension JournalStore.OpenJournal {
    /// Takes the next records' frames, numbered from `count` on.
    mutating func add(_ frames: [[UInt8]]) {
        for frame in frames { self.buffered += frame }
        self.count += UInt64(frames.count)
    }
}

/// The files of one new journal, made at a checkpoint from any thread: its directory, the journal
/// written whole, and its wrapped key in a temporary file beside it (neither synced).
private struct NewJournalFiles: Sendable {
    let pseudonym: Pseudonym
    let directory: String
    let journal: String
    let key: String
    let contents: [UInt8]
    let wrappedKey: [UInt8]

    /// Makes the files; returns their open descriptors. What fails leaves no temporary key.
    func make() throws(VaultError) -> (journal: Int32, key: Int32) {
        try FileIO.makeDirectory(self.directory)
        let descriptor = try FileIO.open(self.journal, flags: O_RDWR | O_APPEND | O_TRUNC, create: 0o600)
        var keyDescriptor: Int32 = -1
        do {
            try FileIO.write(descriptor, self.contents, path: self.journal)
            keyDescriptor = try FileIO.open(self.key, flags: O_WRONLY | O_TRUNC, create: 0o600)
            try FileIO.write(keyDescriptor, self.wrappedKey, path: self.key)
        } catch {
            Glibc.close(descriptor)
            if keyDescriptor >= 0 {
                Glibc.close(keyDescriptor)
                unlink(self.key)
            }
            throw error
        }
        return (descriptor, keyDescriptor)
    }
}
