import Crypto
public import Foundation
import Glibc
public import Logging
import Synchronization

/// Where the vault lives and how it behaves.
public struct VaultConfiguration: Sendable {
    /// The vault's directory (created with mode 0700): `naming.key`, `wal`, `coachees/`,
    /// `system/`.
    public var directory: String
    /// How many bytes the write-ahead log may hold before the journals are synced and it is emptied.
    public var checkpointBytes: Int

    public init(directory: String, checkpointBytes: Int = 16 << 20) {
        self.directory = directory
        self.checkpointBytes = checkpointBytes
    }
}

/// Every coachee's conversation, encrypted on disk: one journal per coachee, under a data key of
/// its own, wrapped by the master key.
///
/// - `append` returns only when the records are on disk: in the write-ahead log, synced, shared by
///   every writer of the moment (group commit). They reach the coachee's journal at the next
///   checkpoint; a new coachee's wrapped data key goes into the log with their first records, and
///   their files are made at that checkpoint too.
/// - A directory listing shows pseudonyms only (HMAC-SHA256 of the chat user id under the vault's
///   naming key, which is wrapped by the master key like every data key).
/// - Erasure destroys the wrapped data key first: copies of the journal in backups become unreadable.
/// - Nothing it writes holds plaintext; its errors and logs name coachees by pseudonym only.
public final class Vault: Sendable {
    private let store: JournalStore
    private let namingKey: SymmetricKey
    /// An exclusive `flock` on `<vault>/lock`, held while the vault is open: one process at a time.
    private let lockDescriptor: Mutex<Int32>
    /// Pseudonyms already worked out: an HMAC per append cost a twentieth of the vault's time with
    /// many writers. Bounded; an erased coachee's entry goes with them (hence both directions).
    private let pseudonyms = Mutex<(byCoachee: [CoacheeID: Pseudonym], byPseudonym: [Pseudonym: CoacheeID])>(([:], [:]))
    private static let pseudonymCacheLimit = 65_536
    /// The same for system journals (an outbox's is named with every reply and every mark).
    private let systemPseudonyms = Mutex<[SystemJournalID: Pseudonym]>([:])
    /// Told the pseudonym of every coachee erased (see ``onErasure(_:)``).
    private let erasureObservers = Mutex<[@Sendable (Pseudonym) async -> Void]>([])
    private let logger: Logger

    /// Opens the vault at `configuration.directory`, creating it on first use, and replays what a
    /// crash left in the write-ahead log.
    /// - Parameters:
    ///   - masterKey: the key that wraps every other key.
    ///   - previousKey: during a key rotation, the key being replaced; keys not yet re-wrapped open
    ///     with it.
    /// - Throws: ``VaultError`` when the key does not fit the vault or the disk refuses.
    public init(configuration: VaultConfiguration, masterKey: MasterKey, previousKey: MasterKey? = nil, logger: Logger) throws(VaultError) {
        let layout = JournalStore.Layout(root: configuration.directory)
        try FileIO.makeDirectory(FileIO.directory(of: layout.root))
        try FileIO.makeDirectory(layout.root)
        try FileIO.makeDirectory(layout.coachees)
        try FileIO.makeDirectory(layout.system)
        let lockDescriptor = try FileIO.open(layout.root + "/lock", flags: O_RDWR, create: 0o600)
        // A child process this one starts holds a copy of every descriptor between its fork and
        // its exec (close-on-exec acts only then), so a lock just released may still be held for
        // a moment: try for a second before calling the vault taken.
        var locked = flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0
        for _ in 0..<100 where !locked {
            usleep(10_000)
            locked = flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0
        }
        guard locked else {
            Glibc.close(lockDescriptor)
            throw VaultError(.closed, "the vault \(layout.root) is open in another process (a running `spiegel serve`?); stop it first")
        }
        do {
            let keys = [masterKey] + (previousKey.map { [$0] } ?? [])
            self.namingKey = try Self.namingKey(in: layout, keys: keys)
            self.store = try JournalStore(layout: layout, keys: keys, checkpointBytes: configuration.checkpointBytes, logger: logger)
        } catch {
            Glibc.close(lockDescriptor)
            throw error
        }
        self.lockDescriptor = Mutex(lockDescriptor)
        self.logger = logger
    }

    deinit {
        self.releaseLock()
    }

    private func releaseLock() {
        self.lockDescriptor.withLock { descriptor in
            if descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
        }
    }

