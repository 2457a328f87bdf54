import Foundation
import SpiegelCoach
import SpiegelDialogue
import SpiegelVault
import Testing

@Suite struct CoachingServiceTests {
    @Test func aFullReflectionGoesAsTheGoldenTranscriptAndIsRememberedNextTime() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        let script = try Script(named: "reflectie-volledig.txt")
        #expect(try await service.say("hallo", as: "@an:school.example") == script.opening)
        for exchange in script.exchanges {
            #expect(try await service.say(exchange.teacher, as: "@an:school.example") == exchange.bot, "after “\(exchange.teacher)”")
        }
        // The next conversation knows last time's plan and score.
        fixture.advance(by: 7 * 86400)
        _ = try await service.say("hallo", as: "@an:school.example")
        let next = try await service.say("1", as: "@an:school.example")
        #expect(next.first == "Vorige keer nam je je voor: “Vanaf maandag in 2C, een raadsel of een korte herhalingsvraag op het bord”.")
        try await vault.close()
    }

    @Test func aRestartedServiceGoesOnAtTheSameQuestion() async throws {
        let fixture = CoachFixture()
        var vault = try fixture.openVault()
        var service = fixture.service(vault)
        try await service.sayAll(["hallo", "1"], as: "an")
        #expect(try await service.say("Rust bij de start", as: "an") == ["Welk moment uit je les blijft je het meest bij?"])
        try await vault.close()

        vault = try fixture.openVault()
        service = fixture.service(vault)
        #expect(try await service.say("Het binnenkomen na de pauze", as: "an") == ["Wat wilde je op dat moment bereiken, en wat deed je?"])
        #expect(try await service.say("wat zei ik", as: "an") == [
            "Dit zei je tot nu toe:", "– je doel: Rust bij de start", "– het moment: Het binnenkomen na de pauze",
        ])
        try await vault.close()
    }

    @Test func aCoacheeWhoComesBackLaterChoosesToResumeOrStartAgain() async throws {
        let fixture = CoachFixture()
        var vault = try fixture.openVault()
        var service = fixture.service(vault)
        try await service.sayAll(["hallo", "1", "Rust bij de start"], as: "an")
        try await vault.close()

        fixture.advance(by: 3 * 86400)
        vault = try fixture.openVault()
        service = fixture.service(vault)
        let back = try await service.say("hoi", as: "an")
        #expect(back == ["Welkom terug! We waren gebleven in: Reflectie na een les. Zeg “hervat” om verder te gaan waar we waren, of “opnieuw” om een nieuw gesprek te beginnen."])
        #expect(try await service.say("hervat", as: "an") == ["Fijn dat je er weer bent. We gaan verder.", "Welk moment uit je les blijft je het meest bij?"])

        fixture.advance(by: 3 * 86400)
        _ = try await service.say("hoi", as: "an")
        let fresh = try await service.say("opnieuw", as: "an")
        #expect(fresh.first == "Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.")
        try await vault.close()
    }

    @Test func twoCoacheesInterleavedNeverSeeEachOthersWords() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (user, goal) in [("an", "Rust bij de start"), ("bert", "Meer differentiatie")] {
                group.addTask {
                    try await service.sayAll(["hallo", "1", goal, "Het moment van \(user)"], as: user)
                }
            }
            try await group.waitForAll()
        }
        let an = try await service.say("wat zei ik", as: "an").joined(separator: "\n")
        let bert = try await service.say("wat zei ik", as: "bert").joined(separator: "\n")
        #expect(an.contains("Rust bij de start") && an.contains("Het moment van an"))
        #expect(!an.contains("differentiatie") && !an.contains("van bert"))
        #expect(bert.contains("Meer differentiatie") && !bert.contains("Rust"))
        let anRecords = try await vault.records(for: CoacheeID("an"))
        #expect(!anRecords.contains { String(decoding: $0.payload, as: UTF8.self).contains("differentiatie") })
        try await vault.close()
    }

    @Test func forgetMeAsksFirstThenLeavesNoFileOfTheCoachee() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault(checkpointBytes: 1)
        let service = fixture.service(vault)
        try await service.sayAll(["hallo", "1"], as: "an")
        let pseudonym = vault.pseudonym(of: CoacheeID("an")).description
        #expect(fixture.allFiles().contains { $0.contains(pseudonym) })

        let ask = try await service.say("vergeet mij", as: "an")
        #expect(ask.last?.hasPrefix("Wil je echt dat ik alles wis") == true)
        #expect(try await service.say("nee", as: "an") == ["Goed, er is niets gewist.", "Wat zou een goede uitkomst van dit gesprek zijn?"])
        #expect(vault.contains(CoacheeID("an")))

        _ = try await service.say("vergeet mij", as: "an")
        let reply = try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "ja"))
        #expect(reply.outcome == .erased)
        #expect(reply.texts.first?.hasPrefix("Gedaan. Alles wat je hier schreef is gewist") == true)
        #expect(!vault.contains(CoacheeID("an")))
        #expect(!fixture.allFiles().contains { $0.contains(pseudonym) })
        // A new message starts from nothing.
        #expect(try await service.say("hallo", as: "an").first == "Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.")
        try await vault.close()
    }

    @Test func myDataShowsWhatWasSaid() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        try await service.sayAll(["hallo", "1", "Rust bij de start"], as: "an")
        let export = try await service.say("mijn gegevens", as: "an")
        #expect(export.first == "Dit is alles wat ik van je bewaar, in je eigen woorden:")
        #expect(export.contains { $0.hasSuffix("jij/you: Rust bij de start") })
        #expect(export.contains { $0.hasSuffix("Spiegel: Welk moment uit je les blijft je het meest bij?") })
        #expect(!export.contains { $0.contains("\"state\"") }, "no snapshot internals")
        try await vault.close()
    }

    @Test func aRedeliveredMessageIsProcessedOnce() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        _ = try await service.say("hallo", as: "an", id: "m1")
        _ = try await service.say("1", as: "an", id: "m2")
        let first = try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "Rust", id: "m3"))
        let again = try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "Rust", id: "m3"))
        // The same replies again (the transport may have lost them), nothing processed twice.
        #expect(first.outcome == .processed && again.outcome == .duplicate && again.texts == first.texts)
        let count = try await vault.records(for: CoacheeID("an")).filter { $0.type == .messageIn }.count
        #expect(count == 3)
        try await vault.close()
    }

    @Test func aTooLongMessageIsRefusedWholeAndTheQuestionStays() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        var configuration = CoachFixture.configuration
        configuration.maxMessageLength = 100
        let service = fixture.service(vault, configuration: configuration)
        try await service.sayAll(["hallo", "1"], as: "an")
        let reply = try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: String(repeating: "lang ", count: 30)))
        #expect(reply.outcome == .refused)
        #expect(reply.texts == ["Dat bericht is te lang voor mij (meer dan 100 tekens). Kan je het in een paar zinnen zeggen? Ik heb het niet bewaard."])
        #expect(try await service.say("Rust", as: "an") == ["Welk moment uit je les blijft je het meest bij?"])
        try await vault.close()
    }

    @Test func aFloodBeyondTheLongestWaitIsRefusedWithATimeAndOneSlowDown() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        var configuration = CoachFixture.configuration
        configuration.rateLimitBurst = 3
        configuration.rateLimitInterval = .seconds(60)
        configuration.rateLimitMaxWait = .seconds(10)
        let service = fixture.service(vault, configuration: configuration)
        var replies: [Reply] = []
        for index in 0..<8 {
            replies.append(try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "bericht \(index)", id: "m\(index)")))
        }
        #expect(replies.map(\.outcome) == [.processed, .processed, .processed, .rateLimited, .rateLimited, .rateLimited, .rateLimited, .rateLimited])
        #expect(replies[3].texts.first?.hasPrefix("Dat gaat snel!") == true)
        #expect(replies[4...].allSatisfy { $0.texts.isEmpty })
        // A token comes within a minute, past the longest wait: that is when to send it again
        // (on a loaded machine a little of the minute has passed between the messages).
        for reply in replies[3...] {
            #expect(reply.retryAfter.map { $0 > .seconds(10) && $0 <= .seconds(60) } == true, "\(String(describing: reply.retryAfter))")
        }
        // Nothing of the refused messages was kept: sent again later, each is processed once.
        let kept = try await vault.records(for: CoacheeID("an")).filter { $0.type == .messageIn }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(kept == ["bericht 0", "bericht 1", "bericht 2"])
        try await vault.close()
    }

    @Test func aBurstWithinTheLongestWaitIsKeptAndAnsweredInOrder() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        var configuration = CoachFixture.configuration
        configuration.rateLimitBurst = 2
        configuration.rateLimitInterval = .milliseconds(40)
        configuration.rateLimitMaxWait = .seconds(5)
        let service = fixture.service(vault, configuration: configuration)
        // Six at once, as a bridge delivers pasted lines: none is refused; each waits its turn.
        let outcomes = try await withThrowingTaskGroup(of: (Int, Reply.Outcome).self) { group in
            for index in 0..<6 {
                group.addTask {
                    // Staggered a little so they arrive in this order.
                    try await Task.sleep(for: .milliseconds(5 * index))
                    return (index, try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "regel \(index)", id: "r\(index)")).outcome)
                }
            }
            return try await group.reduce(into: [Int: Reply.Outcome]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.values.allSatisfy { $0 == .processed }, "\(outcomes)")
        let kept = try await vault.records(for: CoacheeID("an")).filter { $0.type == .messageIn }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(kept.count == 6)
        try await vault.close()
    }

    @Test func aMessageIdIsRememberedForThreeDaysHoweverManyCameAfter() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        _ = try await service.say("hallo", as: "an", id: "first")
        for index in 0..<150 { _ = try await service.say("stop", as: "an", id: "n\(index)") }
        // 150 newer ones, two days later: still known.
        fixture.advance(by: 48 * 3600)
        #expect(try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "hallo", id: "first")).outcome == .duplicate)
        // After the window, and with more than the minimum since, it is forgotten.
        fixture.advance(by: 25 * 3600)
        _ = try await service.say("stop", as: "an", id: "later")
        #expect(try await service.handle(InboundMessage(coachee: CoacheeID("an"), text: "hallo", id: "first")).outcome == .processed)
        try await vault.close()
    }

    @Test func activeSessionsAreBoundedAndAnEvictedCoacheeGoesOnFromDisk() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        var configuration = CoachFixture.configuration
        configuration.maxActiveSessions = 2
        let service = fixture.service(vault, configuration: configuration)
        for user in ["an", "bert", "chris"] {
            try await service.sayAll(["hallo", "1"], as: user)
            #expect(service.activeSessionCount <= 2)
        }
        // "an" was evicted first; its conversation continues from the vault.
        #expect(try await service.say("Rust", as: "an") == ["Welk moment uit je les blijft je het meest bij?"])
        #expect(service.activeSessionCount == 2)
        #expect(service.evictIdle(olderThan: .zero) == 2)
        #expect(service.activeSessionCount == 0)
        try await vault.close()
    }

    @Test func aFlowCanBeAskedForByName() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        #expect(try await service.say("voorgesprek", as: "an").first == "Dag! Fijn dat je tijd maakt voor dit voorgesprek.")
        #expect(try await service.say("Dieper", as: "an").first == "We kijken even dieper: niet naar een volgende stap, maar naar wat jou drijft. Neem je tijd; er zijn geen foute antwoorden.")
        #expect(try await service.say("hello", as: "en-user").first == "Hi! Good that you take a moment after your lesson to look back.")
        try await vault.close()
    }

    @Test func anEnglishFirstMessageIsAnsweredInEnglishThroughout() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        // "a rough lesson" may be a sign: the check comes first, in English too.
        let opening = try await service.say("Hi, I just had a rough lesson", as: "sam")
        #expect(opening.first == "I read your answer, and first I would like to ask: are you doing all right?")
        let reflection = try await service.say("1", as: "sam")
        #expect(reflection.prefix(2) == ["Good. Then we go on.", "Hi! Good that you take a moment after your lesson to look back."], "then the reflection it came for")
        #expect(try await service.say("2", as: "sam").first == "Fine, then we keep it short.")
        _ = try await service.say("The start went well", as: "sam")
        // English grammar of numbers: "an 8".
        #expect(try await service.say("7", as: "sam") == ["What would be different at an 8?"])
        try await vault.close()
    }

    @Test func progressShowsScoresAsASparklineAndOwnPlans() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        #expect(try await service.say("mijn voortgang", as: "an").first?.hasPrefix("Er is nog geen afgerond gesprek") == true)
        for (score, plan) in [("4", "Een timer"), ("7", "Een startopdracht")] {
            for line in ["hallo", "2", "Het begin", score, "Rustiger", plan, "Als ze meteen beginnen"] {
                _ = try await service.say(line, as: "an")
            }
            fixture.advance(by: 86400)
        }
        let progress = try await service.say("mijn voortgang", as: "an")
        #expect(progress.first == "Je cijfers over de tijd: ▃▆ (4, 7)")
        #expect(progress.contains { $0.hasSuffix("plan: Een timer") })
        #expect(progress.contains { $0.hasSuffix("plan: Een startopdracht") })
        try await vault.close()
    }
}
