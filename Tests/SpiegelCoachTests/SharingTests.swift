import Foundation
import SpiegelCoach
import SpiegelDialogue
import SpiegelVault
import Testing

/// Sharing with a coach, with the real Prompts and a real vault: pairing asked and accepted,
/// the summary in the coachee's words, and only what the coachee approved going anywhere.
@Suite struct SharingTests {
    static let an = "@an:school.example"
    static let els = "@els:school.example"
    static let bram = "@bram:school.example"
    static let cas = "@cas:school.example"
    static let anRoom = ReplyAddress(transport: "plain", room: "!an-dm")
    static let elsRoom = ReplyAddress(transport: "plain", room: "!els-dm")

    /// Everyone's direct chat with the bot.
    static func room(of user: String) -> ReplyAddress {
        ReplyAddress(transport: "plain", room: "!" + user.dropFirst().prefix { $0 != ":" } + "-dm")
    }

    /// A service with An and her coach Els paired in chat, and everything delivered so far.
    struct Pair {
        let fixture = CoachFixture()
        let vault: Vault
        let service: CoachingService
        /// What went to Els's chat, in order.
        var toEls: [String] = []
        /// What went to the coachees' chats through deliveries (not their own replies).
        var toAn: [String] = []
        var counter = 0

        init() throws {
            self.vault = try self.fixture.openVault()
            self.service = self.fixture.service(self.vault)
        }

        /// Sends as `user` from their direct chat; collects the deliveries; returns the replies' lines.
        mutating func say(_ text: String, as user: String) async throws -> [String] {
            self.counter += 1
            let reply = try await self.service.handle(InboundMessage(coachee: CoacheeID(user), text: text, id: "m\(self.counter)", address: SharingTests.room(of: user)))
            for delivery in reply.deliveries {
                #expect(delivery.address.room.hasSuffix("-dm"), "only to a direct chat")
                if delivery.address == SharingTests.elsRoom { self.toEls.append(delivery.text) } else { self.toAn.append(delivery.text) }
            }
            return reply.texts.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        }

        /// `coachee` asks Els; Els (who never wrote before) hears it with her first message and
        /// accepts.
        mutating func pair(_ coachee: String = SharingTests.an) async throws {
            let elsWroteBefore = self.counter > 0
            let asked = try await self.say("mijn coach is \(SharingTests.els)", as: coachee)
            #expect(asked.first?.hasPrefix("Ik vraag \(SharingTests.els) of die je coach wil zijn.") == true)
            if !elsWroteBefore {
                #expect(self.toEls.isEmpty, "Els never wrote: nothing can reach her yet")
                let first = try await self.say("hallo", as: SharingTests.els)
                #expect(first.first?.hasPrefix("\(coachee) vraagt of jij hun coach wil zijn.") == true)
            } else {
                #expect(self.toEls.last?.hasPrefix("\(coachee) vraagt of jij hun coach wil zijn.") == true)
            }
            let accepted = try await self.say("aanvaard \(coachee)", as: SharingTests.els)
            #expect(accepted.first?.hasPrefix("Je bent nu coach van \(coachee).") == true)
            #expect(self.toAn.last?.hasPrefix("\(SharingTests.els) is nu je coach.") == true)
        }

        /// A first, whole golden reflection of `coachee`; returns the lines after the last answer.
        mutating func reflect(_ coachee: String = SharingTests.an) async throws -> [String] {
            let script = try Script(named: "reflectie-volledig.txt")
            _ = try await self.say("hallo", as: coachee)
            var last: [String] = []
            for exchange in script.exchanges { last = try await self.say(exchange.teacher, as: coachee) }
            return last
        }

        /// The consent records in `coachee`'s vault.
        func consent(_ coachee: String = SharingTests.an) async throws -> [ConsentRecord] {
            try await self.vault.records(for: CoacheeID(coachee)).filter { $0.type == .consent }
                .map { try JSONDecoder().decode(ConsentRecord.self, from: Data($0.payload)) }
        }
    }

    static let parts = [
        "1. je doel: Dat de start van mijn lessen rustiger verloopt",
        "2. het moment: Het binnenkomen na de middagpauze in 2C",
        "3. de uitdaging: Hoe ik hun aandacht krijg zonder te roepen",
    ]

