import Foundation
import Logging
import SpiegelAsync
import Synchronization

/// A piece of Spiegel's own state (the team rounds, the reminder book, the Matrix connection),
/// kept encrypted in the vault's system namespace, where retention, export and a coachee's
/// erasure never reach it.
///
/// Every change is written as a whole snapshot before ``update(_:)`` returns. Snapshots go to one
/// of two journals (`<name>.a`, `<name>.b`); when one holds `snapshotsPerJournal`, the next
/// snapshot starts the other and only then is the old one erased, so the journals stay small and
/// a crash at any point leaves a complete state.
public final class VaultDocument<Contents: Codable & Sendable>: Sendable {
    private struct Stored: Codable {
        var generation: UInt64
        var contents: Contents
    }

    private struct State {
        var contents: Contents
        var generation: UInt64 = 0
        /// The journal written now (0 or 1), and how many snapshots it holds.
        var journal = 0
        var written = 0
        var isLoaded = false
    }

    private let vault: Vault
    private let initial: Contents
    private let journals: [SystemJournalID]
    private let legacyOwners: [CoacheeID]
    private let snapshotsPerJournal: Int
    private let state: Mutex<State>
    private let writeLock = AsyncLock()

    /// - Parameters:
    ///   - name: the document's name in the system namespace, such as `teams`.
    ///   - initial: the contents before anything was written.
    ///   - legacyOwners: where data format 1 kept it (as a coachee named `spiegel:…`): read once
    ///     when the document has no snapshot yet, written here, then erased there.
    ///   - snapshotsPerJournal: snapshots in one journal before the next starts the other.
    public init(vault: Vault, name: String, initial: Contents, legacyOwners: [CoacheeID] = [], snapshotsPerJournal: Int = 1_000) {
        precondition(snapshotsPerJournal > 0)
        self.vault = vault
        self.initial = initial
        self.journals = [SystemJournalID(name + ".a"), SystemJournalID(name + ".b")]
        self.legacyOwners = legacyOwners
        self.snapshotsPerJournal = snapshotsPerJournal
        self.state = Mutex(State(contents: initial))
    }

    /// Reads the newest snapshot (once; later calls return at once, without waiting for a write
    /// under way).
    public func load() async throws {
        guard !self.isLoaded else { return }
        try await self.writeLock.withLock { try await self.loadIfNeeded() }
    }

    /// Whether ``load()`` finished.
    public var isLoaded: Bool { self.state.withLock { $0.isLoaded } }

    /// The contents as last loaded or written, without waiting (the initial ones before
    /// ``load()``).
    public var current: Contents { self.state.withLock { $0.contents } }

    /// The contents, loaded first when needed.
    public func contents() async throws -> Contents {
        try await self.load()
        return self.current
    }

    /// Changes the contents and writes them before returning; returns what `change` returned.
    /// When the write fails, the contents stay as they were.
    @discardableResult
    public func update<Result: Sendable>(_ change: (inout Contents) throws -> Result) async throws -> Result {
        try await self.writeLock.lock()
        defer { self.writeLock.unlock() }
        try await self.loadIfNeeded()
        var state = self.state.withLock { $0 }
        let result = try change(&state.contents)
        state.generation += 1
        try await self.write(&state)
        self.state.withLock { $0 = state }
        return result
    }

    /// Erases both journals and starts again from the initial contents, after any write in
    /// progress (a companion document erased with its coachee, whose object is still in use).
    public func reset() async throws {
        try await self.writeLock.lock()
        defer { self.writeLock.unlock() }
        for journal in self.journals where self.vault.contains(journal) {
            try await self.vault.erase(journal)
        }
        self.state.withLock { $0 = State(contents: self.initial, isLoaded: true) }
    }

    /// Writes `state` as the next snapshot, starting the other journal when this one is full.
    private func write(_ state: inout State) async throws {
        let payload = [UInt8](try JSONEncoder().encode(Stored(generation: state.generation, contents: state.contents)))
        if state.written >= self.snapshotsPerJournal {
            let next = 1 - state.journal
            // The other journal first holds the whole state; only then is the old one erased.
            try await self.vault.erase(self.journals[next])
            try await self.vault.append([NewRecord(.snapshot, payload)], to: self.journals[next])
            try await self.vault.erase(self.journals[state.journal])
            state.journal = next
            state.written = 1
        } else {
            try await self.vault.append([NewRecord(.snapshot, payload)], to: self.journals[state.journal])
            state.written += 1
        }
    }

    /// Under the write lock.
    private func loadIfNeeded() async throws {
        guard !self.isLoaded else { return }
        var newest: (stored: Stored, journal: Int, written: Int)?
        for (index, journal) in self.journals.enumerated() {
            let records = try await self.vault.records(of: journal)
            guard let last = records.last(where: { $0.type == .snapshot }) else { continue }
            let stored = try JSONDecoder().decode(Stored.self, from: Data(last.payload))
            if newest == nil || stored.generation > newest!.stored.generation {
                newest = (stored, index, records.count)
            }
        }
        if let newest {
            self.state.withLock {
                $0 = State(contents: newest.stored.contents, generation: newest.stored.generation, journal: newest.journal, written: newest.written, isLoaded: true)
            }
            return
        }
        try await self.migrateLegacy()
        self.state.withLock { $0.isLoaded = true }
    }

    /// Takes the newest snapshot of the format-1 journals (coachees named `spiegel:…`), writes it
    /// here, then erases them.
    private func migrateLegacy() async throws {
        var newest: (contents: Contents, time: Date)?
        for owner in self.legacyOwners where self.vault.contains(owner) {
            let records = try await self.vault.records(for: owner, fromLatestSnapshot: true)
            guard let last = records.last(where: { $0.type == .snapshot }) else { continue }
            let contents = try JSONDecoder().decode(Contents.self, from: Data(last.payload))
            if newest == nil || last.time > newest!.time { newest = (contents, last.time) }
        }
        if let newest {
            var state = self.state.withLock { $0 }
            state.contents = newest.contents
            state.generation += 1
            try await self.write(&state)
            self.state.withLock { $0 = state }
        }
        for owner in self.legacyOwners where self.vault.contains(owner) {
            try await self.vault.forget(owner, logLevel: .debug)
        }
    }
}
