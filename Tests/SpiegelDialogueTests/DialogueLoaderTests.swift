import SpiegelDialogue
import Testing

@Suite struct DialogueLoaderTests {
    private let header = "id: g\nlanguages: [nl, en]\nstart: a\nnodes:\n"

    private func loadError(_ yaml: String) -> DialogueLoadError? {
        #expect(throws: DialogueLoadError.self) { try DialogueLoader.loadGraph(yaml, file: "g.yaml") }
    }

    @Test func theFixturesLoadWithEveryNodeKind() throws {
        let library = Fixtures.library
        #expect(Set(library.graphs.keys) == ["kort", "kern"])
        #expect(library.defaultGraph == "kort")
        let kort = try #require(library.graphs["kort"])
        #expect(kort.resume == "doel")
        #expect(kort.nodeOrder.first == "welkom")
        guard case .scale(_, "cijfer", 1...10, let followUps, _, "hoog")? = kort.nodes["cijfer"]?.kind else {
            Issue.record("cijfer is not the scale it should be")
            return
        }
        #expect(followUps.map(\.range) == [1...5])
        guard case .choice(_, "thema", let options, _)? = kort.nodes["keuze"]?.kind else {
            Issue.record("keuze is not a choice")
            return
        }
        #expect(options.map(\.value) == ["les", "leerling"])
        #expect(kort.nodes["uitleg"]?.increments == ["vast"])
        #expect(kort.nodes["welkom"]?.location == SourceLocation(file: Fixtures.prompts + "/kort.yaml", line: 7, column: 3))
        #expect(library.intents[.stop]?["nl"]?.contains("pauze") == true)
        #expect(library.resistance.cues[.notTrusting]?["nl"]?.contains("wie leest dit") == true)
    }

    @Test(arguments: [
        ("languages: [nl]\nstart: a\nnodes:\n  a: { end: ~ }\n", 1, 1, "missing `id`"),
        ("  a:\n    say: hoi\n    nxt: b\n", 7, 5, "unknown key `nxt`"),
        ("  a:\n    say: hoi\n    ask: wat?\n", 6, 5, "exactly one of say, ask"),
        ("  a:\n    next: b\n", 6, 5, "exactly one of"),
        ("  a:\n    ask: Wat?\n    next: b\n", 6, 5, "needs `store`"),
        ("  a:\n    scale: Hoeveel?\n    store: s\n    range: 10-1\n", 8, 12, "a range such as 1-10"),
        ("  a:\n    branch:\n      - if: score >> 3\n        next: b\n", 7, 20, "expected a name, a number or a quoted text"),
        ("  a:\n    branch:\n      - if: \"(a and b\"\n        next: b\n", 7, 22, "expected `)`"),
        ("  a:\n    choice: Welke?\n    options:\n      - { nl: Een }\n", 8, 9, "each option needs `next`"),
        ("  a:\n    end: Dag\n    follow_up: { after: soon, graph: g }\n", 7, 25, "a duration such as 3d"),
        ("  a:\n    say: { nl: Hoi, english: Hi }\n    next: a\n", 6, 21, "two-letter language code"),
        ("  a:\n    say: hoi\n  a:\n    end: ~\n", 5, 3, "given twice"),
        ("  a:\n    say: [unclosed\n", 7, 1, "not valid YAML"),
        ("  a:\n    diagnose: x\n    outcomes: { D: b }\n", 7, 17, "unknown key `D`"),
        ("  a b:\n    end: ~\n", 5, 3, "expected a name of letters"),
    ])
    func loadErrorsSayFileLineColumnAndWhatIsExpected(body: String, line: Int, column: Int, expected: String) throws {
        let yaml = body.hasPrefix("languages") ? body : self.header + body
        let error = try #require(loadError(yaml))
        #expect(error.location.file == "g.yaml")
        #expect(error.location.line == line, "\(error)")
        #expect(error.location.column == column, "\(error)")
        #expect(error.message.contains(expected), "\(error)")
        #expect(error.description.hasPrefix("g.yaml:\(line):\(column): "))
    }

    @Test func anEmptyFileIsAnError() throws {
        let error = try #require(loadError(""))
        #expect(error.message.contains("empty"))
    }

    @Test func twoGraphsWithOneIdAreAnError() throws {
        let graph = "id: same\nlanguages: [nl]\nstart: a\nnodes:\n  a: { end: ~ }\n"
        let failure = #expect(throws: DialogueLoadFailure.self) {
            try DialogueLoader.loadLibrary(files: [(path: "one.yaml", text: graph), (path: "two.yaml", text: graph)])
        }
        #expect(failure?.errors.count == 1)
        #expect(failure?.errors.first?.message.contains("also used by one.yaml") == true)
    }

    @Test func everyBrokenFileIsReportedNotOnlyTheFirst() throws {
        let failure = #expect(throws: DialogueLoadFailure.self) {
            try DialogueLoader.loadLibrary(files: [(path: "one.yaml", text: "id: x\n"), (path: "two.yaml", text: "nodes: 3\n")])
        }
        #expect(failure?.errors.map(\.location.file) == ["one.yaml", "two.yaml"])
    }

    @Test func flowsCommandsAndServiceLinesAreReadFromGlobal() throws {
        let global = """
            flows:
              g: { nl: [Dieper kijken], en: [look deeper] }
              nergens: { nl: [nergens] }
            commands:
              progress: { nl: [mijn voortgang], en: [my progress] }
            service:
              busy: { nl: "Druk, {n} keer", en: "Busy, {n} times" }
            """
        let graph = "id: g\nlanguages: [nl, en]\nstart: a\nnodes:\n  a: { end: ~ }\n"
        let library = try DialogueLoader.loadLibrary(files: [(path: "global.yaml", text: global), (path: "g.yaml", text: graph)])
        #expect(library.flow(named: "dieper KIJKEN!")?.graph == "g")
        #expect(library.flow(named: "Look deeper")?.language == "en")
        #expect(library.flow(named: "ik wil dieper kijken") == nil)
        #expect(library.command(in: "Mijn voortgang") == "progress")
        #expect(library.command(in: "voortgang van mijn klas") == nil)
        #expect(library.serviceMessage("busy", in: "en", fallback: "x", ["n": "3"]) == "Busy, 3 times")
        #expect(library.serviceMessage("missing", in: "nl", fallback: "Fallback") == "Fallback")
        let unknown = DialogueLinter.lint(library).filter { $0.rule == .unknownTarget }
        #expect(unknown.map(\.message) == ["flows: `nergens` is not a graph"])
        #expect(unknown.first?.location?.line == 3)
    }

    @Test func aMissingDirectoryIsAnError() throws {
        let failure = #expect(throws: DialogueLoadFailure.self) { try DialogueLoader.loadLibrary(directory: "/nonexistent/Prompts") }
        #expect(failure?.errors.first?.message.contains("cannot list") == true)
    }

    @Test func aBinaryFileIsAnErrorNotACrash() throws {
        let garbage = String(decoding: (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }, as: UTF8.self)
        #expect(throws: DialogueLoadError.self) { try DialogueLoader.loadGraph(garbage, file: "junk.yaml") }
    }
}
