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

    public init(characterWeight: Float = 0.3) {
        self.characterWeight = characterWeight
    }

    /// How much the character n-grams weigh against the words (each group has unit length first).
    public let characterWeight: Float

    /// The features of `text`: distinct hashes with their values.
    public func features(of text: String) -> SparseVector {
        let words = UtteranceNormalizer.words(text)
        var wordHashes: [UInt64] = []
        var characterHashes: [UInt64] = []
        wordHashes.reserveCapacity(words.count * 4 + 2)
        characterHashes.reserveCapacity(words.count * 12)
        var negated = 0
        for (index, word) in words.enumerated() {
            let bytes = Array(word.utf8)
            wordHashes.append(FNV.hash(bytes, seed: 1))
            if negated > 0 { wordHashes.append(FNV.hash(bytes, seed: 2)) }
            negated = Self.negations.contains(word) ? Self.negationScope : max(0, negated - 1)
            if index > 0 {
                wordHashes.append(FNV.hash(Array(words[index - 1].utf8) + [32] + bytes, seed: 3))
            }
            if index > 1 {
                wordHashes.append(FNV.hash(Array(words[index - 2].utf8) + [32] + Array(words[index - 1].utf8) + [32] + bytes, seed: 4))
            }
            // Character n-grams of the word with its edges marked: "<ik>" gives "<ik", "ik>", "<ik>".
            let marked: [UInt8] = [60] + bytes + [62]
            for length in 3...5 where length <= marked.count {
                for start in 0...(marked.count - length) {
                    characterHashes.append(FNV.hash(marked[start..<(start + length)], seed: 5))
                }
            }
        }
        let lengthBucket: UInt8 = words.count <= 1 ? 1 : words.count <= 3 ? 2 : words.count <= 7 ? 3 : words.count <= 15 ? 4 : 5
        wordHashes.append(FNV.hash([lengthBucket], seed: 6))
        if text.contains("?") { wordHashes.append(FNV.hash([63], seed: 7)) }
        return SparseVector(groups: [(wordHashes, 1), (characterHashes, self.characterWeight)])
    }
}

/// Distinct feature hashes with their values: each group of features has the given length.
public struct SparseVector: Sendable {
    public let hashes: [UInt64]
    public let values: [Float]

    init(groups: [(hashes: [UInt64], weight: Float)]) {
        var values: [UInt64: Float] = [:]
        for group in groups {
            let distinct = Set(group.hashes)
            guard !distinct.isEmpty else { continue }
            let value = group.weight / Float(distinct.count).squareRoot()
            for hash in distinct { values[hash, default: 0] += value }
        }
        let sorted = values.sorted { $0.key < $1.key }
        self.hashes = sorted.map(\.key)
        self.values = sorted.map(\.value)
    }
}

/// The 64-bit FNV-1a hash, with a seed byte that keeps kinds of features apart.
enum FNV {
    static func hash<Bytes: Collection<UInt8>>(_ bytes: Bytes, seed: UInt8) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        hash = (hash ^ UInt64(seed)) &* 0x0000_0100_0000_01b3
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
