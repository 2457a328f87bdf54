import Foundation
import SpiegelDialogue
import Testing

@Suite struct ConversationScriptTests {
    let runner = DialogueRunner(library: Fixtures.library)

    static let scripts = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.conversations).filter { $0.hasSuffix(".txt") }.sorted()) ?? []

    @Test(arguments: scripts)
    func goldenConversationsReplay(name: String) throws {
        let path = Fixtures.conversations + "/" + name
        let script = try ConversationScript(try String(contentsOfFile: path, encoding: .utf8), file: path)
        let failure = script.replay(with: self.runner)
        #expect(failure == nil, "\(failure.map(\.description) ?? "")")
    }

    @Test func thereAreScriptsToReplay() {
        #expect(Self.scripts.count >= 3)
    }

    @Test func theFirstDifferenceIsReportedWithItsLine() throws {
        let script = try ConversationScript("""
            @graph kort
            < Dag! Fijn dat je even tijd maakt.
            < Wat zou een goede uitkomst zijn?
            """, file: "wrong.txt")
        let failure = try #require(script.replay(with: self.runner))
        #expect(failure.line == 3)
        #expect(failure.description == "wrong.txt:3: expected “Wat zou een goede uitkomst zijn?”, the bot said “Wat zou een goede uitkomst van dit gesprek zijn?”")
    }

    @Test func unmatchedBotLinesBeforeTheTeacherSpeaksAreAFailure() throws {
        let script = try ConversationScript("< Dag! Fijn dat je even tijd maakt.\n> Rust\n", file: "short.txt")
        let failure = try #require(script.replay(with: self.runner))
        #expect(failure.line == 2)
        #expect(failure.message.contains("the bot said more before this"))
    }

    @Test func aMissingEffectIsAFailure() throws {
        let script = try ConversationScript("<~ Dag\n<~ uitkomst\n> Rust\n! end\n<~ schaal\n", file: "effect.txt")
        let failure = try #require(script.replay(with: self.runner))
        #expect(failure.line == 4)
        #expect(failure.message == "expected effect `end`, the step had: store doel")
    }

    @Test func recordingFillsInTheBotAndTheRecordingReplays() throws {
        let teacherOnly = try ConversationScript("""
            # Only the teacher's side.
            @graph kort
            > Meer rust
            ! store doel
            > 4
            """, file: "teacher.txt")
        let recorded = try teacherOnly.record(with: self.runner)
        #expect(recorded == """
            # Only the teacher's side.
            @graph kort
            < Dag! Fijn dat je even tijd maakt.
            < Wat zou een goede uitkomst van dit gesprek zijn?
            > Meer rust
            ! store doel
            < Op een schaal van 1 tot 10: waar sta je nu met Meer rust?
            > 4
            < Wat maakt het een 4 en geen 3?

            """)
        #expect(try ConversationScript(recorded, file: "recorded.txt").replay(with: self.runner) == nil)
    }

    @Test func aLineThatIsNoInstructionIsRejected() {
        let error = #expect(throws: ConversationFailure.self) { try ConversationScript("< hoi\nhallo\n", file: "bad.txt") }
        #expect(error?.line == 2)
    }

    @Test func replayAllCountsAndReportsEveryScript() throws {
        let result = try ConversationScript.replayAll(in: Fixtures.conversations, with: self.runner)
        #expect(result.count == Self.scripts.count)
        #expect(result.failures.isEmpty, "\(result.failures)")
    }
}
