public import Foundation
public import Logging
import SpiegelAsync
public import SpiegelDialogue
public import SpiegelVault
import Synchronization

/// A message from a coachee, as a transport hands it over.
public struct InboundMessage: Sendable {
    /// Who wrote it: their chat user id (never logged; the vault names them by pseudonym).
    public var coachee: CoacheeID
    /// What they wrote.
    public var text: String
    /// The transport's id of the message, when it has one: a redelivered message is processed once.
    public var id: String?
    /// A graph to start instead of reading `text` as an answer (a button, a command, a reminder).
    public var flow: String?
    /// Where the coachee can be reached (their direct chat), kept for a later reminder.
    public var address: ReplyAddress?

    public init(coachee: CoacheeID, text: String, id: String? = nil, flow: String? = nil, address: ReplyAddress? = nil) {
        self.coachee = coachee
        self.text = text
        self.id = id
        self.flow = flow
        self.address = address
    }
}

/// What is written with a turn, in the same vault commit (one sync of the disk): the outbox
/// entries of its replies. Given the turn's replies, `prepare` returns the writes to add and what
/// to do once the commit is done (`true`) or failed (`false`); it is called at most once.
public struct TurnCompanion: Sendable {
    public var prepare: @Sendable (_ replies: [String]) async throws -> (writes: [Vault.Write], settle: @Sendable (_ written: Bool) -> Void)

    public init(prepare: @escaping @Sendable (_ replies: [String]) async throws -> (writes: [Vault.Write], settle: @Sendable (_ written: Bool) -> Void)) {
        self.prepare = prepare
    }
}

/// A coachee's direct chat: the transport and the room there.
public struct ReplyAddress: Codable, Sendable, Equatable {
    public var transport: String
    public var room: String

    public init(transport: String, room: String) {
        self.transport = transport
        self.room = room
    }
}

/// A reminder to send.
public struct DueReminder: Sendable, Equatable {
    /// Why it goes out.
    public enum Kind: String, Sendable {
        /// A conversation went quiet before its end.
        case quiet
        /// The day of a plan has come: how did it go?
        case followUp = "follow_up"
    }

    public var coachee: CoacheeID
    public var text: String
    /// Where the coachee last wrote from; `nil` for the console.
    public var address: ReplyAddress?
    public var kind: Kind = .quiet
}

/// What the service answers to one message.
public struct Reply: Sendable, Equatable {
    /// Why a message got the reply it got.
    public enum Outcome: String, Sendable {
        /// Processed and journalled.
        case processed
        /// The same message id was processed before; nothing was done again.
        case duplicate
        /// Refused before processing: too long, or the service is full.
        case refused
        /// Too many too fast: not kept; the chat should send it again after ``Reply/retryAfter``.
        case rateLimited = "rate_limited"
        /// The coachee's data was erased at their request.
        case erased
    }

    /// The bot's messages, in order; may be empty.
    public var texts: [String]
    public var outcome: Outcome
    /// For ``Outcome/rateLimited``: when the message may come again.
    public var retryAfter: Duration?
    /// Messages for other users, to their own direct chats: a summary for a coach, a coach's
    /// answer for a coachee, an invitation.
    public var deliveries: [Delivery] = []
    /// What the message asks of other users' sessions; the service applies it.
    var crossEffects: [CrossEffect] = []

    public init(_ texts: [String], _ outcome: Outcome) {
        self.texts = texts
        self.outcome = outcome
    }
}

/// The coaching service: one conversation per coachee, run by the dialogue graphs, journalled in the
/// vault before any reply leaves.
///
/// - A coachee's session is loaded from the vault on their first message and kept in memory while
///   active; at most ``CoachConfiguration/maxActiveSessions`` are kept, the least recently active
///   idle one is evicted first (its state is on disk).
/// - Messages of one coachee are handled strictly in order; different coachees in parallel. The
///   registry's lock is held only to find or add a session, never while a message is handled.
/// - Every inbound message, every reply and the new state are appended to the coachee's journal in
///   one write before ``handle(_:)`` returns, so a crash never loses an acknowledged message and
///   never asks an answered question again.
public final class CoachingService: Sendable {
    /// Vault names of the service's own journals (the reminder book); no coachee may use them.
    static let reservedPrefix = "spiegel:"

