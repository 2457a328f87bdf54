@testable import SpiegelUnderstanding
import Testing

/// The model's feature table and the sparse vectors it reads: the same answers as the plain
/// dictionary arithmetic they stand in for.
@Suite struct FeatureTableTests {
    @Test func everyFeatureFindsItsRowAndNoOtherHashDoes() {
        var random = SplitMix64(seed: 23)
        var dictionary: [UInt64: Int32] = [:]
        while dictionary.count < 50_000 { dictionary[random.next()] = Int32(dictionary.count) }
        // Hashes that share the low and the high bits, which land near each other.
        for offset in 0..<64 { dictionary[UInt64(offset) << 58 | 7] = Int32(dictionary.count) }
        let table = FeatureRows(dictionary)
        #expect(table.count == dictionary.count)
        let wrong = dictionary.filter { table[$0.key] != $0.value }
        #expect(wrong.isEmpty)
        var misses = 0, found = 0
        for _ in 0..<50_000 {
            let hash = random.next()
            if dictionary[hash] == nil { misses += 1; if table[hash] != nil { found += 1 } }
        }
        #expect(misses > 49_000 && found == 0)
    }

    @Test func anEmptyTableFindsNothing() {
        let table = FeatureRows([:])
        #expect(table.count == 0 && table[0] == nil && table[.max] == nil)
    }

    /// Groups with repeats, and hashes in both groups: each group's distinct hashes weigh
    /// `weight / √distinct`, a shared hash the sum, in order of hash.
    @Test func aSparseVectorSumsWhatItsGroupsShare() {
        var random = SplitMix64(seed: 5)
        for _ in 0..<200 {
            let shared = (0..<Int(random.next() % 6)).map { _ in random.next() % 50 }
            let words = (0..<Int(random.next() % 30)).map { _ in random.next() % 50 } + shared
            let characters = (0..<Int(random.next() % 90)).map { _ in random.next() % 200 } + shared
            let vector = SparseVector(groups: [(words, 1), (characters, 0.5)])
            var expected: [UInt64: Float] = [:]
            for (hashes, weight) in [(words, Float(1)), (characters, Float(0.5))] where !hashes.isEmpty {
                let distinct = Set(hashes)
                for hash in distinct { expected[hash, default: 0] += weight / Float(distinct.count).squareRoot() }
            }
            #expect(vector.hashes == expected.keys.sorted())
            #expect(vector.values == vector.hashes.map { expected[$0]! })
        }
    }
}
