public import Foundation
import HTTPTypes
public import Logging
import Metrics
import SpiegelAsync
public import ServiceLifecycle
public import SpiegelVault
import Synchronization

/// A message waiting to go out to a chat.
public struct OutboxEntry: Codable, Sendable, Equatable {
    /// The idempotency key: the same message enqueued twice (a redelivered inbound message) is sent
    /// once, and the receiver sees the same key on a retry.
    public var key: String
    /// Where it goes.
    public var room: String
    public var text: String
    /// Whether it carries what a coachee wrote or what was said to them: such a message never goes
    /// to a team room.
    public var isPrivate: Bool
    /// The inbound message it answers, if any.
    public var replyTo: String?
    /// When it was enqueued (set by the outbox), for the delivery latency and the age of the oldest.
    public var queuedAt: Date?
    /// What to do in the room: post ``text`` (`nil`, the default), or join or leave it (chats with
    /// membership, such as Matrix, where a join must come before the first message in a room).
    public var action: Action?

    /// A room action other than posting a message.
    public enum Action: String, Codable, Sendable {
        case join, leave
    }

    /// The entry as its journal record: the JSON of its `Codable` form, which ``Outbox/load()``
    /// decodes (written by hand: this is on every reply's path).
    var journalled: [UInt8] {
        var record = JSONObjectWriter(capacity: self.text.utf8.count + 160)
        record.add("key", self.key)
        record.add("room", self.room)
        record.add("text", self.text)
        record.add("isPrivate", self.isPrivate)
        record.add("replyTo", self.replyTo)
        record.add("queuedAt", self.queuedAt?.timeIntervalSinceReferenceDate)
        record.add("action", self.action?.rawValue)
        return record.json
    }

    public init(key: String, room: String, text: String, isPrivate: Bool = true, replyTo: String? = nil, action: Action? = nil) {
        self.key = key
        self.room = room
        self.text = text
        self.isPrivate = isPrivate
        self.replyTo = replyTo
        self.action = action
    }
}

/// Why an entry was refused.
public struct OutboxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}

/// The durable outbox: every outgoing message is written (encrypted, in the vault's system
/// journal `outbox.<transport>`) before the first try; delivery is in order per room; connect
/// errors, timeouts, 429 (honouring `Retry-After`) and 5xx are retried with exponential backoff
/// and full jitter; other 4xx are dropped (logged and counted); what is pending survives restarts.
public final class Outbox: Service, Sendable {
    /// How the outbox retries.
    public struct Configuration: Sendable {
        /// The first retry waits up to this long; each next one up to twice as long…
        public var baseDelay: Duration = .milliseconds(500)
        /// …but never longer than this.
        public var maxDelay: Duration = .seconds(300)

        public init() {}
    }

    /// The vault name of this outbox's journal: one per transport.
    private var journal: SystemJournalID { SystemJournalID("outbox." + self.transport.name) }
    /// Where data format 1 kept the outbox (as a coachee).
    private var legacyOwner: CoacheeID { CoacheeID("spiegel:outbox:" + self.transport.name) }

    private struct State {
        var queues: [String: [OutboxEntry]] = [:]
        /// Keys enqueued or delivered lately, to take a repeated enqueue once.
        var known = RecentKeys(limit: 100_000)
        var workers: [String: Task<Void, Never>] = [:]
        var isStopping = false
        var delivered = 0
        var dropped = 0
        /// Appends to the journal under way, and marks waiting for theirs: the journal is not
        /// erased while there is one.
        var writesInFlight = 0
        /// Entries sent (or dropped) whose mark is not yet written, in the order they were done.
        var unmarked: [(key: String, delivered: Bool)] = []
        /// Writes the marks of ``unmarked``, all that wait in one append, while the rooms go on.
        var markWriter: Task<Void, Never>?
    }

    private let vault: Vault
    private let client: any HTTPClient
    /// The chat the entries go to, and how they are sent.
    public let transport: any ChatTransport
    /// Whether a room is a team's (the gateway's room policy): no private entry goes there.
    private let isTeamRoom: @Sendable (String) -> Bool
    private let configuration: Configuration
    private let logger: Logger
    private let metrics: Instruments
    private let state = Mutex(State())
    /// Held to erase the outbox journal (and to load it); a write only passes through it, so
    /// writes run side by side (the vault commits them together) and never meet an erasure.
    private let journalLock = AsyncLock()

