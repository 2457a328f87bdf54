import SpiegelChat
import Testing

/// The outgoing token bucket, driven by instants computed from one reading of the clock.
@Suite struct IRCFloodControlTests {
    private let start = ContinuousClock.now

    @Test func burstGoesOutAtOnceThenLinesQueueTwoSecondsApart() {
        var control = IRCFloodControl()
        let waits = (0..<7).map { _ in control.reserve(now: start) }
        #expect(waits == [.zero, .zero, .zero, .zero, .seconds(2), .seconds(4), .seconds(6)])
    }

    @Test func tokensRefillContinuously() {
        var control = IRCFloodControl()
        for _ in 0..<4 { _ = control.reserve(now: start) }
        // 1.5 tokens came back by now: one line is free, the next waits for the second half.
        #expect(control.reserve(now: start + .seconds(3)) == .zero)
        #expect(control.reserve(now: start + .seconds(3)) == .seconds(1))
        #expect(control.reserve(now: start + .milliseconds(3500)) == .milliseconds(2500))
    }

    @Test func quietSpellRefillsNoMoreThanTheBurst() {
        var control = IRCFloodControl()
        for _ in 0..<4 { _ = control.reserve(now: start) }
        let later = start + .seconds(600)
        let waits = (0..<5).map { _ in control.reserve(now: later) }
        #expect(waits == [.zero, .zero, .zero, .zero, .seconds(2)])
    }

    @Test func customBurstAndInterval() {
        var control = IRCFloodControl(burst: 1, interval: .milliseconds(500))
        #expect(control.reserve(now: start) == .zero)
        #expect(control.reserve(now: start) == .milliseconds(500))
        #expect(control.reserve(now: start + .milliseconds(400)) == .milliseconds(600))
        #expect(IRCFloodControl(burst: 0).burst == 1)
    }

    /// A sender that sleeps as told never passes the limits the defaults are chosen for.
    @Test func obedientSenderStaysUnderServerLimits() {
        var control = IRCFloodControl()
        var now = start
        var sendTimes: [ContinuousClock.Instant] = []
        for index in 0..<200 {
            // Bursts of replies with pauses between them.
            if index.isMultiple(of: 17) { now += .seconds(index % 3 * 5) }
            now += control.reserve(now: now)
            sendTimes.append(now)
        }
        // RFC 1459 §8.10 and InspIRCd's default penalty: a timer that gains 2 s a line (InspIRCd: 1 s
        // at commandrate 1000) and never runs more than 10 s ahead of the clock.
        var timer = start
        for time in sendTimes {
            timer = max(timer, time) + .seconds(2)
            #expect(timer - time <= .seconds(10))
        }
        // ngircd: no more than 4 lines (2048 bytes) within any 2 seconds.
        for (index, time) in sendTimes.enumerated() {
            #expect(sendTimes[index...].prefix { $0 < time + .seconds(2) }.count <= 4)
        }
    }
}
