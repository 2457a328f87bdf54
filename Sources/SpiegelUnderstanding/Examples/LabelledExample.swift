/// A message as a teacher would write it, with the labels a coach gave it (empty: `none`).
public struct LabelledExample: Sendable, Equatable {
    public var text: String
    public var labels: Set<UtteranceLabel>

    public init(_ text: String, labels: Set<UtteranceLabel>) {
        self.text = text
        self.labels = labels
    }

    /// Reads examples in the format of `Prompts/understanding/*.tsv`: one a line, the labels
    /// (comma-separated, or `none`), a TAB, the message; `#` starts a comment line.
    /// - Parameter source: named in errors (a file name).
    /// - Throws: ``ExampleError`` for the first line that is not an example, with its number.
    public static func parse(_ contents: String, source: String) throws(ExampleError) -> [LabelledExample] {
        var examples: [LabelledExample] = []
        for (index, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy(\.isWhitespace) || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[1].allSatisfy(\.isWhitespace) else {
                throw ExampleError(source: source, line: index + 1, message: "expected the labels, a TAB and the message")
            }
            var labels: Set<UtteranceLabel> = []
            let names = fields[0].split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }
            if names != ["none"] {
                for name in names {
                    guard let label = UtteranceLabel(rawValue: name) else {
                        let known = (UtteranceLabel.all.map(\.rawValue) + ["none"]).joined(separator: ", ")
                        throw ExampleError(source: source, line: index + 1, message: "unknown label “\(name)”; the labels are \(known)")
                    }
                    labels.insert(label)
                }
            }
            examples.append(LabelledExample(String(fields[1]), labels: labels))
        }
        return examples
    }
}

/// A line of an examples file that is not an example. Names the file and line, never the text.
public struct ExampleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let line: Int
    public let message: String
    public var description: String { "\(self.source):\(self.line): \(self.message)" }
}
