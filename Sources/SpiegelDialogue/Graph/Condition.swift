import Foundation

/// A `branch` condition: comparisons over stored answers, counters and facts, joined with
/// `and`, `or`, `not` (or `en`, `of`, `niet`), and `contains` (`bevat`).
///
/// Examples: `cijfer >= 7`, `doel contains 'rust' and not vorige.doel`, `count.vast > 2`.
/// A bare name holds when it is set and not empty. Values compare as numbers when both sides are
/// numbers, otherwise as text, ignoring case and accents.
public struct Condition: Sendable {
    /// The condition as written.
    public let source: String
    let root: Expression

    /// Parses `source`.
    /// - Throws: ``ConditionError`` with the offset where the condition stops making sense.
    public init(_ source: String) throws(ConditionError) {
        var parser = ConditionParser(source)
        self.source = source
        self.root = try parser.parse()
    }

    /// The names the condition reads.
    public var variables: [String] { self.root.variables }

    /// Whether the condition holds, looking names up with `lookup`.
    public func holds(_ lookup: (String) -> String?) -> Bool {
        self.root.truth(lookup)
    }
}

/// A condition that does not parse.
public struct ConditionError: Error, Sendable, Equatable {
    /// What is expected.
    public let message: String
    /// Characters from the start of the condition.
    public let offset: Int
}

indirect enum Expression: Sendable {
    case variable(String)
    case number(Double)
    /// A quoted text, and its normalized form (made once, at load).
    case text(String, normalized: String)
    case not(Expression)
    case and(Expression, Expression)
    case or(Expression, Expression)
    case compare(Expression, Comparison, Expression)

    enum Comparison: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case contains

        /// Whether `a` and `b` compare this way (`contains` is handled on text, before).
        func holds<Value: Comparable>(_ a: Value, _ b: Value) -> Bool {
            switch self {
            case .equal: a == b
            case .notEqual: a != b
            case .less: a < b
            case .lessOrEqual: a <= b
            case .greater: a > b
            case .greaterOrEqual: a >= b
            case .contains: false
            }
        }
    }

    var variables: [String] {
        switch self {
        case .variable(let name): [name]
        case .number, .text: []
        case .not(let inner): inner.variables
        case .and(let left, let right), .or(let left, let right), .compare(let left, _, let right): left.variables + right.variables
        }
    }

    func value(_ lookup: (String) -> String?) -> String? {
        switch self {
        case .variable(let name): lookup(name)
        case .number(let number): number == number.rounded() ? String(Int(number)) : String(number)
        case .text(let text, _): text
        default: self.truth(lookup) ? "true" : nil
        }
    }

    /// The value for a comparison as text, normalized.
    func normalizedValue(_ value: String) -> String {
        if case .text(_, let normalized) = self { return normalized }
        return TextMatching.normalize(value)
    }

    func truth(_ lookup: (String) -> String?) -> Bool {
        switch self {
        case .variable(let name):
            return !(lookup(name) ?? "").isEmpty
        case .number, .text:
            return true
        case .not(let inner):
            return !inner.truth(lookup)
        case .and(let left, let right):
            return left.truth(lookup) && right.truth(lookup)
        case .or(let left, let right):
            return left.truth(lookup) || right.truth(lookup)
        case .compare(let left, let comparison, let right):
            guard let lhs = left.value(lookup), let rhs = right.value(lookup) else {
                return comparison == .notEqual && (left.value(lookup) != nil || right.value(lookup) != nil)
            }
            if comparison == .contains {
                return left.normalizedValue(lhs).contains(right.normalizedValue(rhs))
            }
            if let a = Double(lhs.replacingOccurrences(of: ",", with: ".")), let b = Double(rhs.replacingOccurrences(of: ",", with: ".")) {
                return comparison.holds(a, b)
            }
            return comparison.holds(left.normalizedValue(lhs), right.normalizedValue(rhs))
        }
    }
}

/// Recursive descent over the condition's characters.
private struct ConditionParser {
    private let characters: [Character]
    private var position = 0

    init(_ source: String) {
        self.characters = Array(source)
    }