    /// The naming key: read and unwrapped, or made on first use. A vault with coachees but no
    /// naming key is refused: a new key would orphan every journal.
    private static func namingKey(in layout: JournalStore.Layout, keys: [MasterKey]) throws(VaultError) -> SymmetricKey {
        let path = layout.root + "/naming.key"
        let purpose = Array("spiegel naming key v1".utf8)
        if let wrapped = try FileIO.read(path) {
            return try WrappedKey.unwrap(wrapped, with: keys, purpose: purpose, what: "the naming key (\(path))")
        }
        guard try FileIO.list(layout.coachees).isEmpty else {
            throw VaultError(.keyFile, "\(path) is missing while the vault holds coachees; restore it from the backup of the data directory")
        }
        let key = SymmetricKey(size: .bits256)
        try FileIO.replaceAtomically(path, with: try WrappedKey.wrap(key, under: keys[0], purpose: purpose), mode: 0o600)
        return key
    }

    /// Whether `masterKey` (or `previousKey`) opens the vault at `directory`, without opening it
    /// (no lock taken): `nil` when the vault does not exist yet.
    public static func keyFits(directory: String, masterKey: MasterKey, previousKey: MasterKey? = nil) throws(VaultError) -> Bool? {
        guard let wrapped = try FileIO.read(directory + "/naming.key") else { return nil }
        do {
            _ = try WrappedKey.unwrap(wrapped, with: [masterKey] + (previousKey.map { [$0] } ?? []), purpose: Array("spiegel naming key v1".utf8), what: "the naming key")
            return true
        } catch {
            return false
        }
    }

    /// How many coachees the vault at `directory` holds (its directory listing, no key needed).
    /// While a vault is open, its newest coachees are counted from the next checkpoint on (their
    /// files are made then); ``coacheeCount()`` counts them all.
    public static func coacheeCount(directory: String) throws(VaultError) -> Int {
        try FileIO.list(directory + "/coachees").count
    }

    /// How many coachees this vault holds.
    public func coacheeCount() throws(VaultError) -> Int {
        try self.store.pseudonyms(in: .coachee).count
    }

    /// The name the vault gives `coachee` on disk and in logs.
    public func pseudonym(of coachee: CoacheeID) -> Pseudonym {
        if let known = self.pseudonyms.withLock({ $0.byCoachee[coachee] }) { return known }
        let pseudonym = Pseudonym(coachee, namingKey: self.namingKey)
        self.pseudonyms.withLock { cache in
            if cache.byCoachee.count >= Self.pseudonymCacheLimit {
                cache.byCoachee.removeAll(keepingCapacity: true)
                cache.byPseudonym.removeAll(keepingCapacity: true)
            }
            cache.byCoachee[coachee] = pseudonym
            cache.byPseudonym[pseudonym] = coachee
        }
        return pseudonym
    }

    /// The name the vault gives a system journal on disk and in logs.
    public func pseudonym(of system: SystemJournalID) -> Pseudonym {
        if let known = self.systemPseudonyms.withLock({ $0[system] }) { return known }
        let pseudonym = Pseudonym(system, namingKey: self.namingKey)
        self.systemPseudonyms.withLock { cache in
            if cache.count >= Self.pseudonymCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[system] = pseudonym
        }
        return pseudonym
    }

    /// The name of `coachee`'s companion document: a ``VaultDocument`` in the system namespace
    /// holding what belongs to the coachee outside the conversation (their Matrix encryption
    /// sessions), erased with them by ``forget(_:logLevel:)`` and ``eraseInactive(before:)``.
    public func companionName(of coachee: CoacheeID) -> String {
        Self.companionName(of: self.pseudonym(of: coachee))
    }

    private static func companionName(of pseudonym: Pseudonym) -> String {
        "companion/" + pseudonym.hex
    }

    /// The journals of the companion document of the coachee named `pseudonym`.
    private func companionJournals(of pseudonym: Pseudonym) -> [SystemJournalID] {
        let name = Self.companionName(of: pseudonym)
        return [SystemJournalID(name + ".a"), SystemJournalID(name + ".b")]
    }

    /// Calls `observer` after each erasure of a coachee, with the coachee's pseudonym, and waits
    /// for it, so that what a service holds of them in memory goes too before the erasure returns.
    public func onErasure(_ observer: @escaping @Sendable (Pseudonym) async -> Void) {
        self.erasureObservers.withLock { $0.append(observer) }
    }

    /// Appends `records` to the coachee's journal, creating it on first use.
    /// - Returns: the records' sequence numbers, once they are durably on disk.
    /// - Throws: ``VaultError`` when they could not be written; then none of them is in any file,
    ///   and the next append tries again (``health`` tells whether the disk takes writes).
    @discardableResult
    public func append(_ records: [NewRecord], for coachee: CoacheeID) async throws -> [UInt64] {
        try await self.append(records, to: self.pseudonym(of: coachee))
    }