    /// - Parameter isTeamRoom: the room policy; a private entry for a room it names is refused.
    public init(
        vault: Vault, client: any HTTPClient, transport: any ChatTransport, isTeamRoom: @escaping @Sendable (String) -> Bool,
        configuration: Configuration = .init(), logger: Logger
    ) {
        self.vault = vault
        self.client = client
        self.transport = transport
        self.isTeamRoom = isTeamRoom
        self.configuration = configuration
        self.logger = logger
        self.metrics = Instruments(transport: transport.name)
    }

    /// How many entries wait.
    public var depth: Int {
        self.state.withLock { $0.queues.values.reduce(0) { $0 + $1.count } }
    }

    /// Delivered and dropped so far, since start: counted once their mark is written (or failed).
    public var counts: (delivered: Int, dropped: Int) {
        self.state.withLock { ($0.delivered, $0.dropped) }
    }

    /// Reads what is pending from the vault and starts delivering it.
    public func load() async throws {
        var queued: [OutboxEntry] = []
        var done: Set<String> = []
        try await self.journalLock.lock()
        defer { self.journalLock.unlock() }
        let legacy = self.vault.contains(self.legacyOwner) ? try await self.vault.records(for: self.legacyOwner) : []
        for record in try await legacy + self.vault.records(of: self.journal) {
            switch record.type {
            case .outboxQueued: queued.append(try JSONDecoder().decode(OutboxEntry.self, from: Data(record.payload)))
            case .outboxDelivered: done.insert(String(decoding: record.payload, as: UTF8.self))
            default: break
            }
        }
        if !legacy.isEmpty {
            // Moved into the system namespace: what is pending first, then the old journal erased.
            let pending = queued.filter { !done.contains($0.key) }.map { NewRecord(.outboxQueued, $0.journalled) }
            try await self.vault.append(pending, to: self.journal)
            try await self.vault.forget(self.legacyOwner, logLevel: .debug)
        }
        let rooms: [String] = self.state.withLock { state in
            // An entry enqueued before this load (a message that came in while the server started)
            // is in the queues already: known keys are skipped.
            for entry in queued where !state.known.contains(entry.key) {
                state.known.insert(entry.key)
                if !done.contains(entry.key) { state.queues[entry.room, default: []].append(entry) }
            }
            return Array(state.queues.keys)
        }
        for room in rooms { self.startWorker(for: room) }
        self.updateGauges()
    }

    /// Writes `entries` durably and hands them to delivery; an entry whose key was seen is skipped.
    /// - Throws: ``OutboxError`` for a private entry to a team room (nothing is written then), or
    ///   the vault's error.
    public func enqueue(_ entries: [OutboxEntry]) async throws {
        let prepared = try await self.prepare(entries)
        guard let write = prepared.write else { return self.settle(prepared, written: true) }
        do {
            try await self.vault.append([write])
        } catch {
            self.settle(prepared, written: false)
            throw error
        }
        self.settle(prepared, written: true)
    }

    /// Entries to be written in the same vault commit as something else (a coachee's turn):
    /// ``prepare(_:)`` gives the write, ``settle(_:written:)`` must follow it.
    public struct Prepared: Sendable {
        /// `nil` when every entry was seen before.
        public let write: Vault.Write?
        fileprivate let entries: [OutboxEntry]
    }

    /// Checks `entries` and makes their journal write; the journal is not erased until they are
    /// settled.
    /// - Throws: ``OutboxError`` for a private entry to a team room.
    public func prepare(_ entries: [OutboxEntry]) async throws -> Prepared {
        if let leak = entries.first(where: { $0.isPrivate && self.isTeamRoom($0.room) }) {
            throw OutboxError(message: "a coachee's conversation may not go to the team room \(leak.room)")
        }
        let now = Date()
        let fresh = self.state.withLock { state in entries.filter { !state.known.contains($0.key) } }.map { entry in
            var entry = entry
            entry.queuedAt = now
            return entry
        }
        guard !fresh.isEmpty else { return Prepared(write: nil, entries: []) }
        let records = fresh.map { NewRecord(.outboxQueued, $0.journalled) }
        try await self.beginWrite()
        return Prepared(write: self.vault.write(records, to: self.journal), entries: fresh)
    }

