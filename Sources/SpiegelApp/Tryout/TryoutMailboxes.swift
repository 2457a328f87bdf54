import Foundation
import ServiceLifecycle
import SpiegelAsync
import SpiegelVault
import Synchronization

/// What the try-out page shows of each conversation: the teacher's messages and Spiegel's, in
/// order, per browser (a room is a browser's random id).
///
/// The vault keeps the conversation; this is its view for the page. A mailbox is filled from the
/// coachee's journal the first time it is needed (after a restart, say), then the route adds the
/// teacher's messages and the ``TryoutTransport`` Spiegel's. The page reads from a position on,
/// waiting for what comes next. A coachee's erasure empties their mailbox.
final class TryoutMailboxes: Sendable {
    /// One line of the conversation as the page shows it.
    struct Item: Sendable, Equatable {
        enum Author: String, Sendable { case teacher, spiegel }
        /// Its position in the mailbox, from 1.
        var sequence: Int
        var author: Author
        var text: String
        /// The page's id of a teacher's message, so the page can match its own.
        var messageID: String?
    }

    /// What the page gets: the lines after its position; all of them when ``reset`` (the page
    /// had another epoch: this process restarted, or the conversation was erased).
    struct Page: Sendable {
        var epoch: String
        var items: [Item]
        var reset: Bool
        var next: Int
        /// Why the Prompts in effect are not those on disk: the last reload's refusal.
        var problem: String?
        /// Counts reloads, so a page learns of one while it waits.
        var reloads: Int
    }

    private struct Mailbox {
        var pseudonym: Pseudonym
        var items: [Item] = []
        var nextSequence = 1
        /// Counts erasures, part of the epoch.
        var erasures = 0
        /// Texts of Spiegel read from the journal, which the outbox may deliver again after a
        /// crash between the turn's commit and its delivery (only entries an earlier process
        /// queued are matched against them).
        var journalledSpiegel: [String] = []
        var lastUsed: ContinuousClock.Instant

        mutating func append(_ author: Item.Author, _ text: String, messageID: String? = nil) -> Item {
            let item = Item(sequence: self.nextSequence, author: author, text: text, messageID: messageID)
            self.nextSequence += 1
            self.items.append(item)
            if self.items.count > TryoutMailboxes.keptItems { self.items.removeFirst(self.items.count - TryoutMailboxes.keptItems) }
            return item
        }
    }

    /// Lines kept per conversation: the page shows the most recent.
    static let keptItems = 400
    /// Conversations kept in memory; the least recently used is dropped (and read from the vault
    /// again when its page comes back).
    static let keptMailboxes = 1000

    private let vault: Vault
    /// Changes with every process: a page of an earlier one reads everything again.
    private let processEpoch: String
    private let startedAt = Date()
    private let mailboxes = Mutex<[String: Mailbox]>([:])
    private let reload = Mutex<(count: Int, problem: String?)>((0, nil))
    private let changed = AsyncCondition()

    init(vault: Vault) {
        self.vault = vault
        self.processEpoch = String(UInt32.random(in: .min ... .max), radix: 36)
        vault.onErasure { [weak self] pseudonym in self?.erase(pseudonym) }
    }

    /// The coachee id of a browser's try-out conversation.
    static func coachee(of room: String) -> CoacheeID {
        CoacheeID(TryoutTransport.userPrefix + room)
    }

    /// Adds a teacher's message (once per `messageID`), before it goes to the gateway, so that
    /// Spiegel's replies come after it.
    /// - Returns: whether it was added (`false`: a message with this id is there already).
    func addTeacherMessage(_ text: String, id: String, room: String) async throws -> Bool {
        try await self.load(room)
        let added = self.mailboxes.withLock { mailboxes -> Bool in
            guard var mailbox = mailboxes[room] else { return false }
            if mailbox.items.contains(where: { $0.messageID == id }) { return false }
            _ = mailbox.append(.teacher, text, messageID: id)
            mailboxes[room] = mailbox
            return true
        }
        if added { self.changed.signal() }
        return added
    }

    /// Takes back a teacher's message the gateway did not keep.
    func removeTeacherMessage(id: String, room: String) {
        self.mailboxes.withLock { mailboxes in
            mailboxes[room]?.items.removeAll { $0.messageID == id }
        }
        self.changed.signal()
    }

