/// Paces outgoing lines so that no server takes the bot for a flooder: a token bucket holding
/// `burst` lines, refilled continuously with one line per `interval`.
///
/// The defaults, 4 lines at once and then one every 2 seconds, stay under the common limits:
/// - ngircd handles 3 commands and 256 bytes a second from a client, delays the rest, and
///   disconnects a client whose 2 KiB read buffer fills ("Receive buffer space exhausted").
///   Four lines are at most 2048 bytes, and one 512-byte line per 2 seconds is 256 bytes a second,
///   so the backlog never grows.
/// - InspIRCd's default connect class (`commandrate="1000"`: one command a second;
///   `threshold="10"`) lag-delays a client past 10 penalty points, and with `fakelag="no"` quits
///   it with "Excess Flood". Four at once then one per 2 seconds never gets near.
/// - RFC 1459 §8.10 (2 seconds per message, 10 seconds ahead) allows this too.
///
/// Pure: ``reserve(now:)`` says how long to wait, the caller sleeps.
public struct IRCFloodControl: Sendable {
    /// How many lines may go out at once after a quiet spell.
    public let burst: Int
    /// How long one line's token takes to come back.
    public let interval: Duration
    /// When the bucket would be full again had nothing more been sent (GCRA's theoretical
    /// arrival time); `nil` before the first line.
    private var fullAt: ContinuousClock.Instant?

    /// - Parameters:
    ///   - burst: Lines sent without waiting; at least 1.
    ///   - interval: Time per line once the burst is spent; negative counts as zero.
    public init(burst: Int = 4, interval: Duration = .milliseconds(2000)) {
        self.burst = max(1, burst)
        self.interval = max(.zero, interval)
    }

    /// Takes the next line's token and returns how long to wait before sending it: zero while the
    /// bucket holds a token. Every call reserves one line, so calls stack up into a queue.
    public mutating func reserve(now: ContinuousClock.Instant) -> Duration {
        let full = max(fullAt ?? now, now)
        let sendAt = max(now, full - interval * (burst - 1))
        fullAt = full + interval
        return sendAt - now
    }
}
