import Foundation
import Logging
@testable import SpiegelApp
import SpiegelVault
import Testing

/// The try-out page's view of a conversation: filled from the journal after a restart, a reply
/// the outbox delivers again after a crash shown once, the same words said anew shown again, an
/// erasure emptying it, and a waiting page woken by a line or a reload.
@Suite struct TryoutMailboxesTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-tryout-mailboxes-\(UUID().uuidString)").path
    let key = MasterKey.generate()
    let room = "AAAAAAAAAAAAAAAAAAAAAA"

    func openVault() throws -> Vault {
        try Vault(configuration: VaultConfiguration(directory: self.directory), masterKey: self.key, logger: Logger(label: "test.tryout"))
    }

    @Test func afterARestartTheJournalFillsThePageAndOnlyAnEarlierProcesssRedeliveryIsDropped() async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let vault = try self.openVault()
        let coachee = TryoutMailboxes.coachee(of: self.room)
        let earlier = Date().addingTimeInterval(-60)
        _ = try await vault.append(
            [NewRecord(.messageIn, Array("hallo".utf8), time: earlier), NewRecord(.messageOut, Array("Wat zou een goede uitkomst zijn?".utf8), time: earlier)],
            for: coachee
        )
        let mailboxes = TryoutMailboxes(vault: vault)
        let first = try await mailboxes.page(room: self.room, after: 0, epoch: nil, reloads: nil, wait: .zero)
        #expect(first.reset)
        #expect(first.items.map(\.text) == ["hallo", "Wat zou een goede uitkomst zijn?"])
        #expect(first.items.map(\.author) == [.teacher, .spiegel])

        // The outbox of the process before delivers the turn's reply again: shown once.
        try await mailboxes.addSpiegelMessage("Wat zou een goede uitkomst zijn?", room: self.room, queuedAt: earlier)
        // The same words said anew ("herhaal") are a new line.
        #expect(try await mailboxes.addTeacherMessage("herhaal", id: "m2", room: self.room))
        #expect(try await !mailboxes.addTeacherMessage("herhaal", id: "m2", room: self.room), "the same message id once")
        try await mailboxes.addSpiegelMessage("Wat zou een goede uitkomst zijn?", room: self.room, queuedAt: Date())
        let next = try await mailboxes.page(room: self.room, after: first.next, epoch: first.epoch, reloads: first.reloads, wait: .zero)
        #expect(!next.reset)
        #expect(next.items.map(\.text) == ["herhaal", "Wat zou een goede uitkomst zijn?"])
        #expect(next.items.first?.messageID == "m2")

        // A message the gateway did not keep is taken back.
        #expect(try await mailboxes.addTeacherMessage("te snel", id: "m3", room: self.room))
        mailboxes.removeTeacherMessage(id: "m3", room: self.room)
        let afterRemoval = try await mailboxes.page(room: self.room, after: 0, epoch: nil, reloads: nil, wait: .zero)
        #expect(!afterRemoval.items.contains { $0.messageID == "m3" })

        // Erasure empties the page and changes its epoch.
        try await vault.forget(coachee)
        let erased = try await mailboxes.page(room: self.room, after: next.next, epoch: next.epoch, reloads: next.reloads, wait: .zero)
        #expect(erased.reset)
        #expect(erased.items.isEmpty)
        try await vault.close()
    }

    @Test func aWaitingPageIsWokenByALineAndByAReload() async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let vault = try self.openVault()
        let mailboxes = TryoutMailboxes(vault: vault)
        let first = try await mailboxes.page(room: self.room, after: 0, epoch: nil, reloads: nil, wait: .zero)
        #expect(first.items.isEmpty)

        async let woken = mailboxes.page(room: self.room, after: first.next, epoch: first.epoch, reloads: first.reloads, wait: .seconds(20))
        try await Task.sleep(for: .milliseconds(100))
        try await mailboxes.addSpiegelMessage("Dag!", room: self.room, queuedAt: Date())
        let page = try await woken
        #expect(page.items.map(\.text) == ["Dag!"])

        async let told = mailboxes.page(room: self.room, after: page.next, epoch: page.epoch, reloads: page.reloads, wait: .seconds(20))
        try await Task.sleep(for: .milliseconds(100))
        mailboxes.reloaded(problem: "Not taken: kort.yaml:3:1: …")
        let reloaded = try await told
        #expect(reloaded.items.isEmpty)
        #expect(reloaded.problem == "Not taken: kort.yaml:3:1: …")
        #expect(reloaded.reloads == page.reloads + 1)

        // With nothing new, the wait ends at its time with nothing.
        let clock = ContinuousClock()
        let started = clock.now
        let quiet = try await mailboxes.page(room: self.room, after: reloaded.next, epoch: reloaded.epoch, reloads: reloaded.reloads, wait: .milliseconds(300))
        #expect(quiet.items.isEmpty && !quiet.reset)
        #expect(clock.now - started >= .milliseconds(300))
        try await vault.close()
    }
}
