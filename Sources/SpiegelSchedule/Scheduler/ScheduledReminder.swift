public import Foundation

/// One reminder to post in a team's room at `due`: what ``SchedulePlanner`` computes and
/// ``Scheduler`` fires exactly once.
///
/// The payload holds only what is needed to render the message: names, dates, a configured
/// text. Never anything a teacher said.
public struct ScheduledReminder: Codable, Hashable, Sendable {
    /// What kind of reminder.
    public enum Kind: String, Codable, Hashable, Sendable {
        /// Time for the round's intervision meeting.
        case intervision
        /// An observed lesson of a round is coming up.
        case lessonReminder
        /// An occurrence of a configured recurring rule.
        case recurring
    }

    /// What the message is about.
    public enum Payload: Codable, Hashable, Sendable {
        /// The round `roundID` had its last observed lesson on `lastLessonDay`; `groups` is the
        /// proposed split of the team (one plenary group, or two; see ``GroupSplit``).
        case intervision(roundID: String, lastLessonDay: DateComponents, groups: [[String]])
        /// The duo `duo` (names) of round `roundID` observes a lesson on `lessonDay`, at `time`
        /// when one was planned.
        case lessonReminder(roundID: String, duo: [String], lessonDay: DateComponents, time: LocalTime?)
        /// The rule `ruleName` fires; `message` is the configured text, if any.
        case recurring(ruleName: String, message: String?)
    }

    /// Stable across plannings, the key of exactly-once firing:
    /// `"round:<roundID>:intervision"`, `"round:<roundID>:lesson:<duo index>:<YYYY-MM-DD>"`,
    /// `"rule:<team>:<ruleName>:<YYYY-MM-DD>"` (the local day it fires on).
    public var id: String
    /// The team (its identifier) whose room gets the reminder.
    public var team: String
    /// When to post it.
    public var due: Date
    /// The message's content: names and dates.
    public var payload: Payload

    public init(id: String, team: String, due: Date, payload: Payload) {
        self.id = id
        self.team = team
        self.due = due
        self.payload = payload
    }

    /// The kind, from the payload.
    public var kind: Kind {
        switch payload {
        case .intervision: .intervision
        case .lessonReminder: .lessonReminder
        case .recurring: .recurring
        }
    }
}
