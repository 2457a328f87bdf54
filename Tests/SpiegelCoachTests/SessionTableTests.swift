@testable import SpiegelCoach
import SpiegelTestKit
import Testing

/// The sessions kept in memory: which one makes room, and which ones an idle sweep drops.
@Suite struct SessionTableTests {
    /// A session stand-in that says whose it is.
    final class Session: Sendable {
        let name: String
        init(_ name: String) { self.name = name }
    }

    /// A table holding `names`, each taken once and given back in that order, one second apart
    /// from `start`.
    static func table(idle names: [String], from start: ContinuousClock.Instant) -> SessionTable<String, Session> {
        var table = SessionTable<String, Session>()
        for (index, name) in names.enumerated() {
            table.insertTaken(Session(name), for: name)
            table.give(name, at: start + .seconds(index))
        }
        return table
    }

    @Test func theSessionIdleLongestMakesRoomFirst() {
        var table = Self.table(idle: ["an", "bert", "chris"], from: .now)
        let first = table.evictOldestIdle(), second = table.evictOldestIdle()
        #expect([first, second] == ["an", "bert"])
        #expect(table.count == 1)
        #expect(Self.evictingEveryIdle(&table) == ["chris"])
        #expect(table.count == 0)
    }

    @Test func aSessionTakenAgainIsTheNewestWhenGivenBack() {
        let start = ContinuousClock.now
        var table = Self.table(idle: ["an", "bert", "chris"], from: start)
        // The oldest, then one from the middle of the list.
        let an = table.take("an")?.name
        let anIsIdle = table.give("an", at: start + .seconds(10))
        let bert = table.take("bert")?.name
        let bertIsIdle = table.give("bert", at: start + .seconds(11))
        #expect(an == "an" && anIsIdle && bert == "bert" && bertIsIdle)
        #expect(Self.evictingEveryIdle(&table) == ["chris", "an", "bert"])
    }

    @Test func aSessionInUseIsNeverEvicted() {
        let start = ContinuousClock.now
        var table = Self.table(idle: ["an", "bert"], from: start)
        _ = table.take("an")
        _ = table.take("an")
        table.insertTaken(Session("chris"), for: "chris")
        let swept = table.evictIdle(since: start + .seconds(3600))
        #expect(swept == 1)
        #expect(Self.evictingEveryIdle(&table) == [])
        // Two users: idle only when both have given it back.
        let idleAfterOne = table.give("an", at: start + .seconds(5))
        #expect(!idleAfterOne)
        #expect(Self.evictingEveryIdle(&table) == [])
        let idleAfterBoth = table.give("an", at: start + .seconds(6))
        #expect(idleAfterBoth)
        #expect(Self.evictingEveryIdle(&table) == ["an"])
        let chris = table.take("chris")?.name
        #expect(chris == "chris")
        #expect(table.count == 1)
    }

    @Test func anIdleSweepDropsOnlyWhatWasIdleSinceTheCutoff() {
        let start = ContinuousClock.now
        var table = Self.table(idle: ["an", "bert", "chris", "dirk"], from: start)
        let firstSweep = table.evictIdle(since: start + .seconds(1))
        let secondSweep = table.evictIdle(since: start + .seconds(1))
        #expect(firstSweep == 2 && secondSweep == 0)
        let gone = [table.take("an"), table.take("bert")].compactMap(\.?.name)
        #expect(gone.isEmpty)
        #expect(table.count == 2)
        #expect(Self.evictingEveryIdle(&table) == ["chris", "dirk"])
    }

    @Test func givingBackWhatIsNotTakenChangesNothing() {
        let start = ContinuousClock.now
        var table = Self.table(idle: ["an", "bert"], from: start)
        let idleAgain = table.give("an", at: start + .seconds(9))
        let unknown = table.give("nobody", at: start + .seconds(9))
        #expect(!idleAgain && !unknown)
        #expect(Self.evictingEveryIdle(&table) == ["an", "bert"])
    }

    /// Thousands of sessions, taken and given back in a seeded random order: they leave in the
    /// order they last went idle, as sorting the same record says.
    @Test func manySessionsLeaveInTheOrderTheyWentIdle() {
        let start = ContinuousClock.now
        var table = SessionTable<Int, Session>()
        var generator = SeededGenerator(seed: 7)
        var lastIdle: [Int: Int] = [:]
        for step in 0..<20_000 {
            let key = Int(generator.next() % 3_000)
            if table.take(key) == nil { table.insertTaken(Session("\(key)"), for: key) }
            table.give(key, at: start + .milliseconds(step))
            lastIdle[key] = step
        }
        let expected = lastIdle.sorted { $0.value < $1.value }.map(\.key)
        #expect(expected.count > 2_900)
        #expect(Self.evictingEveryIdle(&table) == expected)
    }

    /// Evicts the idle sessions one by one, oldest first, and says whose they were.
    static func evictingEveryIdle<Key>(_ table: inout SessionTable<Key, Session>) -> [Key] {
        var evicted: [Key] = []
        while let key = table.evictOldestIdle() { evicted.append(key) }
        return evicted
    }
}
