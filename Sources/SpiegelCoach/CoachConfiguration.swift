/// How the coaching service treats sessions, floods and long messages.
public struct CoachConfiguration: Sendable, Equatable {
    /// After this long without a message, a conversation counts as paused: the next message is met
    /// with "welcome back" and the choice to go on or start again.
    public var pauseAfter: Duration = .seconds(2 * 3600)
    /// Longer messages are refused with a clear reply, never cut short.
    public var maxMessageLength: Int = 4000
    /// How many messages a coachee may send in a burst before the rate limit applies.
    public var rateLimitBurst: Int = 10
    /// After a burst, one more message is allowed per this interval.
    public var rateLimitInterval: Duration = .seconds(2)
    /// A message over the burst waits for its token up to this long (kept, answered in turn);
    /// beyond it, it is refused with a time to send it again.
    public var rateLimitMaxWait: Duration = .seconds(10)
    /// How many coachees are kept in memory at once; beyond it the least recently active idle one
    /// is evicted (it is on disk), and when every one is busy the newcomer is asked to retry.
    public var maxActiveSessions: Int = 2000
    /// The language of a coachee whose first message does not tell.
    public var defaultLanguage: String = "nl"
    /// After this long without a message in an unfinished conversation, one gentle reminder is
    /// sent, never more; `nil` (the default) sends none.
    public var reminderAfter: Duration?
    /// The time zone of the coachees (IANA), for the quiet hours.
    public var timeZone: String = "Europe/Brussels"
    /// No reminder goes out in these hours (local time); one due in between waits for the morning.
    public var quietHours = QuietHours(from: 21, until: 8)
    /// Coach pairings set by the school: coachee user id to coach user id, accepted as they are.
    /// A coachee can still end one in chat ("geen coach meer" applies to pairings made in chat;
    /// one from config is changed in config).
    public var pairings: [String: String] = [:]

    public init() {}
}

/// Hours of the day (local time) in which no reminder is sent: from `from` until `until`, across
/// midnight when `from` is the later hour.
public struct QuietHours: Sendable, Equatable {
    public var from: Int
    public var until: Int

    public init(from: Int, until: Int) {
        self.from = from
        self.until = until
    }
}