    mutating func parse() throws(ConditionError) -> Expression {
        let expression = try self.parseOr()
        self.skipSpaces()
        guard self.position == self.characters.count else {
            throw ConditionError(message: "expected `and`, `or` or the end of the condition", offset: self.position)
        }
        return expression
    }

    private mutating func parseOr() throws(ConditionError) -> Expression {
        var left = try self.parseAnd()
        while self.takeKeyword(["or", "of"]) {
            left = .or(left, try self.parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(ConditionError) -> Expression {
        var left = try self.parseUnary()
        while self.takeKeyword(["and", "en"]) {
            left = .and(left, try self.parseUnary())
        }
        return left
    }

    private mutating func parseUnary() throws(ConditionError) -> Expression {
        if self.takeKeyword(["not", "niet"]) {
            return .not(try self.parseUnary())
        }
        let left = try self.parseOperand()
        guard let comparison = self.takeComparison() else { return left }
        return .compare(left, comparison, try self.parseOperand())
    }

    private mutating func parseOperand() throws(ConditionError) -> Expression {
        self.skipSpaces()
        guard self.position < self.characters.count else {
            throw ConditionError(message: "expected a name, a number or a quoted text", offset: self.position)
        }
        let character = self.characters[self.position]
        if character == "(" {
            self.position += 1
            let inner = try self.parseOr()
            self.skipSpaces()
            guard self.position < self.characters.count, self.characters[self.position] == ")" else {
                throw ConditionError(message: "expected `)`", offset: self.position)
            }
            self.position += 1
            return inner
        }
        if character == "'" || character == "\"" {
            let start = self.position
            self.position += 1
            var text = ""
            while self.position < self.characters.count, self.characters[self.position] != character {
                text.append(self.characters[self.position])
                self.position += 1
            }
            guard self.position < self.characters.count else {
                throw ConditionError(message: "expected a closing \(character)", offset: start)
            }
            self.position += 1
            return .text(text, normalized: TextMatching.normalize(text))
        }
        if character.isNumber || (character == "-" && self.position + 1 < self.characters.count && self.characters[self.position + 1].isNumber) {
            let start = self.position
            self.position += 1
            while self.position < self.characters.count, self.characters[self.position].isNumber || self.characters[self.position] == "." {
                self.position += 1
            }
            guard let number = Double(String(self.characters[start..<self.position])) else {
                throw ConditionError(message: "expected a number", offset: start)
            }
            return .number(number)
        }
        if character.isLetter || character == "_" {
            let name = self.takeWord()
            guard !["and", "or", "not", "en", "of", "niet", "contains", "bevat"].contains(name) else {
                throw ConditionError(message: "expected a name, a number or a quoted text before `\(name)`", offset: self.position - name.count)
            }
            return .variable(name)
        }
        throw ConditionError(message: "expected a name, a number or a quoted text", offset: self.position)
    }

    private mutating func takeComparison() -> Expression.Comparison? {
        self.skipSpaces()
        let rest = String(self.characters[self.position...].prefix(2))
        for (symbol, comparison) in [("==", Expression.Comparison.equal), ("!=", .notEqual), ("<=", .lessOrEqual), (">=", .greaterOrEqual)]
        where rest.hasPrefix(symbol) {
            self.position += 2
            return comparison
        }
        for (symbol, comparison) in [("=", Expression.Comparison.equal), ("<", .less), (">", .greater)] where rest.hasPrefix(symbol) {
            self.position += 1
            return comparison
        }
        return self.takeKeyword(["contains", "bevat"]) ? .contains : nil
    }

    private mutating func takeKeyword(_ keywords: [String]) -> Bool {
        self.skipSpaces()
        let saved = self.position
        let word = self.takeWord()
        if keywords.contains(word) { return true }
        self.position = saved
        return false
    }

    private mutating func takeWord() -> String {
        let start = self.position
        while self.position < self.characters.count,
            self.characters[self.position].isLetter || self.characters[self.position].isNumber
                || self.characters[self.position] == "_" || self.characters[self.position] == "."
        {
            self.position += 1
        }
        return String(self.characters[start..<self.position])
    }

    private mutating func skipSpaces() {
        while self.position < self.characters.count, self.characters[self.position].isWhitespace {
            self.position += 1
        }
    }
}