    private let sessions = Mutex(SessionTable<CoacheeID, CoacheeSession>())
    /// Signalled when a session goes idle: a slot may be free for a waiting cross effect.
    private let sessionIdle = AsyncCondition()
    private let context: SessionContext

    /// - Parameters:
    ///   - library: the dialogue graphs and texts.
    ///   - vault: where every coachee's conversation is kept.
    ///   - now: the clock (injectable for tests).
    public init(
        library: DialogueLibrary, vault: Vault, configuration: CoachConfiguration = .init(), logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.context = SessionContext(
            content: CoachContent(library: library, configuration: configuration), vault: vault, logger: logger, now: now,
            reminders: ReminderBook(vault: vault)
        )
    }

    /// Takes new graphs and settings (a reload): every message from now on uses them; a
    /// conversation in progress goes on from where it is (a question that is gone from the new
    /// graphs is handled as the runner handles a changed graph). Whether reminders are on, and
    /// the rate limits of sessions already in memory, keep their value until a restart.
    public func reload(library: DialogueLibrary, configuration: CoachConfiguration) {
        self.context.content.replace(library: library, configuration: configuration)
    }

    /// How many coachees are in memory now.
    public var activeSessionCount: Int {
        self.sessions.withLock { $0.count }
    }

    /// Handles one message of a coachee and returns what to send back, once it is on disk.
    /// - Parameter companion: written with the turn in one commit (the replies' outbox entries);
    ///   not called for a message that is not journalled (a duplicate, a refusal, an erasure).
    /// - Throws: when the vault cannot write (the message is then not acknowledged and may be sent
    ///   again).
    public func handle(_ message: InboundMessage, companion: TurnCompanion? = nil) async throws -> Reply {
        guard !message.coachee.rawValue.hasPrefix(Self.reservedPrefix) else { return Reply([], .refused) }
        guard let session = self.acquire(message.coachee) else {
            return Reply([self.context.text("busy", self.context.configuration.defaultLanguage)], .refused)
        }
        var reply: Reply
        do {
            defer { self.release(message.coachee) }
            reply = try await session.handle(message, companion: companion)
        }
        for effect in reply.crossEffects {
            let (deliveries, note) = try await self.apply(effect)
            reply.deliveries += deliveries
            if let note {
                reply.texts.append(self.context.text(note, self.context.configuration.defaultLanguage, ["user": effect.target]))
            }
        }
        reply.crossEffects = []
        return reply
    }

    /// Carries one user's request over to another's session (never the sender's own: its gate is
    /// released first, so two users asking each other at once cannot wait on each other).
    private func apply(_ effect: CrossEffect) async throws -> (deliveries: [Delivery], note: String?) {
        let target = CoacheeID(effect.target)
        guard !target.rawValue.hasPrefix(Self.reservedPrefix) else { return ([], nil) }
        // When every slot is busy, wait for one (up to 10 s) rather than drop what the user was
        // told is on its way.
        guard let session = try await self.sessionIdle.wait(for: { self.acquire(target) }, timeout: .seconds(10)) else {
            self.context.logger.error("spiegel.coach.cross_effect_dropped", metadata: ["spiegel.reason": "every session slot stayed busy"])
            return ([], nil)
        }
        defer { self.release(target) }
        return try await session.receive(effect)
    }

