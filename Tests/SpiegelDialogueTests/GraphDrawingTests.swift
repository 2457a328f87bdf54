import SpiegelDialogue
import Testing

@Suite struct GraphDrawingTests {
    let graph = Fixtures.library.graphs["kort"]!

    @Test func dotHasEveryNodeAndLabelledEdges() {
        let dot = GraphDrawing.draw(self.graph, format: .dot)
        #expect(dot.hasPrefix("digraph \"kort\" {"))
        #expect(dot.hasSuffix("}\n"))
        for id in self.graph.nodeOrder {
            #expect(dot.contains("  \"\(id)\" [shape="), "node \(id)")
        }
        #expect(dot.contains("\"keuze\" -> \"gevoel\" [label=\"1\"];"))
        #expect(dot.contains("\"cijfer\" -> \"laag\" [label=\"1-5\"];"))
        #expect(dot.contains("\"lus\" -> \"dieper\" [label=\"vast >= 2\"];"))
        #expect(dot.contains("\"check\" -> \"uitleg\" [label=\"A\"];"))
        #expect(dot.contains("\"einde\" [shape=box, peripheries=2"))
    }

    @Test func mermaidHasEveryNodeAndLabelledEdges() {
        let mermaid = GraphDrawing.draw(self.graph, format: .mermaid, language: "en")
        #expect(mermaid.hasPrefix("flowchart TD\n"))
        #expect(mermaid.contains("n_doel(\"doel (ask)<br/>What would be a good outcome …\")"))
        #expect(mermaid.contains("n_splits -->|\"thema == 'leerling'\"| n_leerling"))
        #expect(mermaid.contains("n_welkom --> n_doel"))
        #expect(mermaid.split(separator: "\n").filter { $0.contains("-->") }.count == self.graph.nodeOrder.reduce(0) { $0 + (self.graph.nodes[$1]?.edges.count ?? 0) })
    }
}
