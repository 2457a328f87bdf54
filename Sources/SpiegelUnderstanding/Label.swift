/// What a teacher's message can be recognised as. A message carries any number of labels; none
/// at all is an ordinary answer (written `none` in the examples).
///
/// The set is closed: the examples in `Prompts/understanding/` may only use these, and the graphs'
/// conditions read them as `heard.<label>`.
public struct UtteranceLabel: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard Self.all.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    private init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// Signs that the teacher is not OK (or a pupil is not safe); outranks everything.
    public static let distress = Self("distress")
    /// Asks the bot what to do.
    public static let advice = Self("advice")
    /// Asks about the bot, the conversation or the data.
    public static let question = Self("question")
    /// Worries about who can read this.
    public static let trust = Self("trust")
    /// Does not know the answer.
    public static let dontKnow = Self("dont_know")
    /// Has little time.
    public static let noTime = Self("no_time")
    /// Resistance A, "ik begrijp het niet".
    public static let notUnderstanding = Self("A")
    /// Resistance B, "ik wil het niet".
    public static let notWanting = Self("B")
    /// Resistance C, "ik vertrouw je niet".
    public static let notTrusting = Self("C")
    /// The global intents, said in the teacher's own words.
    public static let stop = Self("stop"), resume = Self("resume"), back = Self("back"), `repeat` = Self("repeat")
    public static let help = Self("help"), recall = Self("recall"), export = Self("export"), forget = Self("forget"), share = Self("share")

    /// Every label, in a fixed order (the order of reports).
    public static let all: [UtteranceLabel] = [
        .distress, .advice, .question, .trust, .dontKnow, .noTime, .notUnderstanding, .notWanting, .notTrusting,
        .stop, .resume, .back, .repeat, .help, .recall, .export, .forget, .share,
    ]

    /// The resistance types.
    public static let resistance: [UtteranceLabel] = [.notUnderstanding, .notWanting, .notTrusting]

    /// The labels that ask the service to do something at once (the global intents).
    public static let intents: [UtteranceLabel] = [.stop, .resume, .back, .repeat, .help, .recall, .export, .forget, .share]

    public var description: String { self.rawValue }

    public static func < (a: Self, b: Self) -> Bool {
        (Self.all.firstIndex(of: a) ?? 0) < (Self.all.firstIndex(of: b) ?? 0)
    }
}