    @Test func theSummaryIsProposedInTheCoacheesWordsAndSomeOfItIsShared() async throws {
        var pair = try Pair()
        try await pair.pair()
        let end = try await pair.reflect()
        let intro = try #require(end.firstIndex(of: "Je samenvatting, in je eigen woorden:"))
        #expect(Array(end[(intro + 1)...].prefix(3)) == Self.parts)
        #expect(end.contains { $0.contains("je cijfer: 6") })
        #expect(end.last == "Wil je je coach (\(Self.els)) er nog iets bij vragen? Typ je vraag, of zeg “nee”.")
        #expect(pair.toEls.count == 0, "nothing before a choice")

        let choose = try await pair.say("Hoe pak jij de eerste minuten aan?", as: Self.an)
        #expect(choose.last?.hasPrefix("Wat mag naar \(Self.els)?") == true)
        #expect(choose.contains { $0.hasSuffix("je vraag aan je coach: Hoe pak jij de eerste minuten aan?") })
        let preview = try await pair.say("1 3", as: Self.an)
        #expect(preview.first == "Dit gaat naar \(Self.els), precies zo:")
        #expect(preview.last == "Versturen? Zeg “ja” om te versturen, of “nee”.")
        #expect(pair.toEls.isEmpty, "nothing before the yes")
        let sent = try await pair.say("ja", as: Self.an)
        #expect(sent.first?.hasPrefix("Verstuurd naar \(Self.els).") == true)

        let delivered = try #require(pair.toEls.last)
        let lines = delivered.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("Samenvatting van \(Self.an) ("))
        #expect(lines[1] == "– je doel: Dat de start van mijn lessen rustiger verloopt")
        #expect(lines[2] == "– de uitdaging: Hoe ik hun aandacht krijg zonder te roepen")
        // What was shown in preview is exactly what went out.
        #expect(preview.dropFirst(2).dropLast().joined(separator: "\n") == delivered)
        #expect(try await pair.consent().map(\.event) == [.shown, .approved, .sent])
        #expect(try await pair.consent().last?.text == delivered)

