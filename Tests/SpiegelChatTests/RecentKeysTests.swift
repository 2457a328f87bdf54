import Testing

@testable import SpiegelChat

/// The outbox's memory of keys it has seen: the last ones, the oldest forgotten first.
@Suite struct RecentKeysTests {
    @Test func aKeyIsTakenOnce() {
        var keys = RecentKeys(limit: 3)
        let first = keys.insert("a/m1#0"), again = keys.insert("a/m1#0")
        #expect(first)
        #expect(!again)
        #expect(keys.contains("a/m1#0"))
        #expect(!keys.contains("a/m2#0"))
    }

    /// Far past the limit, again and again (the order is compacted on the way): exactly the last
    /// `limit` keys are known, whatever came before.
    @Test(arguments: [1, 2, 7, 100])
    func theLastKeysAreKeptAndTheOlderForgotten(limit: Int) {
        var keys = RecentKeys(limit: limit)
        let all = (0..<(limit * 5 + 3)).map { "k\($0)" }
        for (index, key) in all.enumerated() {
            let inserted = keys.insert(key)
            // A repeat of a key still known changes nothing.
            let repeated = keys.insert(key)
            #expect(inserted)
            #expect(!repeated)
            let kept = all[max(0, index + 1 - limit)...index]
            #expect(keys.count == kept.count)
            #expect(kept.allSatisfy { keys.contains($0) })
            #expect(all[..<max(0, index + 1 - limit)].allSatisfy { !keys.contains($0) })
        }
        // A forgotten key is new again.
        let forgotten = keys.insert("k0")
        #expect(forgotten)
    }
}
