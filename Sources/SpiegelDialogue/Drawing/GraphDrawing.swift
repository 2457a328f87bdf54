import Foundation

/// A graph as Graphviz DOT or Mermaid text, for coaches to see a flow at a glance.
public enum GraphDrawing {
    /// The output formats.
    public enum Format: String, Sendable, CaseIterable {
        case dot, mermaid
    }

    /// The drawing of `graph`, labelled in `language`.
    public static func draw(_ graph: DialogueGraph, format: Format, language: String = "nl") -> String {
        switch format {
        case .dot: self.dot(graph, language)
        case .mermaid: self.mermaid(graph, language)
        }
    }

    private static func kindName(_ node: DialogueNode) -> String {
        switch node.kind {
        case .say: "say"
        case .ask: "ask"
        case .choice: "choice"
        case .scale: "scale"
        case .branch: "branch"
        case .diagnose: "diagnose"
        case .call(let graph, _): "call \(graph)"
        case .goto: "goto"
        case .end: "end"
        }
    }

    /// The node's first words, to recognise it in the picture.
    private static func caption(_ node: DialogueNode, _ language: String) -> String {
        guard let text = node.texts.first?.text(in: language, fallbacks: ["nl", "en"]) else { return "" }
        let words = text.split(whereSeparator: \.isWhitespace).prefix(6).joined(separator: " ")
        return words.count < text.count ? words + " …" : words
    }

    private static func dot(_ graph: DialogueGraph, _ language: String) -> String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var lines = ["digraph \(quoted(graph.id)) {", "  rankdir=TB;", "  node [fontname=\"Helvetica\", fontsize=10];",
                     "  edge [fontname=\"Helvetica\", fontsize=9];"]
        for id in graph.nodeOrder {
            guard let node = graph.nodes[id] else { continue }
            let shape = switch node.kind {
            case .ask, .scale: "box, style=rounded"
            case .choice, .branch, .diagnose: "diamond"
            case .end: "box, peripheries=2"
            case .call: "component"
            default: "box"
            }
            let caption = self.caption(node, language)
            let label = "\(id) (\(self.kindName(node)))" + (caption.isEmpty ? "" : "\\n" + caption.replacingOccurrences(of: "\"", with: "'"))
            lines.append("  \(quoted(id)) [shape=\(shape), label=\"\(label.replacingOccurrences(of: "\\\\n", with: "\\n"))\"];")
        }
        for id in graph.nodeOrder {
            for edge in graph.nodes[id]?.edges ?? [] {
                let label = edge.label.map { " [label=\(quoted($0))]" } ?? ""
                lines.append("  \(quoted(id)) -> \(quoted(edge.target))\(label);")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func mermaid(_ graph: DialogueGraph, _ language: String) -> String {
        func identifier(_ id: String) -> String {
            "n_" + String(id.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        }
        func text(_ text: String) -> String {
            text.replacingOccurrences(of: "\"", with: "#quot;")
        }
        var lines = ["flowchart TD"]
        for id in graph.nodeOrder {
            guard let node = graph.nodes[id] else { continue }
            let caption = self.caption(node, language)
            let label = text("\(id) (\(self.kindName(node)))" + (caption.isEmpty ? "" : "<br/>" + caption))
            let shape = switch node.kind {
            case .choice, .branch, .diagnose: "{\"\(label)\"}"
            case .end: "((\"\(label)\"))"
            case .ask, .scale: "(\"\(label)\")"
            default: "[\"\(label)\"]"
            }
            lines.append("  \(identifier(id))\(shape)")
        }
        for id in graph.nodeOrder {
            for edge in graph.nodes[id]?.edges ?? [] {
                let label = edge.label.map { "|\"\(text($0))\"|" } ?? ""
                lines.append("  \(identifier(id)) -->\(label) \(identifier(edge.target))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