    /// Hands prepared entries to delivery once their write is on disk, or forgets them when it
    /// failed.
    public func settle(_ prepared: Prepared, written: Bool) {
        guard prepared.write != nil else { return }
        let rooms: [String] = self.endWrite { state in
            guard written else { return [] }
            var rooms: [String] = []
            for entry in prepared.entries where !state.known.contains(entry.key) {
                state.known.insert(entry.key)
                state.queues[entry.room, default: []].append(entry)
                rooms.append(entry.room)
            }
            return rooms
        }
        for room in Set(rooms) { self.startWorker(for: room) }
        self.updateGauges()
    }

    /// Passes the journal lock (waiting for an erasure under way) and counts a write under way.
    private func beginWrite() async throws {
        try await self.journalLock.lock()
        self.state.withLock { $0.writesInFlight += 1 }
        self.journalLock.unlock()
    }

    /// Applies `change` and ends a write under way, at once.
    private func endWrite<Result>(_ change: (inout State) -> Result) -> Result {
        self.state.withLock { state in
            defer { state.writesInFlight -= 1 }
            return change(&state)
        }
    }

    /// Erases the journal (its key first) when nothing waits and no write is under way, so no
    /// copy of a conversation outlives its delivery, and a coachee's erasure is not undone by
    /// the outbox.
    private func eraseJournalIfIdle() async {
        guard (try? await self.journalLock.lock()) != nil else { return }
        defer { self.journalLock.unlock() }
        let isIdle = self.state.withLock { $0.writesInFlight == 0 && $0.queues.values.allSatisfy(\.isEmpty) }
        guard isIdle else { return }
        do {
            try await self.vault.erase(self.journal)
        } catch {
            self.logger.error("spiegel.outbox.compaction_failed", metadata: ["spiegel.error": "\(error)"])
        }
    }

    /// Delivers until graceful shutdown; what is still pending then stays in the vault.
    public func run() async throws {
        try await self.load()
        try? await gracefulShutdown()
        let workers = self.state.withLock { state in
            state.isStopping = true
            return Array(state.workers.values)
        }
        for worker in workers { worker.cancel() }
        for worker in workers { await worker.value }
        // The marks of what was sent are written before the outbox stops, so a restart does
        // not send it again.
        await self.state.withLock { $0.markWriter }?.value
    }

    private func startWorker(for room: String) {
        self.state.withLock { state in
            guard !state.isStopping, state.workers[room] == nil, !(state.queues[room] ?? []).isEmpty else { return }
            state.workers[room] = Task { await self.deliver(room: room) }
        }
    }

    /// Sends the room's entries one by one, in order, until it is empty.
    private func deliver(room: String) async {
        var attempt = 0
        while !Task.isCancelled {
            guard let entry = self.state.withLock({ state -> OutboxEntry? in
                guard let next = state.queues[room]?.first else {
                    state.queues[room] = nil
                    state.workers[room] = nil
                    return nil
                }
                return next
            }) else { return }
            switch await self.send(entry) {
            case .delivered, .dropped:
                attempt = 0
            case .retry(let after):
                attempt += 1
                self.updateGauges()
                let delay = after ?? self.backoff(attempt: attempt)
                do { try await Task.sleep(for: delay) } catch { break }
            }
        }
        self.state.withLock { $0.workers[room] = nil }
    }

    private enum Outcome {
        case delivered, dropped, retry(after: Duration?)
    }

    private func send(_ entry: OutboxEntry) async -> Outcome {
        switch await self.transport.deliver(entry, using: self.client) {
        case .delivered:
            self.finish(entry, delivered: true, reason: nil)
            return .delivered
        case .dropped(let reason):
            self.finish(entry, delivered: false, reason: reason)
            return .dropped
        case .retry(let after):
            return .retry(after: after.map { min(max($0, .zero), .seconds(3600)) })
        }
    }

