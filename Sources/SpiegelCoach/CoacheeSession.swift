import Foundation
import Logging
import SpiegelDialogue
import SpiegelVault

/// One coachee's conversation in memory: loaded from the vault on first use, changed one message
/// at a time, journalled after every message.
actor CoacheeSession {
    private let coachee: CoacheeID
    private let context: SessionContext
    private var snapshot: SessionSnapshot?
    private var bucket: TokenBucket
    /// Whether the coachee was told to slow down in the current flood.
    private var warnedOfFlood = false
    /// Messages wait here, in arrival order, while one is handled (an actor alone would interleave
    /// them at every `await`).
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(coachee: CoacheeID, context: SessionContext) {
        self.coachee = coachee
        self.context = context
        self.bucket = TokenBucket(burst: context.configuration.rateLimitBurst, interval: context.configuration.rateLimitInterval)
    }

    /// Waits for the messages before this one.
    private func enter() async {
        if self.busy {
            await withCheckedContinuation { self.waiting.append($0) }
        }
        self.busy = true
    }

    private func leave() {
        if self.waiting.isEmpty { self.busy = false } else { self.waiting.removeFirst().resume() }
    }

    /// The coachee opens the chat (the console's start): `flow` or the default graph starts when no
    /// conversation is going on; otherwise Spiegel says where it is.
    func open(flow: String?) async throws -> Reply {
        await self.enter()
        defer { self.leave() }
        let now = self.context.now()
        var turn = Turn(context: self.context, snapshot: try await self.load(), now: now)
        turn.open(flow: flow)
        try await self.journal(turn.snapshot, incoming: nil, outgoing: turn.outputs, now: now)
        return Reply(turn.outputs, .processed)
    }

    func handle(_ message: InboundMessage) async throws -> Reply {
        await self.enter()
        defer { self.leave() }
        var snapshot = try await self.load()
        let language = snapshot.state?.language ?? self.context.configuration.defaultLanguage

        if let id = message.id, snapshot.recentMessageIDs.contains(id) {
            return Reply(snapshot.recentReplies[id] ?? [], .duplicate)
        }
        if message.text.count > self.context.configuration.maxMessageLength {
            return Reply([self.context.text("too_long", language, ["max": String(self.context.configuration.maxMessageLength)])], .refused)
        }
        guard self.bucket.take(now: .now) else {
            if self.warnedOfFlood { return Reply([], .refused) }
            self.warnedOfFlood = true
            return Reply([self.context.text("slow_down", language)], .refused)
        }
        self.warnedOfFlood = false

        let now = self.context.now()
        var turn = Turn(context: self.context, snapshot: snapshot, now: now)
        if try await turn.confirmErasure(message.text, coachee: self.coachee) {
            self.snapshot = SessionSnapshot()
            try await self.context.reminders?.remove(self.coachee)
            self.context.logger.notice("coachee erased on request", metadata: ["spiegel.coachee": "\(self.context.vault.pseudonym(of: self.coachee))"])
            return Reply(turn.outputs, .erased)
        }
        if let flow = message.flow {
            turn.open(flow: flow)
        } else {
            turn.respond(to: message.text)
        }
        if turn.wantsExport {
            let records = try await self.context.vault.records(for: self.coachee)
            turn.outputs += [self.context.text("export_intro", turn.language), Self.transcript(records)]
        }
        snapshot = turn.snapshot
        if let address = message.address { snapshot.address = address }
        if let id = message.id {
            snapshot.recentMessageIDs.append(id)
            if snapshot.recentMessageIDs.count > 100 { snapshot.recentMessageIDs.removeFirst() }
            snapshot.recentReplies[id] = turn.outputs
            for old in snapshot.recentReplies.keys where !snapshot.recentMessageIDs.suffix(10).contains(old) {
                snapshot.recentReplies[old] = nil
            }
        }
        try await self.journal(snapshot, incoming: message.text, outgoing: turn.outputs, now: now)
        self.scheduleReminder(snapshot, now: now)
        return Reply(turn.outputs, .processed)
    }

    /// One reminder after the configured silence, for a conversation that is not finished.
    private func scheduleReminder(_ snapshot: SessionSnapshot, now: Date) {
        guard let book = self.context.reminders, let after = self.context.configuration.reminderAfter else { return }
        let open = snapshot.state.map { $0.status != .ended } ?? false
        book.schedule(self.coachee, at: open ? now.addingTimeInterval(Double(after / .milliseconds(1)) / 1000) : nil)
    }

    /// The reminder for this coachee's quiet conversation, journalled; `nil` when it has ended
    /// since.
    func remind() async throws -> (String, ReplyAddress?)? {
        await self.enter()
        defer { self.leave() }
        let snapshot = try await self.load()
        guard let state = snapshot.state, state.status != .ended else { return nil }
        let title = state.position.flatMap { self.context.library.graphs[$0.graph]?.title.text(in: state.language, fallbacks: ["nl", "en"]) } ?? ""
        let text = self.context.text("reminder", state.language, ["graph": title])
        try await self.journal(snapshot, incoming: nil, outgoing: [text], now: self.context.now())
        return (text, snapshot.address)
    }

    /// Appends the message, the replies and the new snapshot in one write, then keeps the snapshot.
    private func journal(_ snapshot: SessionSnapshot, incoming: String?, outgoing: [String], now: Date) async throws {
        var records = incoming.map { [NewRecord(.messageIn, Array($0.utf8), time: now)] } ?? []
        records += outgoing.map { NewRecord(.messageOut, Array($0.utf8), time: now) }
        records.append(NewRecord(.snapshot, [UInt8](try JSONEncoder().encode(snapshot)), time: now))
        _ = try await self.context.vault.append(records, for: self.coachee)
        self.snapshot = snapshot
    }

    /// The snapshot in memory, else the latest in the vault, else a new one.
    private func load() async throws -> SessionSnapshot {
        if let snapshot = self.snapshot { return snapshot }
        var loaded = SessionSnapshot()
        if self.context.vault.contains(self.coachee) {
            let records = try await self.context.vault.records(for: self.coachee, fromLatestSnapshot: true)
            if let last = records.last(where: { $0.type == .snapshot }) {
                loaded = try JSONDecoder().decode(SessionSnapshot.self, from: Data(last.payload))
            }
        }
        self.snapshot = loaded
        return loaded
    }

    /// The coachee's messages and the bot's, for their export in chat.
    static func transcript(_ records: [JournalRecord]) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return records.compactMap { record -> String? in
            guard record.type == .messageIn || record.type == .messageOut else { return nil }
            let who = record.type == .messageIn ? "jij/you" : "Spiegel"
            return "\(formatter.string(from: record.time)) UTC · \(who): " + String(decoding: record.payload, as: UTF8.self)
        }.joined(separator: "\n")
    }
}

/// A rate limit per coachee: a burst, then one message per interval.
struct TokenBucket: Sendable {
    let burst: Double
    let interval: Duration
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    init(burst: Int, interval: Duration) {
        self.burst = Double(max(1, burst))
        self.interval = interval
        self.tokens = Double(max(1, burst))
    }

    /// Takes a token if there is one.
    mutating func take(now: ContinuousClock.Instant) -> Bool {
        if let last {
            let seconds = Double((now - last) / .milliseconds(1)) / 1000
            let perSecond = 1 / max(0.001, Double(self.interval / .milliseconds(1)) / 1000)
            self.tokens = min(self.burst, self.tokens + seconds * perSecond)
        }
        self.last = now
        guard self.tokens >= 1 else { return false }
        self.tokens -= 1
        return true
    }
}
