import Foundation
import SpiegelCoach
import SpiegelDialogue
import SpiegelVault
import Testing

/// Every message is screened before the conversation goes on: a sign of distress brings the care
/// flow at any question (the answer counts), after a conversation and as a first message; "toch
/// verder" goes on with the next question, "stoppen" closes the conversation so a later message
/// starts afresh.
@Suite struct ScreeningTests {
    static let care = "Dat klinkt zwaar. Dank je dat je het zegt."
    static let distress = "Eerlijk? Ik kan niet meer. Ik slaap al weken slecht en huil elke avond in de auto."

    @Test func distressMidReflectionBringsCareAndGoingOnGoesToTheNextQuestion() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        try await service.sayAll(["hallo", "1", "Rust bij de start"], as: "an")
        let care = try await service.say(Self.distress, as: "an")
        #expect(care.first == Self.care, "\(care)")
        #expect(care.contains { $0.contains("1813") && $0.contains("113") })
        #expect(care.contains { $0.contains("huisarts") && $0.contains("vertrouwenspersoon") })
        #expect(care.suffix(3).first == "Wat wil je nu?")
        let goOn = try await service.say("1", as: "an")
        #expect(goOn.last == "Wat wilde je op dat moment bereiken, en wat deed je?", "\(goOn)")
        try await vault.close()
    }

    @Test func stoppingForTodayClosesTheConversationAndALaterMessageStartsAfresh() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        try await service.sayAll(["hallo", "1", "Rust bij de start"], as: "an")
        _ = try await service.say(Self.distress, as: "an")
        let stop = try await service.say("2", as: "an")
        #expect(stop.last?.hasPrefix("Goed. Zorg goed voor jezelf.") == true, "\(stop)")
        fixture.advance(by: 86_400)
        let later = try await service.say("hallo", as: "an")
        // A new reflection (with the agreements in one line: they were said before), never back on
        // the painful moment.
        #expect(later.first == "Dag, fijn dat je er weer bent. De afspraken blijven dezelfde: wat je schrijft, blijft van jou.", "\(later)")
        #expect(later.last == "Hoeveel tijd heb je nu?\n1. Tien minuten of meer\n2. Maar een paar minuten" || later.contains("Hoeveel tijd heb je nu?"), "\(later)")
        try await vault.close()
    }

    @Test func aFirstMessageWithDistressGetsCareNotAReflection() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let first = try await service.say("Leeg. Op. Ik ben gewoon op, ik zie het niet meer zitten", as: "bo")
        #expect(first.first == Self.care, "\(first)")
        try await vault.close()
    }

    @Test func aRequestForAdviceInOtherWordsGetsTheNiveaAnswer() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let script = try Script(named: "reflectie-volledig.txt")
        let alternatives = try #require(script.exchanges.firstIndex { $0.bot.contains("Welke mogelijkheden zie je zelf om daar te komen?") })
        _ = try await service.say("hallo", as: "cas")
        for exchange in script.exchanges.prefix(through: alternatives) { _ = try await service.say(exchange.teacher, as: "cas") }
        let nivea = try await service.say("geen idee eigenlijk, zeg jij maar gewoon wat ik het best kan doen", as: "cas")
        #expect(nivea.first == "Jij kent je klas en je leerlingen het best, dus ik vul het niet voor je in.", "\(nivea)")
        try await vault.close()
    }
}
