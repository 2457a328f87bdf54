/// The sessions kept in memory, with the idle ones in the order they went idle.
///
/// Taking, returning and evicting a session each cost a few dictionary look-ups, however many
/// are kept: the idle ones form a list linked through their keys, oldest first. A session in use
/// is never evicted. Not thread-safe: the service holds it under its lock.
struct SessionTable<Key: Hashable, Session> {
    private struct Slot {
        var session: Session
        /// How many messages and requests are using the session now.
        var users: Int
        /// When the last user returned it (meaningful only while idle).
        var idleSince: ContinuousClock.Instant
        /// The neighbours in the idle list (both `nil` while in use).
        var olderIdle: Key?
        var newerIdle: Key?
    }

    private var slots: [Key: Slot] = [:]
    private var oldestIdle: Key?
    private var newestIdle: Key?

    /// How many sessions are in memory, in use or idle.
    var count: Int { self.slots.count }

    /// Takes the session kept for `key`, if there is one, for one more user.
    mutating func take(_ key: Key) -> Session? {
        guard var slot = self.slots[key] else { return nil }
        if slot.users == 0 { self.unlinkIdle(key, &slot) }
        slot.users += 1
        self.slots[key] = slot
        return slot.session
    }

    /// Keeps a new session for `key`, taken by its first user.
    /// - Precondition: nothing is kept for `key`.
    mutating func insertTaken(_ session: Session, for key: Key) {
        precondition(self.slots[key] == nil, "a session is kept for this key already")
        self.slots[key] = Slot(session: session, users: 1, idleSince: .now)
    }

    /// Gives one user's hold back; the session becomes the newest idle one when it was the last.
    /// - Returns: whether the session is idle now.
    @discardableResult
    mutating func give(_ key: Key, at now: ContinuousClock.Instant = .now) -> Bool {
        guard var slot = self.slots[key], slot.users > 0 else { return false }
        slot.users -= 1
        if slot.users == 0 {
            slot.idleSince = now
            slot.olderIdle = self.newestIdle
            slot.newerIdle = nil
            if let newest = self.newestIdle { self.slots[newest]?.newerIdle = key } else { self.oldestIdle = key }
            self.newestIdle = key
        }
        self.slots[key] = slot
        return slot.users == 0
    }

    /// Drops the session idle longest.
    /// - Returns: its key, or `nil` when every session is in use.
    mutating func evictOldestIdle() -> Key? {
        guard let oldest = self.oldestIdle, var slot = self.slots[oldest] else { return nil }
        self.unlinkIdle(oldest, &slot)
        self.slots[oldest] = nil
        return oldest
    }

    /// Drops every session idle since `cutoff` or before.
    /// - Returns: how many.
    mutating func evictIdle(since cutoff: ContinuousClock.Instant) -> Int {
        var evicted = 0
        while let oldest = self.oldestIdle, let slot = self.slots[oldest], slot.idleSince <= cutoff {
            _ = self.evictOldestIdle()
            evicted += 1
        }
        return evicted
    }

    private mutating func unlinkIdle(_ key: Key, _ slot: inout Slot) {
        if let older = slot.olderIdle { self.slots[older]?.newerIdle = slot.newerIdle } else { self.oldestIdle = slot.newerIdle }
        if let newer = slot.newerIdle { self.slots[newer]?.olderIdle = slot.olderIdle } else { self.newestIdle = slot.olderIdle }
        slot.olderIdle = nil
        slot.newerIdle = nil
    }
}
