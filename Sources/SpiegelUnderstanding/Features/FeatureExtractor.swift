/// Turns a message into the sparse features of the linear model: hashed word unigrams, bigrams and
/// trigrams, character n-grams of 3 to 5 letters within words (typos, inflections, compounds),
/// negation (the words after "niet", "geen", "not"… are also seen as negated), the length and
/// whether it asks something.
///
/// The hash is FNV-1a over the feature's bytes: the same on every machine and every run, so a model
/// trained once is the model everywhere.
public struct FeatureExtractor: Sendable {
    /// Words that negate the next few.
    static let negations: Set<String> = ["niet", "geen", "nooit", "niets", "not", "no", "never", "dont", "nothing", "nobody", "niemand"]
    /// How many words a negation reaches.
    static let negationScope = 3

    public init(characterWeight: Float = 0.5) {
        self.characterWeight = characterWeight
    }

    /// How much the character n-grams weigh against the words (each group has unit length first).
    public let characterWeight: Float

    /// The features of `text`: distinct hashes with their values.
    public func features(of text: String) -> SparseVector {
        self.features(of: text, words: UtteranceNormalizer.words(text))
    }

    /// The features of `text`, whose ``UtteranceNormalizer/words(_:)`` are `words`.
    func features(of text: String, words: [String]) -> SparseVector {
        let words = words.map { Array($0.utf8) }
        var wordHashes: [UInt64] = []
        var characterHashes: [UInt64] = []
        wordHashes.reserveCapacity(words.count * 4 + 2)
        characterHashes.reserveCapacity(words.count * 12)
        var negated = 0
        for (index, bytes) in words.enumerated() {
            wordHashes.append(FNV.hash(bytes, seed: 1))
            if negated > 0 { wordHashes.append(FNV.hash(bytes, seed: 2)) }
            negated = Self.negationHashes.contains(FNV.hash(bytes, seed: 0)) ? Self.negationScope : max(0, negated - 1)
            if index > 0 {
                wordHashes.append(FNV.hash(bytes, after: FNV.hash(words[index - 1], seed: 3)))
            }
            if index > 1 {
                wordHashes.append(FNV.hash(bytes, after: FNV.hash(words[index - 1], after: FNV.hash(words[index - 2], seed: 4))))
            }
            // Character n-grams of the word with its edges marked: "<ik>" gives "<ik", "ik>", "<ik>".
            let count = bytes.count + 2
            for length in 3...5 where length <= count {
                for start in 0...(count - length) {
                    var hash = FNV.start(seed: 5)
                    for offset in start..<(start + length) {
                        hash = FNV.add(offset == 0 ? 60 : offset == count - 1 ? 62 : bytes[offset - 1], to: hash)
                    }
                    characterHashes.append(hash)
                }
            }
        }
        let lengthBucket: UInt8 = words.count <= 1 ? 1 : words.count <= 3 ? 2 : words.count <= 7 ? 3 : words.count <= 15 ? 4 : 5
        wordHashes.append(FNV.hash([lengthBucket], seed: 6))
        if text.utf8.contains(63) { wordHashes.append(FNV.hash([63], seed: 7)) }
        return SparseVector(groups: [(wordHashes, 1), (characterHashes, self.characterWeight)])
    }

    private static let negationHashes = Set(Self.negations.map { FNV.hash(Array($0.utf8), seed: 0) })
}

/// Distinct feature hashes with their values: each group of features has the given length.
public struct SparseVector: Sendable {
    public let hashes: [UInt64]
    public let values: [Float]

    /// Each group's distinct hashes get `weight / √distinct`; a hash in several groups gets the
    /// sum, added in the groups' order.
    init(groups: [(hashes: [UInt64], weight: Float)]) {
        var hashes: [UInt64] = []
        var values: [Float] = []
        for group in groups {
            var distinct = group.hashes
            distinct.sort()
            var count = 0
            for index in distinct.indices where index == 0 || distinct[index] != distinct[index - 1] {
                distinct[count] = distinct[index]
                count += 1
            }
            guard count > 0 else { continue }
            (hashes, values) = Self.merge(hashes, values, distinct.prefix(count), group.weight / Float(count).squareRoot())
        }
        self.hashes = hashes
        self.values = values
    }

    /// The sorted features `hashes`/`values` with the sorted, distinct `added`, each of value
    /// `value`: a hash in both keeps one place, its value the sum.
    private static func merge(
        _ hashes: [UInt64], _ values: [Float], _ added: ArraySlice<UInt64>, _ value: Float
    ) -> ([UInt64], [Float]) {
        var mergedHashes: [UInt64] = [], mergedValues: [Float] = []
        mergedHashes.reserveCapacity(hashes.count + added.count)
        mergedValues.reserveCapacity(hashes.count + added.count)
        var old = 0, new = added.startIndex
        while old < hashes.count || new < added.endIndex {
            if new == added.endIndex || (old < hashes.count && hashes[old] < added[new]) {
                mergedHashes.append(hashes[old])
                mergedValues.append(values[old])
                old += 1
            } else if old == hashes.count || added[new] < hashes[old] {
                mergedHashes.append(added[new])
                mergedValues.append(value)
                new += 1
            } else {
                mergedHashes.append(hashes[old])
                mergedValues.append(values[old] + value)
                old += 1
                new += 1
            }
        }
        return (mergedHashes, mergedValues)
    }
}

/// The 64-bit FNV-1a hash, with a seed byte that keeps kinds of features apart; n-grams of words
/// hash on from the hash of the words before, with a space between.
enum FNV {
    static func start(seed: UInt8) -> UInt64 {
        self.add(seed, to: 0xcbf2_9ce4_8422_2325)
    }

    @inline(__always) static func add(_ byte: UInt8, to hash: UInt64) -> UInt64 {
        (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    static func hash(_ bytes: [UInt8], seed: UInt8) -> UInt64 {
        self.hash(bytes, after: self.start(seed: seed), separated: false)
    }

    static func hash(_ bytes: [UInt8], after previous: UInt64, separated: Bool = true) -> UInt64 {
        var hash = separated ? self.add(32, to: previous) : previous
        for byte in bytes { hash = self.add(byte, to: hash) }
        return hash
    }
}
