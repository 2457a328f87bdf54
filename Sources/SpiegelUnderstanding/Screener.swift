import Synchronization

/// What a message was recognised as: the probability of every label, and the labels that apply.
public struct Screening: Sendable, Equatable {
    /// The probability of each label, 0 to 1.
    public let scores: [UtteranceLabel: Double]
    /// The labels whose probability reached their threshold.
    public let labels: Set<UtteranceLabel>
    /// Distress is possible but not clear: ask ("Gaat het wel met je?") rather than carry on.
    public let distressUnsure: Bool

    public init(scores: [UtteranceLabel: Double], labels: Set<UtteranceLabel>, distressUnsure: Bool = false) {
        self.scores = scores
        self.labels = labels
        self.distressUnsure = distressUnsure
    }

    /// Nothing recognised (no screener, or an empty message).
    public static let nothing = Screening(scores: [:], labels: [])

    public func contains(_ label: UtteranceLabel) -> Bool {
        self.labels.contains(label)
    }

    public func score(_ label: UtteranceLabel) -> Double {
        self.scores[label] ?? 0
    }

    /// The resistance type with the highest probability, and that probability. A worry about who
    /// reads along (`trust`) counts as "ik vertrouw je niet" (C): the handbook's answer to both is
    /// saying honestly how it works.
    public var resistance: (type: UtteranceLabel, confidence: Double)? {
        UtteranceLabel.resistance.map { ($0, $0 == .notTrusting ? max(self.score($0), self.score(.trust)) : self.score($0)) }.max { $0.1 < $1.1 }
    }

    /// The global intent that applies with the highest probability, if any.
    public var intent: UtteranceLabel? {
        UtteranceLabel.intents.filter(self.labels.contains).max { self.score($0) < self.score($1) }
    }
}

/// Recognises what a teacher writes: distress, a request for advice, a question about the bot,
/// not knowing, no time, resistance A/B/C, the global intents in their own words. Learned from the
/// labelled examples in `Prompts/understanding/`; pure, no I/O.
///
/// A label applies when its probability reaches its threshold (``Thresholds``). Distress has a
/// lower one, and below it an "unsure" band: a missed sign of distress is the worst mistake.
public struct Screener: Sendable {
    /// The probability a label needs, per label; distress also has an "ask" band.
    public struct Thresholds: Sendable, Equatable {
        public var standard: Double = 0.5
        public var perLabel: [UtteranceLabel: Double] = [.distress: 0.7]
        /// From here up to distress's threshold, distress is "unsure": the bot asks.
        public var distressUnsure: Double = 0.11

        public init() {}

        public func threshold(for label: UtteranceLabel) -> Double {
            self.perLabel[label] ?? self.standard
        }
    }

    public let model: LinearModel
    public let thresholds: Thresholds
    /// How many examples it learned from.
    public let exampleCount: Int
    private let extractor: FeatureExtractor

    /// Learns from `examples`; the same examples and settings always give the same screener.
    public init(examples: [LabelledExample], thresholds: Thresholds = .init(), training: LinearModel.Configuration = .init()) {
        self.extractor = FeatureExtractor(characterWeight: training.characterWeight)
        self.model = LinearModel(training: examples, extractor: self.extractor, configuration: training)
        self.thresholds = thresholds
        self.exampleCount = examples.count
    }

    /// A screener that recognises nothing (no examples).
    public static let empty = Screener(examples: [])

    /// What `text` is recognised as.
    public func screen(_ text: String) -> Screening {
        guard self.exampleCount > 0 else { return .nothing }
        // A number alone answers a scale or a choice; it says nothing more.
        let words = UtteranceNormalizer.words(text)
        if words.allSatisfy({ $0.allSatisfy(\.isNumber) }) { return .nothing }
        let vector = self.extractor.features(of: text, words: words)
        guard !vector.hashes.isEmpty else { return .nothing }
        let probabilities = self.model.probabilities(vector)
        var scores = [UtteranceLabel: Double](minimumCapacity: self.model.labels.count)
        var labels: Set<UtteranceLabel> = []
        for (label, probability) in zip(self.model.labels, probabilities) {
            scores[label] = Double(probability)
            if Double(probability) >= self.thresholds.threshold(for: label) { labels.insert(label) }
        }
        let distress = scores[.distress] ?? 0
        let unsure = !labels.contains(.distress) && distress >= self.thresholds.distressUnsure
        return Screening(scores: scores, labels: labels, distressUnsure: unsure)
    }
}

extension Screener {
    /// Screeners trained in this process, by their examples and settings: loading the same Prompts
    /// again (a reload, every test) does not train again.
    /// The few most recent are kept, so reloads of edited examples do not pile up models.
    private static let trained = Mutex<[(key: Int, screener: Screener)]>([])
    private static let keptScreeners = 4

    /// A screener for `examples`, trained once per process for the same examples and settings.
    public static func trained(on examples: [LabelledExample], thresholds: Thresholds = .init()) -> Screener {
        var hasher = Hasher()
        for example in examples {
            hasher.combine(example.text)
            hasher.combine(example.labels)
        }
        hasher.combine(thresholds.standard)
        hasher.combine(thresholds.distressUnsure)
        for label in UtteranceLabel.all { hasher.combine(thresholds.perLabel[label]) }
        let key = hasher.finalize()
        if let known = Self.trained.withLock({ $0.first { $0.key == key }?.screener }) { return known }
        let screener = Screener(examples: examples, thresholds: thresholds)
        Self.trained.withLock { kept in
            kept.removeAll { $0.key == key }
            kept.append((key, screener))
            if kept.count > Self.keptScreeners { kept.removeFirst() }
        }
        return screener
    }
}
