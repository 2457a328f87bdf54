import Foundation
import Logging
import SpiegelAsync
import SpiegelDialogue
import SpiegelUnderstanding
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
    private let turnLock = AsyncLock()

    init(coachee: CoacheeID, context: SessionContext) {
        self.coachee = coachee
        self.context = context
        self.bucket = TokenBucket(burst: context.configuration.rateLimitBurst, interval: context.configuration.rateLimitInterval)
    }

    /// The coachee opens the chat (the console's start): `flow` or the default graph starts when no
    /// conversation is going on; otherwise Spiegel says where it is.
    func open(flow: String?) async throws -> Reply {
        try await self.turnLock.lock()
        defer { self.turnLock.unlock() }
        let now = self.context.now()
        var turn = Turn(context: self.context, coachee: self.coachee.rawValue, snapshot: try await self.load(), now: now)
        turn.open(flow: flow)
        try await self.journal(turn.snapshot, incoming: nil, outgoing: turn.outputs, now: now)
        return Reply(turn.outputs, .processed)
    }

    func handle(_ message: InboundMessage, companion: TurnCompanion? = nil) async throws -> Reply {
        try await self.turnLock.lock()
        defer { self.turnLock.unlock() }
        var snapshot = try await self.load()
        let language = snapshot.state?.language ?? self.context.configuration.defaultLanguage

        // An id is digested once a message: to look it up here, to remember it below.
        let digest = message.id.map(SessionSnapshot.messageDigest)
        if let id = message.id, let digest, snapshot.remembers(digest) {
            return Reply(snapshot.replies(to: id), .duplicate)
        }
        if message.text.count > self.context.configuration.maxMessageLength {
            return Reply([self.context.text("too_long", language, ["max": String(self.context.configuration.maxMessageLength)])], .refused)
        }
        switch self.bucket.reserve(now: .now, maxWait: self.context.configuration.rateLimitMaxWait) {
        case .now:
            self.warnedOfFlood = false
        case .after(let wait):
            // Kept and answered in due course: the message waits for its turn (later ones of
            // this coachee wait behind it, in order).
            try await Task.sleep(for: wait)
        case .refused(let retryAfter):
            // Not kept: the chat is told to send it again later (429 with Retry-After, or its own
            // retry), the teacher once per flood why the answers wait.
            var reply = Reply(self.warnedOfFlood ? [] : [self.context.text("slow_down", language)], .rateLimited)
            reply.retryAfter = retryAfter
            self.warnedOfFlood = true
            return reply
        }

        let now = self.context.now()
        // Every message is screened once, before anything else looks at it.
        let screening = message.flow == nil ? self.context.library.screener.screen(message.text) : .nothing
        var turn = Turn(context: self.context, coachee: self.coachee.rawValue, snapshot: snapshot, now: now, screening: screening)
        if try await turn.confirmErasure(message.text, coachee: self.coachee) {
            self.snapshot = SessionSnapshot()
            try await self.context.reminders?.remove(self.coachee)
            self.context.logger.notice("coachee erased on request", metadata: ["spiegel.coachee": "\(self.context.vault.pseudonym(of: self.coachee))"])
            var reply = Reply(turn.outputs, .erased)
            reply.crossEffects = turn.crossEffects
            return reply
        }
        // As a coach: requests and summaries that waited for this first message.
        turn.outputs += self.announceWaiting(&turn.snapshot, language: language)
        if let flow = message.flow {
            turn.open(flow: flow)
        } else if screening.contains(.distress) || !turn.handleSharing(message.text) {
            // Distress outranks a pending choice about sharing too.
            turn.respond(to: message.text)
        }
        if turn.wantsExport {
            let records = try await self.context.vault.records(for: self.coachee)
            turn.outputs += [self.context.text("export_intro", turn.language), Self.transcript(records)]
        }
        snapshot = turn.snapshot
        if let address = message.address { snapshot.address = address }
        if let id = message.id, let digest { snapshot.remember(id, digest: digest, replies: turn.outputs, at: now) }
        try await self.journal(snapshot, incoming: message.text, outgoing: turn.outputs, consent: turn.consent, now: now, companion: companion)
        self.scheduleReminder(snapshot, now: now)
        var reply = Reply(turn.outputs, .processed)
        reply.crossEffects = turn.crossEffects
        return reply
    }

    /// What a coach was not told yet because they had never written: requests to coach, and
    /// summaries shared with them.
    private func announceWaiting(_ snapshot: inout SessionSnapshot, language: String) -> [String] {
        var texts: [String] = []
        for index in snapshot.pairingRequests.indices where !snapshot.pairingRequests[index].announced {
            snapshot.pairingRequests[index].announced = true
            texts.append(self.context.text("coach_request", language, ["coachee": snapshot.pairingRequests[index].coachee]))
        }
        for index in snapshot.received.indices where !snapshot.received[index].delivered && !snapshot.received[index].withdrawn {
            snapshot.received[index].delivered = true
            texts.append(snapshot.received[index].text)
        }
        return texts
    }

    /// Applies what another user's message asked of this one (see ``CrossEffect``), journalled;
    /// returns what to deliver to this user's direct chat, and a note for the one who asked.
    func receive(_ effect: CrossEffect) async throws -> (deliveries: [Delivery], note: String?) {
        try await self.turnLock.lock()
        defer { self.turnLock.unlock() }
        var snapshot = try await self.load()
        let language = snapshot.state?.language ?? self.context.configuration.defaultLanguage
        var texts: [String] = []
        var note: String?
        switch effect {
        case .requestPairing(_, let coachee):
            if !snapshot.pairingRequests.contains(where: { $0.coachee == coachee }) {
                snapshot.pairingRequests.append(PairingRequest(coachee: coachee, announced: snapshot.address != nil))
                if snapshot.address != nil { texts.append(self.context.text("coach_request", language, ["coachee": coachee])) }
            }
        case .answerPairing(_, let coach, let accepted):
            guard let pairing = snapshot.pairing, pairing.coach == coach, !pairing.accepted else { return ([], nil) }
            snapshot.pairing = accepted ? CoachPairing(coach: coach, accepted: true, since: self.context.now()) : nil
            texts.append(self.context.text(accepted ? "pairing_accepted_coachee" : "pairing_declined_coachee", language, ["coach": coach]))
        case .endPairing(_, let coachee):
            snapshot.pairingRequests.removeAll { $0.coachee == coachee }
            if snapshot.coachees.contains(coachee) {
                snapshot.coachees.removeAll { $0 == coachee }
                texts.append(self.context.text("pairing_ended_coach", language, ["coachee": coachee]))
            }
        case .deliverSummary(_, var summary):
            guard !snapshot.received.contains(where: { $0.id == summary.id }) else { return ([], nil) }
            summary.delivered = snapshot.address != nil
            snapshot.received.append(summary)
            if summary.delivered { texts.append(summary.text) }
        case .withdrawSummary(_, let id, let coachee, let sentAt):
            guard let index = snapshot.received.firstIndex(where: { $0.id == id }), !snapshot.received[index].withdrawn else { return ([], nil) }
            let wasDelivered = snapshot.received[index].delivered
            snapshot.received[index].withdrawn = true
            snapshot.received[index].text = ""
            if wasDelivered {
                texts.append(self.context.text("coach_withdrawn_notice", language, ["coachee": coachee, "date": self.context.day(sentAt)]))
            }
        case .invite(_, let coach):
            // Nothing is written for someone who never wrote: the bot keeps no record of them.
            if snapshot.invitedBy.contains(coach) {
                return ([], "invite_already")
            } else if snapshot.address == nil {
                return ([], "invite_unreachable")
            } else {
                snapshot.invitedBy.append(coach)
                texts.append(self.context.text("invitation", language, ["coach": coach]))
                note = "invite_sent"
            }
        }
        let now = self.context.now()
        try await self.journal(snapshot, incoming: nil, outgoing: texts, now: now)
        guard let address = snapshot.address else { return ([], note) }
        let key = "\(self.context.vault.pseudonym(of: self.coachee))-\(Int(now.timeIntervalSince1970 * 1000))"
        return (texts.enumerated().map { Delivery(address: address, text: $0.element, key: "\(key)#\($0.offset)") }, note)
    }

    /// One reminder after the configured silence, for a conversation that is not finished; for a
    /// finished one with a plan, the follow-up on the plan's day.
    private func scheduleReminder(_ snapshot: SessionSnapshot, now: Date) {
        guard let book = self.context.reminders else { return }
        let open = snapshot.state.map { $0.status != .ended } ?? false
        if open {
            let after = self.context.configuration.reminderAfter
            book.schedule(self.coachee, at: after.map { now.addingTimeInterval(Double($0 / .milliseconds(1)) / 1000) })
        } else {
            book.schedule(self.coachee, at: snapshot.followUpsOff ? nil : snapshot.followUp?.due)
        }
    }

    /// The reminder for this coachee's quiet conversation, or the follow-up of a finished one
    /// when its day has come, journalled; `nil` when there is none any more.
    func remind() async throws -> (text: String, address: ReplyAddress?, kind: DueReminder.Kind)? {
        try await self.turnLock.lock()
        defer { self.turnLock.unlock() }
        var snapshot = try await self.load()
        let now = self.context.now()
        guard let state = snapshot.state else { return nil }
        if state.status != .ended {
            let title = state.position.flatMap { self.context.library.graphs[$0.graph]?.title.text(in: state.language, fallbacks: ["nl", "en"]) } ?? ""
            let text = self.context.text("reminder", state.language, ["graph": title])
            try await self.journal(snapshot, incoming: nil, outgoing: [text], now: now)
            return (text, snapshot.address, .quiet)
        }
        guard !snapshot.followUpsOff, let followUp = snapshot.followUp, followUp.due <= now else { return nil }
        guard now.timeIntervalSince(followUp.due) < Self.followUpLateness else {
            // Days late (the server was down): "vandaag was de dag" would not be true any more.
            snapshot.followUp = nil
            try await self.journal(snapshot, incoming: nil, outgoing: [], now: now)
            return nil
        }
        let text = Self.followUpText(followUp, language: state.language, context: self.context)
        // Sent once: taken out before the message is journalled.
        snapshot.followUp = nil
        try await self.journal(snapshot, incoming: nil, outgoing: [text], now: now)
        return (text, snapshot.address, .followUp)
    }

    /// How late a follow-up may still go out (a night of quiet hours, a restart).
    static let followUpLateness: TimeInterval = 36 * 3600

    /// "Hoe ging het met je plan “…”? Zag je “…”?", with the teacher's words where they are fit to
    /// quote, else the neutral lines.
    static func followUpText(_ followUp: FollowUpProposal, language: String, context: SessionContext) -> String {
        var lines: [String] = []
        if let plan = followUp.plan, Quoting.canQuote(plan) {
            lines.append(context.text("follow_up_plan", language, ["plan": plan]))
        } else {
            lines.append(context.text("follow_up_plan_neutral", language))
        }
        if let sign = followUp.sign, Quoting.canQuote(sign) {
            lines.append(context.text("follow_up_sign", language, ["sign": sign]))
        }
        lines.append(context.text("follow_up_how", language))
        return lines.joined(separator: " ")
    }

    /// Appends the message, the replies and the new snapshot in one write, then keeps the snapshot.
    /// Writes the turn (and its companion's writes, in the same commit), then takes `snapshot`.
    private func journal(
        _ snapshot: SessionSnapshot, incoming: String?, outgoing: [String], consent: [ConsentRecord] = [], now: Date, companion: TurnCompanion? = nil
    ) async throws {
        var records = incoming.map { [NewRecord(.messageIn, Array($0.utf8), time: now)] } ?? []
        records += outgoing.map { NewRecord(.messageOut, Array($0.utf8), time: now) }
        records += try consent.map { NewRecord(.consent, [UInt8](try JSONEncoder().encode($0)), time: now) }
        records.append(NewRecord(.snapshot, snapshot.journalled(), time: now))
        let vault = self.context.vault
        if let companion {
            let (writes, settle) = try await companion.prepare(outgoing)
            do {
                try await vault.append([vault.write(records, for: self.coachee)] + writes)
            } catch {
                settle(false)
                throw error
            }
            settle(true)
        } else {
            _ = try await vault.append(records, for: self.coachee)
        }
        self.snapshot = snapshot
    }

    /// Whether the last thing Spiegel said waits for this coachee's answer: a conversation going
    /// on (not gone quiet for longer than `pause_after`), or a question of the service.
    func isAwaitingAnswer() async throws -> Bool {
        try await self.turnLock.lock()
        defer { self.turnLock.unlock() }
        let snapshot = try await self.load()
        if snapshot.pendingConfirmation != nil || snapshot.shareDraft != nil { return true }
        guard let state = snapshot.state, state.status == .active else { return false }
        return self.context.now().timeIntervalSince(state.updatedAt) <= Double(self.context.configuration.pauseAfter / .milliseconds(1)) / 1000
    }

    /// The snapshot in memory, else the latest in the vault, else a new one.
    private func load() async throws -> SessionSnapshot {
        if let snapshot = self.snapshot { return snapshot }
        var loaded = SessionSnapshot()
        if self.context.vault.contains(self.coachee) {
            let records = try await self.context.vault.records(for: self.coachee, fromLatestSnapshot: true)
            if let last = records.last(where: { $0.type == .snapshot }) {
                loaded = try SessionSnapshot.read(journalled: last.payload)
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
            if record.type == .consent, let consent = try? JSONDecoder().decode(ConsentRecord.self, from: Data(record.payload)) {
                // What was shown, approved, sent or withdrawn, and to whom: part of what is kept.
                return "\(formatter.string(from: record.time)) UTC · consent: \(consent.event.rawValue), \(consent.coach)" + (consent.text.map { ": " + $0 } ?? "")
            }
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

    /// When a message may be handled.
    enum Reservation: Equatable {
        case now
        /// After this wait; the token is taken.
        case after(Duration)
        /// Not within the longest wait allowed: nothing is taken; a token is free after this.
        case refused(retryAfter: Duration)
    }

    /// Takes the next token, now or (when it comes within `maxWait`) ahead of time.
    mutating func reserve(now: ContinuousClock.Instant, maxWait: Duration) -> Reservation {
        let seconds = max(0.001, Double(self.interval / .milliseconds(1)) / 1000)
        if let last {
            let elapsed = Double((now - last) / .milliseconds(1)) / 1000
            self.tokens = min(self.burst, self.tokens + elapsed / seconds)
        }
        self.last = now
        if self.tokens >= 1 {
            self.tokens -= 1
            return .now
        }
        // Tokens below zero are reservations of messages already waiting.
        let wait = Duration.milliseconds(Int64(((1 - self.tokens) * seconds * 1000).rounded(.up)))
        guard wait <= maxWait else { return .refused(retryAfter: wait) }
        self.tokens -= 1
        return .after(wait)
    }
}
