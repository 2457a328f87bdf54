import SpiegelDialogue
import Testing

@Suite struct DialogueLinterTests {
    /// Findings for a graph `g` made of `nodes`, with the fixture global.yaml beside it.
    private func findings(_ nodes: String, start: String = "a", extra: String = "") throws -> [LintFinding] {
        let yaml = "id: g\nlanguages: [nl, en]\nstart: \(start)\n\(extra)nodes:\n" + nodes
        return DialogueLinter.lint(try Fixtures.library(with: ["g": yaml])).filter { $0.location?.file != "global.yaml" }
    }

    private func rules(_ findings: [LintFinding]) -> Set<LintFinding.Rule> { Set(findings.map(\.rule)) }

    @Test func theFixturesAreClean() {
        let findings = DialogueLinter.lint(Fixtures.library)
        #expect(findings.isEmpty, "\(findings)")
    }

    @Test func aCleanGraphHasNoFindings() throws {
        let findings = try findings("""
              a:
                ask: { nl: Wat wil je bereiken?, en: What do you want to achieve? }
                store: doel
                next: b
              b:
                end: { nl: "Dank je, {doel}.", en: "Thank you, {doel}." }
            """)
        #expect(findings.isEmpty, "\(findings)")
    }

    @Test func anUnknownTargetIsAnError() throws {
        let findings = try findings("  a:\n    say: { nl: Hoi, en: Hi }\n    next: nergens\n")
        let finding = try #require(findings.first { $0.rule == .unknownTarget })
        #expect(finding.severity == .error)
        #expect(finding.message.contains("`nergens`"))
        #expect(finding.location?.line == 5)
        #expect(finding.location?.column == 3)
    }

    @Test func anUnknownCalledGraphIsAnError() throws {
        let findings = try findings("  a:\n    call: bestaatniet\n    next: b\n  b:\n    end: ~\n")
        #expect(findings.contains { $0.rule == .unknownTarget && $0.message.contains("calls `bestaatniet`") })
    }

    @Test func anUnreachableNodeIsAnError() throws {
        let findings = try findings("  a:\n    end: ~\n  wees:\n    end: ~\n")
        #expect(findings.contains { $0.rule == .unreachable && $0.message.contains("`wees`") })
    }

    @Test(arguments: [
        "  a:\n    say: { nl: Hoi, en: Hi }\n",
        "  a:\n    branch:\n      - if: x\n        next: b\n  b:\n    end: ~\n",
        "  a:\n    scale: { nl: Hoeveel?, en: How much? }\n    store: s\n    follow_ups:\n      - { range: 1-5, next: b }\n  b:\n    end: ~\n",
        "  a:\n    diagnose: x\n    outcomes: { A: b }\n  b:\n    end: ~\n",
    ])
    func aDeadEndIsAnError(nodes: String) throws {
        let findings = try findings(nodes, extra: "facts: [x]\n")
        #expect(findings.contains { $0.rule == .deadEnd && $0.severity == .error }, "\(findings)")
    }

    @Test func aLoopWithNoWayOutIsAnError() throws {
        let findings = try findings("""
              a:
                ask: { nl: Wat nog meer?, en: What else? }
                store: meer
                next: b
              b:
                say: { nl: Dank je., en: Thanks. }
                next: a
            """)
        #expect(findings.contains { $0.rule == .cycleWithoutExit })
        #expect(!findings.contains { $0.rule == .cycleWithoutQuestion })
    }

    @Test func aLoopThatNeverAsksIsAnError() throws {
        let findings = try findings("""
              a:
                say: { nl: Een, en: One }
                next: b
              b:
                branch:
                  - if: x
                    next: c
                otherwise: a
              c:
                end: ~
            """, extra: "facts: [x]\n")
        #expect(findings.contains { $0.rule == .cycleWithoutQuestion })
        #expect(!findings.contains { $0.rule == .cycleWithoutExit })
    }

    @Test func aNameUsedBeforeAnyPathStoresItIsAnError() throws {
        let findings = try findings("""
              a:
                ask: { nl: "Wat was {doel} ook weer?", en: "What was {doel} again?" }
                store: doel
                next: b
              b:
                branch:
                  - if: plan contains 'x' or vorige.cijfer > 3
                    next: c
                otherwise: c
              c:
                end: ~
                summary: [doel, inzicht]
            """, extra: "facts: [vorige.cijfer]\n")
        let names = findings.filter { $0.rule == .undefinedVariable }.map(\.message)
        #expect(names.count == 3, "\(names)")
        #expect(names.contains { $0.contains("node `a` uses `doel`") })
        #expect(names.contains { $0.contains("node `b` uses `plan`") })
        #expect(names.contains { $0.contains("node `c` uses `inzicht`") })
    }

