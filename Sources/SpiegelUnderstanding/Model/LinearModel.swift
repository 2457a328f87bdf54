import Foundation

/// One logistic regression per label over the same hashed features (one-vs-rest), so a message
/// can carry several labels. Trained with AdaGrad over the examples in a seeded order: the same
/// examples always give the same model.
///
/// Only features seen in training have weights: the model keeps a row of weights (one per label)
/// for each, found by the feature's hash.
public struct LinearModel: Sendable {
    /// How the model is trained.
    public struct Configuration: Sendable, Equatable {
        /// Passes over the examples.
        public var epochs = 12
        /// AdaGrad's step size.
        public var learningRate: Float = 0.4
        /// L2 penalty per update.
        public var l2: Float = 3e-4
        /// A positive example counts this many times the square root of the negatives per
        /// positive (rare labels are not drowned; capped at 4).
        public var positiveBoost: Float = 1
        /// How much the character n-grams weigh against the words.
        public var characterWeight: Float = 0.5
        /// The order of the examples in each pass.
        public var seed: UInt64 = 0x5E1E_6E1

        public init() {}
    }

    public let labels: [UtteranceLabel]
    private let rows: FeatureRows
    private let weights: [Float]
    private let bias: [Float]

    /// Trains on `examples`.
    public init(
        training examples: [LabelledExample], labels: [UtteranceLabel] = UtteranceLabel.all, extractor: FeatureExtractor = .init(),
        configuration: Configuration = .init()
    ) {
        let vectors = examples.map { extractor.features(of: $0.text) }
        var rows: [UInt64: Int32] = [:]
        for vector in vectors {
            for hash in vector.hashes where rows[hash] == nil { rows[hash] = Int32(rows.count) }
        }
        let width = labels.count
        var weights = [Float](repeating: 0, count: rows.count * width)
        var squares = [Float](repeating: 1e-6, count: rows.count * width)
        var bias = [Float](repeating: 0, count: width)
        var biasSquares = [Float](repeating: 1e-6, count: width)
        let targets: [[Float]] = examples.map { example in labels.map { example.labels.contains($0) ? 1 : 0 } }
        let positiveWeights: [Float] = labels.indices.map { column in
            let positives = Float(targets.reduce(0) { $0 + $1[column] })
            guard positives > 0 else { return 1 }
            return min(4, configuration.positiveBoost * ((Float(examples.count) - positives) / positives).squareRoot())
        }
        let featureRows: [[Int]] = vectors.map { vector in vector.hashes.map { Int(rows[$0]!) } }
        let featureValues: [[Float]] = vectors.map(\.values)
        var order = Array(examples.indices)
        var random = SplitMix64(seed: configuration.seed)
        var gradient = [Float](repeating: 0, count: width)
        for _ in 0..<configuration.epochs {
            for index in order.indices.reversed() {
                order.swapAt(index, Int(random.next() % UInt64(index + 1)))
            }
            for example in order {
                let features = featureRows[example]
                let values = featureValues[example]
                for column in 0..<width {
                    var logit = bias[column]
                    for (row, value) in zip(features, values) { logit += weights[row * width + column] * value }
                    let probability = 1 / (1 + exp(-logit))
                    let target = targets[example][column]
                    gradient[column] = (probability - target) * (target == 1 ? positiveWeights[column] : 1)
                }
                for column in 0..<width {
                    let g = gradient[column]
                    biasSquares[column] += g * g
                    bias[column] -= configuration.learningRate * g / biasSquares[column].squareRoot()
                }
                for (row, value) in zip(features, values) {
                    let base = row * width
                    for column in 0..<width {
                        let at = base + column
                        let g = gradient[column] * value + configuration.l2 * weights[at]
                        squares[at] += g * g
                        weights[at] -= configuration.learningRate * g / squares[at].squareRoot()
                    }
                }
            }
        }
        self.labels = labels
        self.rows = FeatureRows(rows)
        self.weights = weights
        self.bias = bias
    }

    /// The probability of each label (in the order of ``labels``) for `vector`.
    public func probabilities(_ vector: SparseVector) -> [Float] {
        let width = self.labels.count
        var logits = self.bias
        for (hash, value) in zip(vector.hashes, vector.values) {
            guard let row = self.rows[hash] else { continue }
            let base = Int(row) * width
            for column in 0..<width { logits[column] += self.weights[base + column] * value }
        }
        return logits.map { 1 / (1 + exp(-$0)) }
    }

    /// Features with weights, and the bytes the weights take.
    public var size: (features: Int, bytes: Int) {
        (self.rows.count, self.weights.count * MemoryLayout<Float>.stride + self.rows.bytes)
    }
}

/// The model's row of each feature seen in training, by the feature's hash: a table with open
/// addressing, built once. The hashes are FNV-1a already, so a slot costs one multiplication, not
/// the `Hasher` a `Dictionary` runs on every look-up (a message looks up a hundred features or more).
struct FeatureRows: Sendable {
    private let hashes: [UInt64]
    /// The row in each slot; -1 for an empty one.
    private let rows: [Int32]
    /// 64 minus the table's size in bits: what is left of a product after this shift is a slot.
    private let shift: UInt64
    /// How many features have a row.
    let count: Int

    init(_ rows: [UInt64: Int32]) {
        // At most half full: a look-up that misses stops soon.
        var bits: UInt64 = 4
        while (1 << bits) < 2 * rows.count { bits += 1 }
        var hashes = [UInt64](repeating: 0, count: 1 << bits)
        var slots = [Int32](repeating: -1, count: 1 << bits)
        let mask = (1 << Int(bits)) - 1
        for (hash, row) in rows {
            var slot = Self.slot(of: hash, shift: 64 - bits)
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            hashes[slot] = hash
            slots[slot] = row
        }
        self.hashes = hashes
        self.rows = slots
        self.shift = 64 - bits
        self.count = rows.count
    }

    /// The row of the feature `hash`, or `nil` for a feature not seen in training.
    subscript(hash: UInt64) -> Int32? {
        let mask = self.rows.count - 1
        var slot = Self.slot(of: hash, shift: self.shift)
        while true {
            let row = self.rows[slot]
            if row < 0 { return nil }
            if self.hashes[slot] == hash { return row }
            slot = (slot + 1) & mask
        }
    }

    /// The bytes the table takes.
    var bytes: Int { self.rows.count * (MemoryLayout<UInt64>.stride + MemoryLayout<Int32>.stride) }

    @inline(__always) private static func slot(of hash: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }
}

/// A small, fast, seedable random number generator (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