    /// Takes an entry off its queue, so the room's next one goes out at once, and has its mark
    /// written: an entry sent but not yet marked when the process dies is sent again after the
    /// restart, under the same key, as it always could be (between the send and the mark).
    private func finish(_ entry: OutboxEntry, delivered: Bool, reason: String?) {
        self.state.withLock { state in
            if state.queues[entry.room]?.first?.key == entry.key { state.queues[entry.room]?.removeFirst() }
            state.unmarked.append((entry.key, delivered))
            state.writesInFlight += 1
            if state.markWriter == nil {
                state.markWriter = Task { await self.writeMarks() }
            }
        }
        if delivered, let queuedAt = entry.queuedAt {
            self.metrics.delivery.recordNanoseconds(Int64(max(0, Date().timeIntervalSince(queuedAt)) * 1e9))
        }
        self.updateGauges()
        if let reason {
            self.logger.warning("spiegel.outbox.dropped", metadata: ["spiegel.reason": "\(reason)"])
        }
    }

    /// Writes the waiting marks, all of them in one append, until none wait; then erases the
    /// journal if nothing else does.
    private func writeMarks() async {
        while true {
            let marks: [(key: String, delivered: Bool)] = self.state.withLock { state in
                defer { state.unmarked = [] }
                if state.unmarked.isEmpty { state.markWriter = nil }
                return state.unmarked
            }
            guard !marks.isEmpty else { return }
            do {
                _ = try await self.vault.append(marks.map { NewRecord(.outboxDelivered, Array($0.key.utf8)) }, to: self.journal)
            } catch {
                // Not marked: after a restart they are sent again, with the same keys.
                self.logger.error("spiegel.outbox.mark_failed", metadata: ["spiegel.error": "\(error)"])
            }
            let delivered = marks.count(where: \.delivered)
            let isIdle = self.state.withLock { state in
                state.writesInFlight -= marks.count
                state.delivered += delivered
                state.dropped += marks.count - delivered
                return state.writesInFlight == 0 && state.queues.values.allSatisfy(\.isEmpty)
            }
            self.metrics.delivered.increment(by: delivered)
            self.metrics.dropped.increment(by: marks.count - delivered)
            if isIdle {
                await self.eraseJournalIfIdle()
            }
        }
    }

    /// The depth of the outbox and the age of its oldest entry, for `/metrics`.
    private func updateGauges() {
        let (depth, oldest) = self.state.withLock { state in
            (state.queues.values.reduce(0) { $0 + $1.count }, state.queues.values.compactMap { $0.first?.queuedAt }.min())
        }
        self.metrics.depth.record(depth)
        self.metrics.oldestAge.record(oldest.map { Date().timeIntervalSince($0) } ?? 0)
    }

    /// Full jitter: a random wait up to the exponential bound.
    private func backoff(attempt: Int) -> Duration {
        let base = Double(self.configuration.baseDelay / .milliseconds(1))
        let cap = Double(self.configuration.maxDelay / .milliseconds(1))
        let bound = min(cap, base * pow(2, Double(min(attempt - 1, 30))))
        return .milliseconds(Int(Double.random(in: 0...bound)))
    }

    /// The outbox's metrics, made once: one transport each.
    private struct Instruments: Sendable {
        let delivered: Counter
        let dropped: Counter
        let delivery: Timer
        let depth: Gauge
        let oldestAge: Gauge

        init(transport: String) {
            let dimensions = [("transport", transport)]
            self.delivered = Counter(label: "spiegel_messages_out_total", dimensions: dimensions + [("outcome", "delivered")])
            self.dropped = Counter(label: "spiegel_messages_out_total", dimensions: dimensions + [("outcome", "dropped")])
            self.delivery = Timer(label: "spiegel_outbox_delivery_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            self.depth = Gauge(label: "spiegel_outbox_depth", dimensions: dimensions)
            self.oldestAge = Gauge(label: "spiegel_outbox_oldest_age_seconds", dimensions: dimensions)
        }
    }
}