    /// Adds what Spiegel says in `room`.
    /// - Parameter queuedAt: when the outbox took it: one taken before this process started may
    ///   be in the journal already (a crash between the turn's commit and its delivery).
    func addSpiegelMessage(_ text: String, room: String, queuedAt: Date?) async throws {
        try await self.load(room)
        let fromEarlierProcess = queuedAt.map { $0 < self.startedAt } ?? false
        self.mailboxes.withLock { mailboxes in
            guard var mailbox = mailboxes[room] else { return }
            if fromEarlierProcess, let index = mailbox.journalledSpiegel.firstIndex(of: text) {
                // Already read from the journal: delivered again after a restart.
                mailbox.journalledSpiegel.remove(at: index)
            } else {
                _ = mailbox.append(.spiegel, text)
            }
            mailboxes[room] = mailbox
        }
        self.changed.signal()
    }

    /// Records a reload of the Prompts: `problem` is why it was refused, `nil` when it was taken.
    /// Every waiting page hears of it.
    func reloaded(problem: String?) {
        self.reload.withLock { $0 = ($0.count + 1, problem) }
        self.changed.signal()
    }

    /// The lines after `position` for a page of `epoch` that has seen `reloads` reloads,
    /// waiting up to `wait` for a line or a reload to come.
    func page(room: String, after position: Int, epoch: String?, reloads seen: Int?, wait: Duration) async throws -> Page {
        try await self.load(room)
        let read = { @Sendable () -> Page? in
            let reload = self.reload.withLock { $0 }
            return self.mailboxes.withLock { mailboxes -> Page? in
                guard var mailbox = mailboxes[room] else { return nil }
                mailbox.lastUsed = .now
                mailboxes[room] = mailbox
                let current = "\(self.processEpoch).\(mailbox.erasures)"
                if epoch != current {
                    return Page(epoch: current, items: mailbox.items, reset: true, next: mailbox.nextSequence - 1, problem: reload.problem, reloads: reload.count)
                }
                let items = mailbox.items.filter { $0.sequence > position }
                return Page(
                    epoch: current, items: items, reset: false, next: max(position, mailbox.nextSequence - 1), problem: reload.problem, reloads: reload.count
                )
            }
        }
        if wait > .zero {
            do {
                // A server going down answers its waiting pages at once (they come back after).
                let changed = self.changed
                let waited = try await cancelWhenGracefulShutdown {
                    try await changed.wait(for: { read().flatMap { $0.items.isEmpty && !$0.reset && $0.reloads == seen ? nil : $0 } }, timeout: wait)
                }
                if let waited { return waited }
            } catch is CancellationError {
                // Answered with what there is.
            }
        }
        guard let page = read() else { throw TryoutError.conversationUnavailable }
        return page
    }

    /// Reads the mailbox of `room` from the journal when it is not in memory.
    private func load(_ room: String) async throws {
        if self.mailboxes.withLock({ $0[room] != nil }) { return }
        let coachee = Self.coachee(of: room)
        var mailbox = Mailbox(pseudonym: self.vault.pseudonym(of: coachee), lastUsed: .now)
        if self.vault.contains(coachee) {
            for record in try await self.vault.records(for: coachee) {
                switch record.type {
                case .messageIn:
                    _ = mailbox.append(.teacher, String(decoding: record.payload, as: UTF8.self))
                case .messageOut:
                    let text = String(decoding: record.payload, as: UTF8.self)
                    _ = mailbox.append(.spiegel, text)
                    mailbox.journalledSpiegel.append(text)
                default:
                    break
                }
            }
            // Only the last turn's texts can come again.
            mailbox.journalledSpiegel = Array(mailbox.journalledSpiegel.suffix(8))
        }
        self.mailboxes.withLock { mailboxes in
            if mailboxes[room] == nil { mailboxes[room] = mailbox }
            if mailboxes.count > Self.keptMailboxes, let oldest = mailboxes.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                mailboxes[oldest] = nil
            }
        }
    }

    /// Empties the mailbox of an erased coachee; its page starts again from nothing.
    private func erase(_ pseudonym: Pseudonym) {
        self.mailboxes.withLock { mailboxes in
            for (room, mailbox) in mailboxes where mailbox.pseudonym == pseudonym {
                var emptied = mailbox
                emptied.items = []
                emptied.journalledSpiegel = []
                emptied.erasures += 1
                mailboxes[room] = emptied
            }
        }
        self.changed.signal()
    }
}

/// Why a try-out request could not be answered.
enum TryoutError: Error {
    case conversationUnavailable
}