        // Els's overview holds it; An's list too.
        let overview = try await pair.say("overzicht", as: Self.els)
        #expect(overview.contains("– de uitdaging: Hoe ik hun aandacht krijg zonder te roepen"))
        let shared = try await pair.say("wat heb ik gedeeld?", as: Self.an)
        #expect(shared.contains("– je doel: Dat de start van mijn lessen rustiger verloopt"))
        // "mijn gegevens" includes the consent decisions.
        let export = try await pair.say("mijn gegevens", as: Self.an).joined(separator: "\n")
        #expect(export.contains("consent: shown, \(Self.els)") && export.contains("consent: sent, \(Self.els): Samenvatting van \(Self.an)"))
        try await pair.vault.close()
    }

    @Test func nothingEditThenShareAndNoAnswer() async throws {
        var pair = try Pair()
        // An: "niets", nothing goes.
        try await pair.pair(Self.an)
        _ = try await pair.reflect(Self.an)
        _ = try await pair.say("nee", as: Self.an)
        #expect(try await pair.say("niets", as: Self.an) == ["Goed, er gaat niets naar \(Self.els)."])
        #expect(pair.toEls.filter { $0.hasPrefix("Samenvatting") }.isEmpty)
        #expect(try await pair.consent(Self.an).map(\.event) == [.shown, .declined])

        // Bram: an edit in his own words, then everything.
        try await pair.pair(Self.bram)
        _ = try await pair.reflect(Self.bram)
        _ = try await pair.say("nee", as: Self.bram)
        let edited = try await pair.say("pas 2 aan: Het moment dat ze binnenkomen", as: Self.bram)
        #expect(edited.first == "Aangepast:" && edited.contains("2. het moment: Het moment dat ze binnenkomen"))
        _ = try await pair.say("alles", as: Self.bram)
        _ = try await pair.say("ja", as: Self.bram)
        let delivered = try #require(pair.toEls.last)
        #expect(delivered.hasPrefix("Samenvatting van \(Self.bram)"))
        #expect(delivered.contains("– het moment: Het moment dat ze binnenkomen"))
        #expect(!delivered.contains("middagpauze"))
        #expect(try await pair.consent(Self.bram).map(\.event) == [.shown, .edited, .approved, .sent])

        // Cas: no answer; the next message is the start of something else, and nothing goes.
        try await pair.pair(Self.cas)
        let before = pair.toEls.count
        _ = try await pair.reflect(Self.cas)
        _ = try await pair.say("nee", as: Self.cas)
        let next = try await pair.say("hallo", as: Self.cas)
        #expect(next.first == "Dag, fijn dat je er weer bent. De afspraken blijven dezelfde: wat je schrijft, blijft van jou.")
        #expect(pair.toEls.count == before)
        #expect(try await pair.consent(Self.cas).map(\.event) == [.shown, .declined])
        try await pair.vault.close()
    }

    @Test func numbersAllOrNothingRightAtTheSummaryAreTheChoice() async throws {
        var pair = try Pair()
        // An answers the question about a question with the numbers: the choice, no new reflection.
        try await pair.pair(Self.an)
        _ = try await pair.reflect(Self.an)
        let preview = try await pair.say("1 3", as: Self.an)
        #expect(preview.first == "Dit gaat naar \(Self.els), precies zo:")
        #expect(preview.last == "Versturen? Zeg “ja” om te versturen, of “nee”.")
        _ = try await pair.say("ja", as: Self.an)
        let delivered = try #require(pair.toEls.last)
        #expect(delivered.contains("– je doel: Dat de start van mijn lessen rustiger verloopt"))
        #expect(!delivered.contains("het moment"))
        #expect(try await pair.consent(Self.an).map(\.event) == [.shown, .approved, .sent])

        // Bram: "alles" right away.
        try await pair.pair(Self.bram)
        _ = try await pair.reflect(Self.bram)
        #expect(try await pair.say("alles", as: Self.bram).first == "Dit gaat naar \(Self.els), precies zo:")

        // Cas: "niets" right away is said back, not passed over in silence.
        try await pair.pair(Self.cas)
        let before = pair.toEls.count
        _ = try await pair.reflect(Self.cas)
        #expect(try await pair.say("niets", as: Self.cas) == ["Goed, er gaat niets naar \(Self.els)."])
        #expect(pair.toEls.count == before)
        #expect(try await pair.consent(Self.cas).map(\.event) == [.shown, .declined])
        try await pair.vault.close()
    }

    @Test func aWithdrawnSummaryIsMarkedAtTheCoachAndErasureWithdrawsEverything() async throws {
        var pair = try Pair()
        try await pair.pair(Self.bram)
        _ = try await pair.reflect(Self.bram)
        _ = try await pair.say("nee", as: Self.bram)
        _ = try await pair.say("1", as: Self.bram)
        _ = try await pair.say("ja", as: Self.bram)
        let withdrawn = try await pair.say("trek in", as: Self.bram)
        #expect(withdrawn.first?.hasPrefix("Ingetrokken. \(Self.els) kreeg bericht") == true)
        #expect(withdrawn.first?.contains("kan ik daar niet wissen") == true)
        #expect(pair.toEls.last?.hasPrefix("\(Self.bram) trok de samenvatting van") == true)
        let overview = try await pair.say("overzicht", as: Self.els).joined(separator: "\n")
        #expect(overview.contains("(ingetrokken)") && !overview.contains("rustiger verloopt"), "the coach's record keeps no withdrawn text")
        #expect(try await pair.say("trek in", as: Self.bram) == ["Er is niets om in te trekken."])
        #expect(try await pair.consent(Self.bram).last?.event == .withdrawn)
        let list = try await pair.say("wat heb ik gedeeld?", as: Self.bram).joined(separator: "\n")
        #expect(list.contains("(ingetrokken)"))

        // An shares, then "vergeet mij": withdrawn at the coach, pairing ended, nothing of An left.
        try await pair.pair(Self.an)
        _ = try await pair.reflect(Self.an)
        _ = try await pair.say("nee", as: Self.an)
        _ = try await pair.say("alles", as: Self.an)
        _ = try await pair.say("ja", as: Self.an)
        _ = try await pair.say("vergeet mij", as: Self.an)
        _ = try await pair.say("ja", as: Self.an)
        #expect(pair.toEls.suffix(2).first?.hasPrefix("\(Self.an) trok de samenvatting van") == true)
        #expect(pair.toEls.last == "\(Self.an) heeft de coaching via Spiegel beëindigd.")
        #expect(!pair.vault.contains(CoacheeID(Self.an)))
        let after = try await pair.say("overzicht", as: Self.els).joined(separator: "\n")
        #expect(!after.contains("rustiger verloopt") && !after.contains("startopdracht"))
        try await pair.vault.close()
    }

    @Test func noAcceptedCoachMeansNoSummaryAndNothingSent() async throws {
        var pair = try Pair()
        // Asked but not (yet) accepted: the reflection ends without a proposal.
        _ = try await pair.say("hallo", as: Self.els)
        _ = try await pair.say("mijn coach is \(Self.els)", as: Self.an)
        #expect(pair.toEls.last?.hasPrefix("\(Self.an) vraagt of jij hun coach wil zijn.") == true, "Els has written before: told at once")
        // Mid-conversation, "delen" says how it works: nothing without an accepted coach.
        _ = try await pair.say("hallo", as: Self.an)
        #expect(try await pair.say("delen", as: Self.an).first?.hasPrefix("Je hebt (nog) geen coach die aanvaard heeft.") == true)
        let end = try await pair.reflect()
        #expect(!end.contains("Je samenvatting, in je eigen woorden:"))
        #expect(pair.toEls.count == 1)
        // Els declines; an accept for someone who did not ask changes nothing.
        #expect(try await pair.say("aanvaard @piet:school.example", as: Self.els) == ["@piet:school.example vroeg jou niet als coach."])
        _ = try await pair.say("weiger \(Self.an)", as: Self.els)
        #expect(pair.toAn.last == "\(Self.els) is (nu) niet je coach. Er wordt niets gedeeld.")
        let end2 = try await pair.reflect(Self.bram)
        #expect(!end2.contains("Je samenvatting, in je eigen woorden:"))
        #expect(pair.toEls.count == 1, "a coach who is not paired receives nothing")
        #expect(try await pair.say("mijn coach is \(Self.an)", as: Self.an) == ["Je kan niet je eigen coach zijn."])
        try await pair.vault.close()
    }

    @Test func aPairingFromConfigNeedsNoAcceptanceAndAnInvitationGoesOnce() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        var configuration = CoachFixture.configuration
        configuration.pairings = [Self.an: Self.els]
        let service = fixture.service(vault, configuration: configuration)
        func say(_ text: String, as user: String) async throws -> Reply {
            try await service.handle(InboundMessage(coachee: CoacheeID(user), text: text, address: user == Self.an ? Self.anRoom : Self.elsRoom))
        }
        _ = try await say("hallo", as: Self.els)
        let script = try Script(named: "reflectie-volledig.txt")
        _ = try await say("hallo", as: Self.an)
        var last = Reply([], .processed)
        for exchange in script.exchanges { last = try await say(exchange.teacher, as: Self.an) }
        #expect(last.texts.contains { $0.hasPrefix("Je samenvatting, in je eigen woorden:") })
        _ = try await say("nee", as: Self.an)
        _ = try await say("2", as: Self.an)
        let sent = try await say("ja", as: Self.an)
        #expect(sent.deliveries.map(\.address) == [Self.elsRoom])
        #expect(sent.deliveries.first?.text.hasSuffix("– het moment: Het binnenkomen na de middagpauze in 2C") == true)

        // Els invites a colleague who never wrote: nobody to reach, nothing kept of them.
        let unknown = try await say("nodig @bert:school.example uit", as: Self.els)
        #expect(unknown.deliveries.isEmpty && unknown.texts.last?.contains("nog nooit met mij gepraat") == true)
        #expect(!vault.contains(CoacheeID("@bert:school.example")))
        // An invitation to someone who did write goes once.
        let invited = try await say("nodig \(Self.an) uit", as: Self.els)
        #expect(invited.deliveries.count == 1 && invited.deliveries.first?.address == Self.anRoom)
        #expect(invited.deliveries.first?.text.contains("vrijblijvend") == true)
        let again = try await say("nodig \(Self.an) uit", as: Self.els)
        #expect(again.deliveries.isEmpty && again.texts.last?.contains("geen tweede") == true)
        try await vault.close()
    }
}