    /// Appends `records` to one of Spiegel's own journals, the same way as a coachee's.
    @discardableResult
    public func append(_ records: [NewRecord], to system: SystemJournalID) async throws -> [UInt64] {
        try await self.append(records, to: self.pseudonym(of: system))
    }

    /// Records for one journal, as part of a write to several (``append(_:)``).
    public struct Write: Sendable {
        let pseudonym: Pseudonym
        let records: [NewRecord]
    }

    /// `records` for the coachee's journal, to be written with others by ``append(_:)``.
    public func write(_ records: [NewRecord], for coachee: CoacheeID) -> Write {
        Write(pseudonym: self.pseudonym(of: coachee), records: records)
    }

    /// `records` for one of Spiegel's own journals, to be written with others by ``append(_:)``.
    public func write(_ records: [NewRecord], to system: SystemJournalID) -> Write {
        Write(pseudonym: self.pseudonym(of: system), records: records)
    }

    /// Appends to several journals in one commit (one sync of the write-ahead log): every one is
    /// on disk when this returns. A crash before may leave some of them written and not others;
    /// an error says that at least one was not written.
    public func append(_ writes: [Write]) async throws {
        let writes = writes.filter { !$0.records.isEmpty }
        guard !writes.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // Resumed once: at the first failure, or when the last write is on disk.
            let waiting = Mutex((count: writes.count, resumed: false))
            self.store.enqueue(writes.map { write in
                (write.records, write.pseudonym, { result in
                    let outcome: Result<Void, VaultError>? = waiting.withLock { state in
                        guard !state.resumed else { return nil }
                        if case .failure(let error) = result {
                            state.resumed = true
                            return .failure(error)
                        }
                        state.count -= 1
                        state.resumed = state.count == 0
                        return state.resumed ? .success(()) : nil
                    }
                    if let outcome { continuation.resume(with: outcome.mapError { $0 }) }
                })
            })
        }
    }

    private func append(_ records: [NewRecord], to pseudonym: Pseudonym) async throws -> [UInt64] {
        guard !records.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt64], any Error>) in
            self.store.enqueue(records, for: pseudonym) { result in
                continuation.resume(with: result.mapError { $0 })
            }
        }
    }

    /// Whether the vault takes writes now.
    public var health: VaultHealth { self.store.health.current }

    /// Returns the reason once the vault has failed (a sync failed: only a restart recovers), or
    /// `nil` when the task is cancelled first.
    public func failure() async -> String? {
        await self.store.health.failure()
    }

    /// When degraded, tries again what the failure left undone; healthy again when that works.
    /// - Returns: the health after the attempt.
    @discardableResult
    public func retryIfDegraded() async -> VaultHealth {
        guard case .degraded = self.health else { return self.health }
        _ = try? await self.store.perform { store throws(VaultError) in try store.retry() }
        return self.health
    }

    /// The coachee's records, oldest first; from the latest snapshot on when `fromLatestSnapshot`.
    /// - Throws: ``VaultError`` naming the record when one does not open (never skipped).
    public func records(for coachee: CoacheeID, fromLatestSnapshot: Bool = false) async throws -> [JournalRecord] {
        try await self.records(of: self.pseudonym(of: coachee), fromLatestSnapshot: fromLatestSnapshot)
    }

    /// A system journal's records, oldest first; from the latest snapshot on when
    /// `fromLatestSnapshot`.
    public func records(of system: SystemJournalID, fromLatestSnapshot: Bool = false) async throws -> [JournalRecord] {
        try await self.records(of: self.pseudonym(of: system), fromLatestSnapshot: fromLatestSnapshot)
    }

    /// Opens every record of every journal, the coachees' and the system's (a restored backup's
    /// check): the number of journals and of records.
    /// - Throws: ``VaultError`` naming the first record that does not open.
    public func verifyAll() async throws -> (journals: Int, records: Int) {
        var journals = 0, records = 0
        for pseudonym in try self.store.pseudonyms(in: .coachee) + self.store.pseudonyms(in: .system) {
            records += try await self.records(of: pseudonym, fromLatestSnapshot: false).count
            journals += 1
        }
        return (journals, records)
    }

    private func records(of pseudonym: Pseudonym, fromLatestSnapshot: Bool) async throws -> [JournalRecord] {
        guard let readable = try await self.store.perform({ store throws(VaultError) in try store.read(pseudonym) }) else {
            return []
        }
        let loaded = readable.loaded
        let bytes = try readable.contents(at: self.store.layout.journal(of: pseudonym))
        let scan = try JournalFormat.scan(bytes, what: "the journal of coachee \(pseudonym)")
        let frames = scan.frames.prefix(Int(loaded.count))
        var start = 0
        if fromLatestSnapshot, let last = frames.lastIndex(where: { $0.type == RecordType.snapshot.rawValue }) {
            start = last
        }
        var records: [JournalRecord] = []
        records.reserveCapacity(frames.count - start)
        for index in start..<frames.count {
            records.append(try JournalFormat.open(bytes, frame: frames[index], sequence: UInt64(index), pseudonym: pseudonym, key: loaded.dataKey))
        }
        return records
    }

    /// Whether the vault holds a journal for `coachee`.
    public func contains(_ coachee: CoacheeID) -> Bool {
        self.store.exists(self.pseudonym(of: coachee))
    }

    /// Erases everything of `coachee`; the same after a crash at any point (a directory without a
    /// key is finished off at the next open).
    /// - Parameter logLevel: how the erasure is logged: `notice` for a coachee's erasure, lower
    ///   for the bot's own short-lived journals (an emptied outbox).
    public func forget(_ coachee: CoacheeID, logLevel: Logger.Level = .notice) async throws {
        try await self.erase(self.pseudonym(of: coachee), logLevel: logLevel)
    }

    /// Erases a system journal the same way (an emptied outbox, a document's older journal).
    public func erase(_ system: SystemJournalID) async throws {
        try await self.erase(self.pseudonym(of: system), logLevel: .debug)
    }

    /// Whether the vault holds the system journal.
    public func contains(_ system: SystemJournalID) -> Bool {
        self.store.exists(self.pseudonym(of: system))
    }

    private func erase(_ pseudonym: Pseudonym, logLevel: Logger.Level) async throws {
        // Nothing of the coachee stays, not even their chat id in this cache (retention erases by
        // pseudonym).
        self.pseudonyms.withLock { cache in
            if let coachee = cache.byPseudonym.removeValue(forKey: pseudonym) { cache.byCoachee[coachee] = nil }
        }
        try await self.store.perform { store throws(VaultError) in try store.erase(pseudonym) }
        if pseudonym.namespace == .coachee {
            try await self.eraseCompanion(of: pseudonym)
        }
        self.logger.log(level: logLevel, "spiegel.vault.erased", metadata: ["spiegel.coachee": "\(pseudonym)"])
    }

    /// Erases the companion document of the coachee named `pseudonym`, then tells the observers.
    private func eraseCompanion(of pseudonym: Pseudonym) async throws {
        for journal in self.companionJournals(of: pseudonym) where self.contains(journal) {
            let companion = self.pseudonym(of: journal)
            try await self.store.perform { store throws(VaultError) in try store.erase(companion) }
        }
        for observer in self.erasureObservers.withLock({ $0 }) {
            await observer(pseudonym)
        }
    }

    /// Erases, the same way as ``forget(_:)``, every coachee whose latest record is older than
    /// `cutoff` (retention of inactive coachees). System journals are never erased here.
    /// - Returns: how many coachees were erased.
    public func eraseInactive(before cutoff: Date) async throws -> Int {
        let layout = self.store.layout
        var erased = 0
        for pseudonym in try self.store.pseudonyms(in: .coachee) {
            let isInactive = try await self.store.perform { store throws(VaultError) -> Bool in
                guard let readable = try store.read(pseudonym), readable.loaded.count > 0 else { return false }
                let loaded = readable.loaded
                let bytes = try readable.contents(at: layout.journal(of: pseudonym))
                let frames = try JournalFormat.scan(bytes, what: "the journal of coachee \(pseudonym)").frames.prefix(Int(loaded.count))
                guard let last = frames.last else { return false }
                let record = try JournalFormat.open(bytes, frame: last, sequence: loaded.count - 1, pseudonym: pseudonym, key: loaded.dataKey)
                return record.time < cutoff
            }
            guard isInactive else { continue }
            try await self.store.perform { store throws(VaultError) in try store.erase(pseudonym) }
            try await self.eraseCompanion(of: pseudonym)
            erased += 1
        }
        try await self.store.perform { store throws(VaultError) in try store.checkpoint() }
        if erased > 0 {
            self.logger.notice("spiegel.vault.retention_erased", metadata: ["spiegel.coachees": "\(erased)"])
        }
        return erased
    }

    /// Syncs the journals, empties the write-ahead log and closes every file.
    public func close() async throws {
        defer { self.releaseLock() }
        try await self.store.perform { store throws(VaultError) in try store.close() }
    }
}