    /// Whether a conversation (or a question of the service) waits for this coachee's answer: then
    /// what they write is that answer, whatever it looks like.
    public func isAwaitingAnswer(_ coachee: CoacheeID) async throws -> Bool {
        guard !coachee.rawValue.hasPrefix(Self.reservedPrefix) else { return false }
        // Every slot busy: coaching answers (that it is busy) rather than the desk.
        guard let session = self.acquire(coachee) else { return true }
        defer { self.release(coachee) }
        return try await session.isAwaitingAnswer()
    }

    /// The coachee opens the chat (as `spiegel chat` does): `flow`, or the default graph, starts when
    /// no conversation is going on; otherwise Spiegel says where the conversation is.
    public func open(_ coachee: CoacheeID, flow: String? = nil) async throws -> Reply {
        guard !coachee.rawValue.hasPrefix(Self.reservedPrefix) else { return Reply([], .refused) }
        guard let session = self.acquire(coachee) else {
            return Reply([self.context.text("busy", self.context.configuration.defaultLanguage)], .refused)
        }
        defer { self.release(coachee) }
        return try await session.open(flow: flow)
    }

    /// Sends the reminders that are due: one per quiet, unfinished conversation, never during the
    /// quiet hours (those wait for the morning), each journalled in the coachee's history. A
    /// reminder is taken out of the book before it is sent, so a crash can lose one, never repeat it.
    /// - Parameter send: delivers a text to a coachee's direct chat (the transport's job).
    /// - Returns: how many were sent.
    @discardableResult
    public func sendDueReminders(_ send: @Sendable (DueReminder) async throws -> Void) async throws -> Int {
        guard let book = self.context.reminders else { return 0 }
        try await self.loadRemindersOnce(book)
        let now = self.context.now()
        var sent = 0
        if let morning = self.context.endOfQuietHours(after: now) {
            // Quiet hours: what is due waits for the morning.
            for coachee in book.takeDue(at: now) { book.postpone(coachee, to: morning) }
            try await book.save()
            return 0
        }
        let due = book.takeDue(at: now)
        try await book.save()
        for coachee in due {
            guard let session = self.acquire(coachee) else {
                book.postpone(coachee, to: now.addingTimeInterval(300))
                continue
            }
            defer { self.release(coachee) }
            if let reminder = try await session.remind() {
                try await send(DueReminder(coachee: coachee, text: reminder.text, address: reminder.address, kind: reminder.kind))
                sent += 1
            }
        }
        try await book.save()
        return sent
    }

    private let remindersLoaded = Mutex(false)

    private func loadRemindersOnce(_ book: ReminderBook) async throws {
        guard !self.remindersLoaded.withLock({ $0 }) else { return }
        try await book.load()
        self.remindersLoaded.withLock { $0 = true }
    }

    /// How many reminders wait.
    public var pendingReminderCount: Int {
        self.context.reminders?.count ?? 0
    }

    /// Drops from memory every idle session not used for `idle`; they stay on disk.
    @discardableResult
    public func evictIdle(olderThan idle: Duration) -> Int {
        let cutoff = ContinuousClock.now - idle
        return self.sessions.withLock { $0.evictIdle(since: cutoff) }
    }

    private func acquire(_ coachee: CoacheeID) -> CoacheeSession? {
        self.sessions.withLock { sessions in
            if let session = sessions.take(coachee) { return session }
            // Full: the session idle longest makes room; with none idle, push back.
            if sessions.count >= self.context.configuration.maxActiveSessions, sessions.evictOldestIdle() == nil {
                return nil
            }
            let session = CoacheeSession(coachee: coachee, context: self.context)
            sessions.insertTaken(session, for: coachee)
            return session
        }
    }

    private func release(_ coachee: CoacheeID) {
        let isIdle = self.sessions.withLock { $0.give(coachee) }
        if isIdle { self.sessionIdle.signal() }
    }
}

/// The graphs and settings in effect; replaced whole by a reload, read at every use.
final class CoachContent: Sendable {
    /// One version of the content. A class, so that reading the current one takes a reference,
    /// not a copy of every graph, phrase list and setting (it is read many times a message).
    final class Edition: Sendable {
        let library: DialogueLibrary
        let runner: DialogueRunner
        let configuration: CoachConfiguration