    @Test func aNameStoredOnOnlyOnePathIsFine() throws {
        let findings = try findings("""
              a:
                choice: { nl: Welke?, en: Which? }
                options:
                  - { nl: Een, en: One, next: b }
                  - { nl: Twee, en: Two, next: c }
              b:
                ask: { nl: Wat precies?, en: What exactly? }
                store: detail
                next: c
              c:
                end: { nl: "Oké {detail}", en: "OK {detail}" }
            """)
        #expect(!findings.contains { $0.rule == .undefinedVariable })
    }

    @Test func aNameStoredInACalledGraphCanBeReadAfterTheCall() throws {
        let caller = """
            id: g
            languages: [nl, en]
            start: a
            nodes:
              a:
                call: diep
                next: b
              b:
                end: { nl: "Je ideaal: {ideaal}, {nergens}", en: "Your ideal: {ideaal}, {nergens}" }
            """
        let callee = """
            id: diep
            languages: [nl, en]
            start: ideaal
            nodes:
              ideaal:
                ask: { nl: Wat is je ideaal?, en: What is your ideal? }
                store: ideaal
                next: klaar
              klaar:
                end: ~
            """
        let findings = DialogueLinter.lint(try Fixtures.library(with: ["g": caller, "diep": callee]))
        let names = findings.filter { $0.rule == .undefinedVariable }.map(\.message)
        #expect(names == ["node `b` uses `nergens`, which no path from `a` stores first (declare facts from earlier sessions under `facts`)"])
    }

    @Test func aMissingTranslationIsAnError() throws {
        let findings = try findings("  a:\n    say: Alleen Nederlands\n    next: b\n  b:\n    end: { nl: Dag }\n")
        #expect(findings.filter { $0.rule == .missingTranslation }.count == 2)
        #expect(findings.contains { $0.message.contains("no text in en") })
    }

    @Test func optionsThatReadAlikeAreAnError() throws {
        let findings = try findings("""
              a:
                choice: { nl: Welke?, en: Which? }
                options:
                  - { nl: De les, en: The lesson, next: b }
                  - { nl: "De lés!", en: The pupils, next: b }
                  - { nl: Stop, en: Stop, next: b }
              b:
                end: ~
            """)
        #expect(findings.contains { $0.rule == .collidingOptions && $0.severity == .error && $0.message.contains("options 1 and 2") })
        #expect(findings.contains { $0.rule == .collidingOptions && $0.severity == .warning && $0.message.contains("`stop` intent") })
    }

    @Test(arguments: [
        ("Heb je dat goed gedaan?", "Did you do that well?", LintFinding.Rule.closedQuestion),
        ("Vind je niet dat het beter kan?", "Don't you think it could be better?", .suggestiveQuestion),
        ("Je moet eerst de regels herhalen. Wat denk je?", "You should repeat the rules first. What do you think?", .advice),
    ])
    func niveaSlipsAreWarnings(dutch: String, english: String, rule: LintFinding.Rule) throws {
        let findings = try findings("  a:\n    ask: { nl: \"\(dutch)\", en: \"\(english)\" }\n    store: x\n    next: b\n  b:\n    end: ~\n")
        let slips = findings.filter { $0.rule == rule }
        #expect(slips.count == 2, "\(findings)")
        #expect(slips.allSatisfy { $0.severity == .warning })
    }

    @Test func markingANodeLetsClosedQuestionsAndAdvicePass() throws {
        let findings = try findings("""
              a:
                ask: { nl: Wil je nog iets kwijt?, en: Is there anything else? }
                closed: true
                store: x
                next: b
              b:
                say: { nl: Mijn advies is om klein te beginnen., en: My advice is to start small. }
                advice: true
                next: c
              c:
                end: ~
            """)
        #expect(findings.isEmpty, "\(findings)")
    }

    @Test func anOpenQuestionPasses() throws {
        let findings = try findings("  a:\n    ask: { nl: \"Wat werkte al, al was het maar een beetje?\", en: What worked already? }\n    store: x\n    next: b\n  b:\n    end: ~\n")
        #expect(findings.isEmpty, "\(findings)")
    }
}
