import Foundation
import Yams

/// Reads Yams nodes into values, with the file, line and column of every mistake.
struct YAMLReader {
    let file: String

    func location(of node: Node) -> SourceLocation {
        SourceLocation(file: self.file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func error(_ code: DialogueLoadError.Code, at node: Node, _ message: String) -> DialogueLoadError {
        DialogueLoadError(code, at: self.location(of: node), message)
    }

    /// The mapping's entries by key, in order, after checking every key is one of `allowed`.
    func entries(_ node: Node, allowed: [String], in context: String) throws(DialogueLoadError) -> OrderedEntries {
        guard let mapping = node.mapping else {
            throw self.error(.invalidValue, at: node, "\(context): expected a mapping of keys to values")
        }
        var entries = OrderedEntries()
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                throw self.error(.invalidValue, at: key, "\(context): expected a plain key")
            }
            guard allowed.contains(name) else {
                throw self.error(.unknownKey, at: key, "\(context): unknown key `\(name)`; expected one of: \(allowed.joined(separator: ", "))")
            }
            entries.keys.append(name)
            entries.values[name] = value
            entries.keyNodes[name] = key
        }
        entries.node = node
        return entries
    }

    func string(_ node: Node, _ context: String) throws(DialogueLoadError) -> String {
        guard let scalar = node.scalar, !scalar.string.isEmpty else {
            throw self.error(.invalidValue, at: node, "\(context): expected a text")
        }
        return scalar.string
    }

    /// An identifier: letters, digits, `_`, `-` and `.`, as node ids and variable names are.
    func identifier(_ node: Node, _ context: String) throws(DialogueLoadError) -> String {
        let text = try self.string(node, context)
        guard text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw self.error(.invalidValue, at: node, "\(context): expected a name of letters, digits, `_`, `-` or `.`")
        }
        return text
    }

    func integer(_ node: Node, _ context: String) throws(DialogueLoadError) -> Int {
        guard let scalar = node.scalar, let value = Int(scalar.string) else {
            throw self.error(.invalidValue, at: node, "\(context): expected a whole number")
        }
        return value
    }

    func bool(_ node: Node, _ context: String) throws(DialogueLoadError) -> Bool {
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "ja": return true
        case "false", "no", "nee": return false
        default: throw self.error(.invalidValue, at: node, "\(context): expected true or false")
        }
    }

    /// A range written `1-10`.
    func range(_ node: Node, _ context: String) throws(DialogueLoadError) -> ClosedRange<Int> {
        let parts = (node.scalar?.string ?? "").split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low <= high else {
            throw self.error(.invalidValue, at: node, "\(context): expected a range such as 1-10")
        }
        return low...high
    }

    /// A list of texts; a single text counts as a list of one.
    func stringList(_ node: Node, _ context: String) throws(DialogueLoadError) -> [String] {
        if node.scalar != nil { return [try self.string(node, context)] }
        guard let sequence = node.sequence else {
            throw self.error(.invalidValue, at: node, "\(context): expected a list of texts")
        }
        var result: [String] = []
        for item in sequence { result.append(try self.string(item, context)) }
        return result
    }

    /// A text per language (`nl: …`, `en: …`); a plain text is in the first language.
    func localized(_ node: Node, languages: [String], _ context: String) throws(DialogueLoadError) -> LocalizedText {
        if let scalar = node.scalar {
            guard !scalar.string.isEmpty else { throw self.error(.invalidValue, at: node, "\(context): expected a text") }
            return LocalizedText([languages.first ?? "nl": scalar.string], location: self.location(of: node))
        }
        guard let mapping = node.mapping else {
            throw self.error(.invalidValue, at: node, "\(context): expected a text per language, such as `nl: …` and `en: …`")
        }
        var translations: [String: String] = [:]
        var neutral: [String: String] = [:]
        for (key, value) in mapping {
            if key.scalar?.string == "neutral" {
                neutral = try self.localized(value, languages: languages, "\(context).neutral").translations
                continue
            }
            guard let language = key.scalar?.string, language.count == 2, language.allSatisfy(\.isLetter) else {
                throw self.error(.invalidValue, at: key, "\(context): expected a two-letter language code such as `nl` or `en` (put a text with a comma or a colon between quotes)")
            }
            translations[language] = try self.string(value, "\(context).\(language)")
        }
        return LocalizedText(translations, neutral: neutral, location: self.location(of: node))
    }
}

/// Mapping entries in file order.
struct OrderedEntries {
    var keys: [String] = []
    var values: [String: Node] = [:]
    var keyNodes: [String: Node] = [:]
    var node: Node = .scalar(.init("~"))

    subscript(key: String) -> Node? { self.values[key] }
}