        init(library: DialogueLibrary, configuration: CoachConfiguration) {
            self.library = library
            self.runner = DialogueRunner(library: library)
            self.configuration = configuration
        }
    }

    private let state: Mutex<Edition>

    init(library: DialogueLibrary, configuration: CoachConfiguration) {
        self.state = Mutex(Edition(library: library, configuration: configuration))
    }

    var current: Edition {
        self.state.withLock { $0 }
    }

    func replace(library: DialogueLibrary, configuration: CoachConfiguration) {
        let edition = Edition(library: library, configuration: configuration)
        self.state.withLock { $0 = edition }
    }
}

/// What every session shares.
struct SessionContext: Sendable {
    let content: CoachContent
    var library: DialogueLibrary { self.content.current.library }
    var runner: DialogueRunner { self.content.current.runner }
    var configuration: CoachConfiguration { self.content.current.configuration }
    let vault: Vault
    let logger: Logger
    let now: @Sendable () -> Date
    /// The reminder book: quiet conversations (when reminders are on) and follow-ups of plans.
    let reminders: ReminderBook?

    /// A day as coachees and coaches read it, in their time zone: `27/1/2025`.
    func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "d/M/yyyy"
        formatter.timeZone = TimeZone(identifier: self.configuration.timeZone)
        return formatter.string(from: date)
    }

    /// When the quiet hours that `date` falls in end; `nil` outside them.
    func endOfQuietHours(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: self.configuration.timeZone) ?? TimeZone(identifier: "Europe/Brussels")!
        let hour = calendar.component(.hour, from: date)
        let from = self.configuration.quietHours.from, until = self.configuration.quietHours.until
        let quiet = from > until ? (hour >= from || hour < until) : (hour >= from && hour < until)
        guard quiet else { return nil }
        return calendar.nextDate(after: date, matching: DateComponents(hour: until, minute: 0), matchingPolicy: .nextTime)
    }

    /// A service line from `global.yaml` (`service:`), or its English fallback.
    func text(_ key: String, _ language: String, _ values: [String: String] = [:]) -> String {
        self.library.serviceMessage(key, in: language, fallback: ServiceText.fallback[key] ?? key, values)
    }
}

/// English fallbacks of the service's lines, used only when `global.yaml` lacks them.
enum ServiceText {
    static let fallback: [String: String] = [
        "welcome_back": "Welcome back! We were in: {graph}. Say “resume” to go on, or “start again” to begin anew.",
        "forget_confirm": "Do you really want me to erase everything you wrote here? Answer “yes” to erase it all.",
        "forgotten": "Done. Everything you wrote here is erased.",
        "forget_cancelled": "All right, nothing was erased.",
        "export_intro": "This is everything I keep of you:",
        "progress_scores": "Your scores over time: {sparkline} ({scores})",
        "progress_plans": "Your goals and plans:",
        "progress_nothing": "There is no finished conversation yet.",
        "slow_down": "That is quick! Wait a moment and send your answer again.",
        "too_long": "That message is too long for me (more than {max} characters).",
        "busy": "It is very busy right now. Send your message again in a few minutes.",
        "share_at_end": "At the end of a conversation I propose a summary; you choose what your coach sees.",
        "reminder": "Your conversation “{graph}” is still open. Say “resume” whenever it suits you.",
        "follow_up_plan": "Today was the day of your plan: “{plan}”.",
        "follow_up_plan_neutral": "Today was the day of your plan.",
        "follow_up_sign": "Did you see what you named: “{sign}”?",
        "follow_up_how": "How did it go? Say “reflection” to look back on it, or “no follow-ups” if you want no more of these messages.",
        "followups_off": "All right, no more follow-up messages after a plan. Say “follow-ups” to turn them back on.",
        "followups_on": "All right, on the day of your next plan I will ask how it went.",
    ]
}
