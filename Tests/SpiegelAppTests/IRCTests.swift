import Foundation
import SpiegelApp
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// Spiegel on real IRC servers started on loopback: ngIRCd (no accounts: nick identity) and
/// InspIRCd with atheme's services (SASL PLAIN, `account-tag`). The teachers are raw-socket
/// clients (`Fixtures/irc_teacher.py`); Spiegel runs in process with the test's clock.
@Suite(.serialized, .tags(.irc), .enabled(if: runs("irc"))) struct IRCTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/irc_teacher.py")

    /// The golden reflection: what the teacher says, and the lines Spiegel answers each with.
    static func golden() throws -> (opening: [String], exchanges: [(teacher: String, bot: [String])]) {
        let text = try String(contentsOfFile: TeamRemindersTests.prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8)
        var opening: [String] = []
        var exchanges: [(teacher: String, bot: [String])] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("< ") {
                if exchanges.isEmpty { opening.append(String(line.dropFirst(2))) } else { exchanges[exchanges.count - 1].bot.append(String(line.dropFirst(2))) }
            } else if line.hasPrefix("> ") {
                exchanges.append((String(line.dropFirst(2)), []))
            }
        }
        return (opening, exchanges)
    }

    static func configuration(directory: URL, server: IRCTestServer) -> SpiegelConfiguration {
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = directory.appendingPathComponent("data").path
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.promptsDirectory = TeamRemindersTests.prompts
        configuration.irc.server = server.host
        configuration.irc.port = server.port
        configuration.irc.tls = false
        configuration.irc.nick = "spiegel"
        return configuration
    }

    /// The IRC client of a running server.
    static func ircClient(_ server: SpiegelServerTests.Running) throws -> IRCClient {
        let transports = server.services.compactMap { ($0 as? Outbox)?.transport as? IRCTransport }
        return try #require(transports.first).client
    }

    /// Waits until the bot registered for the `count`th time.
    static func waitForRegistration(_ client: IRCClient, count: Int) async throws {
        try await Poll.until("registration \(count)", timeout: .seconds(30)) {
            let registrations = await client.registrations
            let current = await client.current
            return registrations >= count && current != nil
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aPrivateMessageIsAConversationThroughARestartAndTheTeamChannelGetsOnlyTheReminder() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-irc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let irc = try await IRCTestServer.ngircd()
        let teamsFile = directory.appendingPathComponent("teams.yaml").path
        try """
            teams:
              - id: tweede-graad
                name: Tweede graad
                transport: irc
                room: "#tweede-graad"
                members: ["irc:nick:an", "irc:nick:bram"]
                coaches: ["irc:nick:els"]
                intervision: { after_days: 7, at: "08:00" }
            """.write(toFile: teamsFile, atomically: true, encoding: .utf8)
        var configuration = Self.configuration(directory: directory, server: irc)
        configuration.teams.file = teamsFile
        configuration.teams.tick = .milliseconds(50)
        let clock = TeamRemindersTests.Clock()
        let golden = try Self.golden()

        let an = try await IRCTestClient.start(script: Self.script, name: "an")
        let bram = try await IRCTestClient.start(script: Self.script, name: "bram")
        let els = try await IRCTestClient.start(script: Self.script, name: "els")
        try await SpiegelServerTests.run(configuration, now: clock.read) { server in
            let bot = try Self.ircClient(server)
            try await Self.waitForRegistration(bot, count: 1)
            try await an.connect(to: irc, nick: "an")
            try await bram.connect(to: irc, nick: "bram")
            try await els.connect(to: irc, nick: "els")
            try await els.join("#tweede-graad")

            // A reflection in a private message, line for line the golden transcript.
            try await an.send("hallo", to: "spiegel")
            var expected = golden.opening
            #expect(try await an.waitForMessages(from: "spiegel", to: "an", count: expected.count, timeout: .seconds(30)).map(\.text) == expected)
            for exchange in golden.exchanges.prefix(2) {
                try await an.send(exchange.teacher, to: "spiegel")
                expected += exchange.bot
                #expect(try await an.waitForMessages(from: "spiegel", to: "an", count: expected.count, timeout: .seconds(30)).map(\.text) == expected)
            }

            // The server restarts in the middle: Spiegel comes back by itself and goes on where
            // the conversation was.
            try await irc.restart()
            try await Self.waitForRegistration(bot, count: 2)
            await an.stop()
            let anAgain = try await IRCTestClient.start(script: Self.script, name: "an-again")
            try await anAgain.connect(to: irc, nick: "an")
            let next = golden.exchanges[2]
            try await anAgain.send(next.teacher, to: "spiegel")
            #expect(try await anAgain.waitForMessages(from: "spiegel", to: "an", count: next.bot.count, timeout: .seconds(30)).map(\.text) == next.bot)
            try await bram.connect(to: irc, nick: "bram")
            try await els.connect(to: irc, nick: "els")
            try await els.join("#tweede-graad")

            // Coaching words in the team channel are not coached; a round told in private is.
            try await els.send("hallo, ik had een rommelige les", to: "#tweede-graad")
            try await els.send("nieuwe ronde: @an @bram", to: "spiegel")
            let started = try await els.waitForMessages(from: "spiegel", to: "els", count: 1, timeout: .seconds(30))
            #expect(started.first?.text.hasPrefix("Nieuwe lesstudie-ronde voor Tweede graad, met de duo’s @an & @bram") == true)
            try await bram.send("onze les is dinsdag 14/1 om 10u", to: "spiegel")
            let noted = try await bram.waitForMessages(from: "spiegel", to: "bram", count: 2, timeout: .seconds(30))
            #expect(noted.last?.text == "Alle lessen van deze ronde zijn bekend. Rond 21/1/2025 herinner ik Tweede graad aan de intervisie.")

            // A week after the lesson, at 08:00 in Brussels: the reminder, once, in the channel.
            clock.set(TeamRemindersTests.brussels(2025, 1, 21, 8, 0))
            try await server.teamRemindersChecked(through: TeamRemindersTests.brussels(2025, 1, 21, 8, 0))
            try await server.settled()
            let inChannel = try await els.waitForMessages(from: "spiegel", to: "#tweede-graad", count: 1, timeout: .seconds(30))
            #expect(inChannel.count == 1)
            #expect(inChannel.first?.text.hasPrefix("Tijd voor de intervisie! De laatste geobserveerde les van deze ronde was op 14/1/2025.") == true)
            await anAgain.stop()
        }
        await bram.stop()
        await els.stop()
        await irc.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func overTLSTheServersCertificateIsCheckedAndABotWhoseNickIsTakenTakesAnother() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-irc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let irc = try await IRCTestServer.ngircd(tls: true)
        var configuration = Self.configuration(directory: directory, server: irc)
        configuration.irc.port = try #require(irc.tlsPort)
        configuration.irc.tls = true
        let golden = try Self.golden()

        // Not trusted (the system's CAs): no connection, nothing goes out in the clear.
        try await SpiegelServerTests.run(configuration, now: { TeamRemindersTests.start }) { server in
            let bot = try Self.ircClient(server)
            #expect(try await bot.waitForSession(timeout: .seconds(3)) == nil)
        }

        // The school's own CA given: the conversation goes over TLS. Someone holds the nick
        // "spiegel": the bot takes "spiegel_".
        configuration.httpClient.caBundlePath = irc.certificate.path
        let squatter = try await IRCTestClient.start(script: Self.script, name: "squatter")
        try await squatter.connect(to: irc, nick: "spiegel")
        let an = try await IRCTestClient.start(script: Self.script, name: "an")
        try await SpiegelServerTests.run(configuration, now: { TeamRemindersTests.start }) { server in
            let bot = try Self.ircClient(server)
            try await Self.waitForRegistration(bot, count: 1)
            #expect(await bot.current?.nick == "spiegel_")
            try await an.connect(to: irc, nick: "an")
            try await an.send("hallo", to: "spiegel_")
            #expect(try await an.waitForMessages(from: "spiegel_", to: "an", count: golden.opening.count, timeout: .seconds(30)).map(\.text) == golden.opening)
            #expect(try await squatter.received().isEmpty, "nothing for the one who holds the nick")
        }
        await an.stop()
        await squatter.stop()
        await irc.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func withAccountsATeacherIsTheirAccountLongRepliesAreSplitAndPacedAndStrangersAreAskedToLogIn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-irc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let irc = try await IRCTestServer.inspircd(accounts: ["spiegel": "spiegel-wachtwoord", "an": "an-wachtwoord"])
        var configuration = Self.configuration(directory: directory, server: irc)
        configuration.irc.saslAccount = "spiegel"
        configuration.irc.saslPassword = "spiegel-wachtwoord"
        let golden = try Self.golden()

        let an = try await IRCTestClient.start(script: Self.script, name: "an")
        let stranger = try await IRCTestClient.start(script: Self.script, name: "stranger")
        try await SpiegelServerTests.run(configuration, now: { TeamRemindersTests.start }) { server in
            let bot = try Self.ircClient(server)
            try await Self.waitForRegistration(bot, count: 1)
            let session = try #require(await bot.current)
            #expect(session.capabilities.isSuperset(of: ["account-tag", "sasl", "server-time", "message-tags", "cap-notify"]))

            // Someone not logged in, under the nick of a teacher, is told to log in; nothing is kept.
            try await stranger.connect(to: irc, nick: "an_")
            try await stranger.send("hallo", to: "spiegel")
            let refused = try await stranger.waitForMessages(from: "spiegel", count: 1, timeout: .seconds(30))
            #expect(refused.first?.text.hasPrefix("Ik praat alleen met wie aangemeld is bij een account") == true)

            // The teacher, logged in with SASL: their account is who they are.
            try await an.connect(to: irc, nick: "an", saslAccount: "an", saslPassword: "an-wachtwoord")
            try await an.send("hallo", to: "spiegel")
            var expected = golden.opening
            #expect(try await an.waitForMessages(from: "spiegel", to: "an", count: expected.count, timeout: .seconds(30)).map(\.text) == expected)
            try await an.send(golden.exchanges[0].teacher, to: "spiegel")
            expected += golden.exchanges[0].bot
            let conversation = try await an.waitForMessages(from: "spiegel", to: "an", count: expected.count, timeout: .seconds(30))
            #expect(conversation.map(\.text) == expected)
            try await server.settled()

            // A long answer (a line of its own in the export, longer than IRC carries), then
            // "mijn gegevens": a long reply.
            let long = "Dat de start van mijn lessen rustiger verloopt, vooral na de middagpauze in 2C, wanneer de leerlingen "
                + "binnenkomen terwijl ik nog aan de deur sta en mijn materiaal niet klaarligt; ik wil dat ze meteen weten wat ze moeten doen, "
                + "dat er een opdracht op het bord staat en dat ik niet de eerste tien minuten kwijt ben aan roepen en wachten. "
                + "Eigenlijk wil ik dat die eerste minuten van mij en van hen zijn, rustig en duidelijk, elke week opnieuw."
            try await an.send(long, to: "spiegel")
            try await Poll.until("an answer to the long line", timeout: .seconds(30)) {
                try await an.received().filter { $0.nick == "spiegel" && $0.target == "an" }.count > conversation.count
            }
            try await server.settled()
            let answered = try await an.received().filter { $0.nick == "spiegel" && $0.target == "an" }
            let lastSaid = try #require(answered.last?.text)
            try await an.send("mijn gegevens", to: "spiegel")
            var export: [IRCTestLine] = []
            try await Poll.until("the whole export", timeout: .seconds(120)) {
                let all = try await an.received().filter { $0.nick == "spiegel" && $0.target == "an" }
                export = Array(all.dropFirst(answered.count))
                return export.contains { $0.text == lastSaid || $0.text.hasSuffix("Spiegel: " + lastSaid) }
            }
            for line in export {
                let relayed = ":\(line.source ?? "") PRIVMSG an :\(line.text)\r\n"
                #expect(relayed.utf8.count <= 512)
            }
            let joined = export.map(\.text).joined(separator: " ")
            #expect(joined.contains("jij/you: " + long), "a line cut at words reads whole again")
            #expect(!export.contains { $0.text.hasSuffix("jij/you: " + long) }, "the long line was cut")
            let arrivals = export.map(\.receivedAt)
            if arrivals.count > 6 {
                let paced = zip(arrivals.dropFirst(5), arrivals.dropFirst(6)).map { $1.timeIntervalSince($0) }
                #expect(paced.allSatisfy { $0 > 1.5 }, "one line every two seconds after the burst: \(paced)")
            }
            let registrations = await bot.registrations
            #expect(try await an.isConnected())
            #expect(registrations == 1, "nobody was thrown off for flooding")
        }
        // The vault closed: every journal's files are made.
        #expect(try Vault.coacheeCount(directory: configuration.vaultDirectory) == 1, "the stranger left nothing")
        await an.stop()
        await stranger.stop()
        await irc.stop()
    }
}
