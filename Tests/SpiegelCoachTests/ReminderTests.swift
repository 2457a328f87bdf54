import Foundation
import SpiegelCoach
import SpiegelVault
import Synchronization
import Testing

/// One gentle reminder after a silence, never during the quiet hours, never twice, kept across a
/// restart, and gone with the coachee. The fixture's clock starts on Friday 15 January 2027 at
/// 09:00 in Brussels.
@Suite struct ReminderTests {
    /// What the reminders sent, to whom.
    final class Outbox: Sendable {
        let sent = Mutex<[(String, String)]>([])
        var all: [(String, String)] { self.sent.withLock { $0 } }
        func send(_ reminder: DueReminder) { self.sent.withLock { $0.append((reminder.coachee.rawValue, reminder.text)) } }
    }

    static func configuration(after hours: Double) -> CoachConfiguration {
        var configuration = CoachFixture.configuration
        configuration.reminderAfter = .seconds(hours * 3600)
        return configuration
    }

    @Test func oneReminderAfterTheSilenceAndNeverMore() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault, configuration: Self.configuration(after: 2))
        let outbox = Outbox()
        try await service.sayAll(["hallo", "1"], as: "an")
        fixture.advance(by: 3600)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        fixture.advance(by: 3601)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 1)
        #expect(outbox.all.map(\.0) == ["an"])
        #expect(outbox.all.first?.1 == "Je gesprek “Reflectie na een les” staat nog open. Zin om verder te gaan? Zeg “hervat” wanneer het je past; ik stuur hierover geen herinnering meer.")
        fixture.advance(by: 86400)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        // The reminder is in the coachee's own history.
        #expect(try await vault.records(for: CoacheeID("an")).contains { String(decoding: $0.payload, as: UTF8.self).hasPrefix("Je gesprek “Reflectie") })
        try await vault.close()
    }

    @Test func noReminderInTheQuietHoursButTheNextMorning() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault, configuration: Self.configuration(after: 13))
        let outbox = Outbox()
        try await service.sayAll(["hallo", "1"], as: "an")
        fixture.advance(by: 13 * 3600 + 60)  // 22:01 in Brussels
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        #expect(service.pendingReminderCount == 1)
        fixture.advance(by: 9 * 3600)  // 07:01
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        fixture.advance(by: 3600)  // 08:01
        #expect(try await service.sendDueReminders { outbox.send($0) } == 1)
        try await vault.close()
    }

    @Test func anAnswerPostponesItAFinishedConversationGetsNoneAndErasureRemovesIt() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault, configuration: Self.configuration(after: 2))
        let outbox = Outbox()
        try await service.sayAll(["hallo", "2", "De start", "7", "Rustiger", "Een timer", "Als ze meteen beginnen"], as: "done")
        try await service.sayAll(["hallo", "1"], as: "an")
        try await service.sayAll(["hallo", "1"], as: "bert")
        // Two quiet reminders, and the finished conversation's follow-up a week later.
        #expect(service.pendingReminderCount == 3)
        fixture.advance(by: 3600)
        _ = try await service.say("Rust", as: "an")
        try await service.sayAll(["vergeet mij", "ja"], as: "bert")
        #expect(service.pendingReminderCount == 2)
        fixture.advance(by: 3601)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        fixture.advance(by: 3600)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 1)
        #expect(outbox.all.map(\.0) == ["an"])
        try await vault.close()
    }

    /// The short reflection of `user`, with `plan`; the lines a teacher types.
    static func shortReflection(plan: String) -> [String] {
        ["hallo", "2", "De start", "7", "Rustiger", plan, "Als ze meteen beginnen"]
    }

    @Test func theFollowUpComesOnTheDayOfThePlanAfterSchoolAndOnlyOnce() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let outbox = Outbox()
        // Friday 15 January, 09:00: "maandag" is Monday 18 January.
        try await service.sayAll(Self.shortReflection(plan: "Maandag een timer in 2C"), as: "an")
        #expect(service.pendingReminderCount == 1)
        fixture.advance(by: 3 * 86400 + 6 * 3600 + 59 * 60)  // Monday 15:59
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        fixture.advance(by: 60)  // Monday 16:00
        let kinds = Mutex<[DueReminder.Kind]>([])
        #expect(try await service.sendDueReminders { reminder in outbox.send(reminder); kinds.withLock { $0.append(reminder.kind) } } == 1)
        #expect(outbox.all.first?.1 == "Vandaag was de dag van je plan: “Maandag een timer in 2C”. Zag je wat je noemde: “Als ze meteen beginnen”? Hoe ging het? Zeg “reflectie” om er even op terug te kijken, of “geen opvolging” als je zulke berichten niet meer wil.")
        #expect(kinds.withLock { $0 } == [.followUp])
        fixture.advance(by: 7 * 86400)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        #expect(outbox.all.count == 1)
        try await vault.close()
    }

    @Test func aPlanWithoutADayIsFollowedUpAWeekLaterWithoutQuotingAVaguePlan() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let outbox = Outbox()
        let long = "Ik wil eerst nog met mijn collega's overleggen en dan kijken of een timer of een vaste startopdracht beter past bij deze klas"
        try await service.sayAll(Self.shortReflection(plan: long), as: "an")
        fixture.advance(by: 7 * 86400 - 60)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        fixture.advance(by: 120)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 1)
        #expect(outbox.all.first?.1.hasPrefix("Vandaag was de dag van je plan. Zag je wat je noemde: “Als ze meteen beginnen”?") == true)
        try await vault.close()
    }

    @Test func aFollowUpDaysLateIsDroppedNotSentAsToday() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let outbox = Outbox()
        try await service.sayAll(Self.shortReflection(plan: "Maandag een timer in 2C"), as: "an")
        // Nothing ran from Monday 16:00 until Wednesday 10:00 (the server was down).
        fixture.advance(by: 5 * 86400 + 60)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        #expect(service.pendingReminderCount == 0)
        #expect(outbox.all.isEmpty)
        try await vault.close()
    }

    @Test func aTeacherCanTurnFollowUpsOffAndOnInChat() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let outbox = Outbox()
        try await service.sayAll(Self.shortReflection(plan: "Maandag een timer"), as: "an")
        #expect(try await service.say("geen opvolging", as: "an") == ["Goed, geen opvolgberichten meer na een plan. Zeg “opvolging” om ze weer aan te zetten."])
        #expect(service.pendingReminderCount == 0)
        fixture.advance(by: 4 * 86400)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)
        // The next plan is not followed up either, until they turn it on.
        try await service.sayAll(["reflectie"] + Self.shortReflection(plan: "Dinsdag een timer").dropFirst(), as: "an")
        #expect(service.pendingReminderCount == 0)
        #expect(try await service.say("opvolging", as: "an") == ["Goed, op de dag van je volgende plan vraag ik hoe het ging."])
        try await service.sayAll(["reflectie"] + Self.shortReflection(plan: "Woensdag een timer").dropFirst(), as: "an")
        #expect(service.pendingReminderCount == 1)
        try await vault.close()
    }

    @Test func aReminderGoesWhereTheCoacheeLastWrote() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault, configuration: Self.configuration(after: 2))
        let address = ReplyAddress(transport: "plain", room: "!an-dm")
        for text in ["hallo", "1"] {
            _ = try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: text, id: text, address: address))
        }
        fixture.advance(by: 2 * 3600 + 1)
        let sent = Mutex<[DueReminder]>([])
        #expect(try await service.sendDueReminders { reminder in sent.withLock { $0.append(reminder) } } == 1)
        #expect(sent.withLock { $0.map(\.address) } == [address])
        try await vault.close()
    }

    @Test func nobodyCanTalkAsTheReminderBook() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault, configuration: Self.configuration(after: 2))
        let reply = try await service.handle(InboundMessage(coachee: CoacheeID("spiegel:reminders"), text: "hallo"))
        #expect(reply == Reply([], .refused))
        #expect(!vault.contains(CoacheeID("spiegel:reminders")))
        try await vault.close()
    }

    @Test func theBookSurvivesARestart() async throws {
        let fixture = CoachFixture()
        var vault = try fixture.openVault()
        var service = fixture.service(vault, configuration: Self.configuration(after: 2))
        let outbox = Outbox()
        try await service.sayAll(["hallo", "1"], as: "an")
        #expect(try await service.sendDueReminders { outbox.send($0) } == 0)  // writes the book
        try await vault.close()

        vault = try fixture.openVault()
        service = fixture.service(vault, configuration: Self.configuration(after: 2))
        fixture.advance(by: 2 * 3600 + 1)
        #expect(try await service.sendDueReminders { outbox.send($0) } == 1)
        try await vault.close()
    }
}
