public import Foundation

/// What the scheduler has done, persisted between runs: reminder id → when it was fired (or
/// dropped as too late). A reminder in ``fired`` is never considered again.
public struct SchedulerState: Codable, Hashable, Sendable {
    /// Reminder id → the instant it was fired or dropped.
    public var fired: [String: Date]

    /// How long entries are kept by default: 400 days, more than a school year, so a yearly
    /// rule's id cannot come back while it is forgotten.
    public static let defaultRetention: Duration = .seconds(400 * 24 * 3600)

    public init(fired: [String: Date] = [:]) {
        self.fired = fired
    }

    /// Whether the reminder `id` was fired (or dropped) already.
    public func hasFired(_ id: String) -> Bool { fired[id] != nil }

    /// Records `ids` as fired at `date`; an id recorded before keeps its first date.
    public mutating func markFired(_ ids: some Sequence<String>, at date: Date) {
        for id in ids where fired[id] == nil { fired[id] = date }
    }

    /// Forgets entries recorded more than `retention` before `now`. Safe as long as the
    /// retention is longer than the scheduler's grace: a forgotten reminder is then long past
    /// its grace and would only be dropped again, never fired.
    public mutating func prune(now: Date, retention: Duration = SchedulerState.defaultRetention) {
        let cutoff = now.addingTimeInterval(-retention.schedulerSeconds)
        fired = fired.filter { $0.value >= cutoff }
    }
}

/// The exactly-once core: decides which reminders fire now, pure, with the clock passed in.
///
/// The caller's loop, and its contract:
/// 1. plan the reminders (``SchedulePlanner``), load the persisted ``SchedulerState``;
/// 2. `let (toFire, dropped) = Scheduler.claim(reminders:state:now:grace:)` — or ``due(reminders:state:now:grace:)``
///    followed by ``SchedulerState/markFired(_:at:)`` for both lists;
/// 3. **persist the state (durably) BEFORE sending anything**, then send `toFire` in order and
///    log `dropped`;
/// 4. sleep until ``nextWake(reminders:state:now:)`` (or the end of the planning window).
///
/// Because the state is saved first, a crash between saving and sending loses those reminders
/// (at most the ones of that one step) but can never send one twice.
public enum Scheduler {
    /// Of `reminders`, those not in `state` whose `due <= now`: the ones at most `grace` late
    /// (`now - due <= grace`) fire, older ones are dropped (the caller logs them). Both in due
    /// order (then id), each id once. Does not change `state`: mark both lists fired before
    /// sending so neither is ever reconsidered.
    public static func due(
        reminders: [ScheduledReminder], state: SchedulerState, now: Date, grace: Duration
    ) -> (toFire: [ScheduledReminder], dropped: [ScheduledReminder]) {
        let graceSeconds = grace.schedulerSeconds
        var seen: Set<String> = []
        var toFire: [ScheduledReminder] = []
        var dropped: [ScheduledReminder] = []
        for reminder in reminders.sorted(by: { ($0.due, $0.id) < ($1.due, $1.id) })
        where reminder.due <= now && !state.hasFired(reminder.id) && seen.insert(reminder.id).inserted {
            if now.timeIntervalSince(reminder.due) <= graceSeconds {
                toFire.append(reminder)
            } else {
                dropped.append(reminder)
            }
        }
        return (toFire, dropped)
    }

    /// ``due(reminders:state:now:grace:)``, then marks both lists fired at `now` in `state` and
    /// prunes it with the default retention. Persist `state` before sending `toFire`.
    public static func claim(
        reminders: [ScheduledReminder], state: inout SchedulerState, now: Date, grace: Duration
    ) -> (toFire: [ScheduledReminder], dropped: [ScheduledReminder]) {
        let result = due(reminders: reminders, state: state, now: now, grace: grace)
        state.markFired((result.toFire + result.dropped).map(\.id), at: now)
        state.prune(now: now)
        return result
    }

    /// When the caller should run next: `now` if a reminder not yet fired is due already, else
    /// the earliest due of those not fired, `nil` when there is none (plan again later).
    public static func nextWake(
        reminders: [ScheduledReminder], state: SchedulerState, now: Date
    ) -> Date? {
        guard let earliest = reminders.lazy.filter({ !state.hasFired($0.id) }).map(\.due).min() else {
            return nil
        }
        return max(earliest, now)
    }
}

extension Duration {
    /// In seconds, for `Date` arithmetic.
    var schedulerSeconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
