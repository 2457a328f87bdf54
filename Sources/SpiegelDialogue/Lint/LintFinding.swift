/// One thing the linter found.
public struct LintFinding: Sendable, Equatable, CustomStringConvertible {
    /// Errors make `spiegel prompts lint` fail; warnings are printed apart.
    public enum Severity: String, Sendable {
        case error, warning
    }

    /// The rules, one per kind of mistake.
    public enum Rule: String, Sendable, CaseIterable {
        case load = "load"
        case unknownTarget = "unknown-target"
        case unreachable = "unreachable"
        case deadEnd = "dead-end"
        case cycleWithoutExit = "cycle-without-exit"
        case cycleWithoutQuestion = "cycle-without-question"
        case undefinedVariable = "undefined-variable"
        case missingTranslation = "missing-translation"
        case collidingOptions = "colliding-options"
        case closedQuestion = "nivea-closed-question"
        case suggestiveQuestion = "nivea-suggestive"
        case advice = "nivea-advice"
        case interpreting = "nivea-interpreting"
        case fewExamples = "few-examples"
        case quoteWithoutNeutral = "quote-without-neutral"
    }

    public var severity: Severity
    public var rule: Rule
    public var location: SourceLocation?
    public var message: String

    public init(_ severity: Severity, _ rule: Rule, at location: SourceLocation?, _ message: String) {
        self.severity = severity
        self.rule = rule
        self.location = location
        self.message = message
    }

    public var description: String {
        "\(self.location.map { "\($0): " } ?? "")\(self.severity.rawValue): \(self.message) [\(self.rule.rawValue)]"
    }
}
