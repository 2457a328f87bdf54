/// How well a screener does on labelled examples: per label precision, recall and F1, their
/// macro average, and a table of which labels were given for which (the confusion table of a
/// multi-label task, with `none` for no label).
public struct Evaluation: Sendable {
    /// One label's figures.
    public struct Figures: Sendable, Equatable {
        public var truePositives = 0
        public var falsePositives = 0
        public var falseNegatives = 0

        /// Examples that carry the label.
        public var support: Int { self.truePositives + self.falseNegatives }
        public var precision: Double { Self.ratio(self.truePositives, self.truePositives + self.falsePositives) }
        public var recall: Double { Self.ratio(self.truePositives, self.truePositives + self.falseNegatives) }
        public var f1: Double {
            let sum = self.precision + self.recall
            return sum == 0 ? 0 : 2 * self.precision * self.recall / sum
        }

        private static func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
    }

    public private(set) var figures: [UtteranceLabel: Figures] = [:]
    /// `confusion[truth][given]`: how often a message that carries `truth` (or none: `nil`) was
    /// given `given` (or none).
    public private(set) var confusion: [UtteranceLabel?: [UtteranceLabel?: Int]] = [:]
    /// Examples counted.
    public private(set) var count = 0
    /// Examples whose labels were given exactly.
    public private(set) var exact = 0
    /// Distress caught: the care flow (the label) or the question "Gaat het wel?" (unsure), over
    /// the messages that carry distress, and over those that do not (the price of asking).
    public private(set) var distressCaught = (caught: 0, of: 0)
    public private(set) var distressAsked = (asked: 0, of: 0)

    /// Counts one screened example: its labels and, for distress, whether it was caught at all.
    public mutating func add(truth: Set<UtteranceLabel>, screening: Screening) {
        self.add(truth: truth, given: screening.labels)
        let acted = screening.contains(.distress) || screening.distressUnsure
        if truth.contains(.distress) {
            self.distressCaught.of += 1
            if acted { self.distressCaught.caught += 1 }
        } else {
            self.distressAsked.of += 1
            if acted { self.distressAsked.asked += 1 }
        }
    }

    /// The share of distress messages that got the care flow or the question.
    public var distressCaughtRecall: Double {
        self.distressCaught.of == 0 ? 0 : Double(self.distressCaught.caught) / Double(self.distressCaught.of)
    }

    public init() {}

    /// Counts one example: what it carries and what was given.
    public mutating func add(truth: Set<UtteranceLabel>, given: Set<UtteranceLabel>) {
        self.count += 1
        if truth == given { self.exact += 1 }
        for label in UtteranceLabel.all {
            switch (truth.contains(label), given.contains(label)) {
            case (true, true): self.figures[label, default: .init()].truePositives += 1
            case (false, true): self.figures[label, default: .init()].falsePositives += 1
            case (true, false): self.figures[label, default: .init()].falseNegatives += 1
            case (false, false): break
            }
        }
        let truths: [UtteranceLabel?] = truth.isEmpty ? [nil] : truth.sorted()
        let givens: [UtteranceLabel?] = given.isEmpty ? [nil] : given.sorted()
        for t in truths {
            for g in givens { self.confusion[t, default: [:]][g, default: 0] += 1 }
        }
    }

    /// The mean F1 over the labels that occur in the examples.
    public var macroF1: Double {
        let present = UtteranceLabel.all.compactMap { self.figures[$0] }.filter { $0.support > 0 }
        return present.isEmpty ? 0 : present.map(\.f1).reduce(0, +) / Double(present.count)
    }

    /// The figures of `label` (zero when it never occurred).
    public func figures(of label: UtteranceLabel) -> Figures {
        self.figures[label] ?? .init()
    }

    /// `screener` on `examples`.
    public static func of(_ screener: Screener, on examples: [LabelledExample]) -> Evaluation {
        var evaluation = Evaluation()
        for example in examples {
            evaluation.add(truth: example.labels, screening: screener.screen(example.text))
        }
        return evaluation
    }

    /// k-fold cross-validation: each fold screened by a screener trained on the others (every
    /// k-th example to a fold, so folds are alike and the result does not depend on chance).
    public static func crossValidation(
        of examples: [LabelledExample], folds: Int = 5, thresholds: Screener.Thresholds = .init(), training: LinearModel.Configuration = .init()
    ) -> Evaluation {
        var evaluation = Evaluation()
        for fold in 0..<max(2, folds) {
            let train = examples.indices.filter { $0 % folds != fold }.map { examples[$0] }
            let test = examples.indices.filter { $0 % folds == fold }.map { examples[$0] }
            let screener = Screener(examples: train, thresholds: thresholds, training: training)
            for example in test {
                evaluation.add(truth: example.labels, screening: screener.screen(example.text))
            }
        }
        return evaluation
    }

    /// A plain-text report: one line per label, the macro F1, then the confusion table.
    public func report(title: String) -> String {
        func format(_ value: Double) -> String {
            let hundredths = Int((value * 100).rounded())
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        }
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        var lines = ["\(title): \(self.count) messages, \(self.exact) labelled exactly", pad("label", 11) + "precision  recall  f1    support"]
        for label in UtteranceLabel.all where self.figures(of: label).support > 0 || self.figures(of: label).falsePositives > 0 {
            let figures = self.figures(of: label)
            lines.append(pad(label.rawValue, 11) + pad(format(figures.precision), 11) + pad(format(figures.recall), 8) + pad(format(figures.f1), 6) + "\(figures.support)")
        }
        lines.append("macro F1 \(format(self.macroF1))")
        if self.distressCaught.of > 0 {
            lines.append("distress caught (care flow or “Gaat het wel met je?”): \(self.distressCaught.caught) of \(self.distressCaught.of), recall \(format(self.distressCaughtRecall)); asked without distress: \(self.distressAsked.asked) of \(self.distressAsked.of)")
        }
        lines.append("")
        lines.append("confusion (rows: the example's label, columns: what was given; none = no label)")
        let columns: [UtteranceLabel?] = [nil] + UtteranceLabel.all.map { Optional($0) }
        func name(_ label: UtteranceLabel?) -> String { label?.rawValue ?? "none" }
        lines.append(pad("", 10) + columns.map { pad(String(name($0).prefix(5)), 6) }.joined())
        for row in columns where self.confusion[row] != nil {
            lines.append(pad(name(row), 10) + columns.map { pad(self.confusion[row]?[$0].map(String.init) ?? ".", 6) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
