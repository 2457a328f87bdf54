import Foundation
import HTTPTypes
import Logging
import SpiegelApp
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end encrypted direct chats against a real Synapse, with a real encrypting client
/// (matrix-nio with vodozemac, installed by `make synapse`) playing the teacher: what Spiegel
/// reads and writes is decrypted and encrypted by Spiegel's own device, and the homeserver never
/// holds a sentence of the conversation in the clear. Inside ``MatrixTests``, so the two never
/// run at once (they share the metrics registry, and two Synapses would crowd two cores).
extension MatrixTests {
    @Suite(.serialized) struct Encryption {
        static let hello = MatrixTests.hello

        /// The lines of one decrypted bot message.
        static func lines(_ message: E2EETestMessage) -> [String] {
            (message.body ?? "").split(separator: "\n").map(String.init)
        }

        /// Says `text` and waits for the bot's `count`-th message in the room; every message of the
        /// bot must be encrypted and decrypt.
        static func say(_ text: String, _ teacher: E2EETestClient, in room: String, bot: String, expecting count: Int, timeout: Duration = .seconds(60)) async throws -> [String] {
            _ = try await teacher.send(text, to: room)
            let messages = try await teacher.waitForMessages(in: room, from: bot, count: count, timeout: timeout)
            #expect(messages.allSatisfy { $0.encrypted && $0.decrypted }, "every reply is encrypted and decrypts")
            return Self.lines(messages[count - 1])
        }

        /// The homeserver's database files (SQLite and its write-ahead log) as one text.
        static func homeserverDatabase(_ synapse: SynapseHomeserver) throws -> String {
            let files = try FileManager.default.contentsOfDirectory(atPath: synapse.directory.path).filter { $0.hasPrefix("homeserver.db") }
            #expect(!files.isEmpty)
            return try files.map { String(decoding: try Data(contentsOf: synapse.directory.appendingPathComponent($0)), as: UTF8.self) }.joined()
        }

        /// `spiegel serve` as a process on the fixture's configuration (given by the environment), so
        /// that it can be killed.
        static func serveProcess(_ fixture: MatrixTests.Fixture) throws -> SpiegelProcessTests.Run {
            let configuration = fixture.configuration
            return try SpiegelProcessTests.Run(["serve"], environment: [
                "SPIEGEL_DATA_DIR": configuration.dataDirectory,
                "SPIEGEL_PROMPTS_DIR": configuration.promptsDirectory,
                "SPIEGEL_VAULT_MASTER_KEY": configuration.vaultMasterKey ?? "",
                "SPIEGEL_SERVER_PORT": String(configuration.server.port),
                "SPIEGEL_MATRIX_HOMESERVER_URL": configuration.matrix.homeserverURL ?? "",
                "SPIEGEL_MATRIX_REGISTRATION_FILE": configuration.matrix.registrationFile ?? "",
                "SPIEGEL_MATRIX_USER_ID": configuration.matrix.userID ?? "",
                "SPIEGEL_COACH_RATE_LIMIT_BURST": "1000",
            ])
        }

        @Test func anEncryptedDirectChatIsCoachedThroughARestartAndASigkillAndTheHomeserverHoldsNoneOfItInTheClear() async throws {
            let fixture = try await MatrixTests.fixture(.appservice)
            let registered = try await fixture.synapse.register("an")
            let teacher = try await E2EETestClient.start(homeserver: fixture.synapse.baseURL, client: registered, store: fixture.directory.appendingPathComponent("an-phone"))
            let script = try MatrixTests.Script(named: "reflectie-volledig.txt")
            let bot = fixture.botID
            var room = ""
            var count = 1
            try await fixture.withSpiegel { _, _ in
                room = try await teacher.createDirectChat(with: bot)
                try await teacher.waitJoined(bot, in: room)
                let greeting = try await teacher.waitForMessages(in: room, from: bot, count: 1)
                #expect(greeting[0].encrypted && greeting[0].decrypted)
                #expect(greeting[0].body?.hasPrefix(Self.hello) == true)
                count += 1
                #expect(try await Self.say("hallo", teacher, in: room, bot: bot, expecting: count) == script.opening)
                for exchange in script.exchanges[..<2] {
                    count += 1
                    #expect(try await Self.say(exchange.teacher, teacher, in: room, bot: bot, expecting: count) == exchange.bot, "after “\(exchange.teacher)”")
                }
            }
            // The same device and sessions after a graceful restart, then after SIGKILL.
            let first = try Self.serveProcess(fixture)
            _ = try await first.listeningPort()
            count += 1
            #expect(try await Self.say(script.exchanges[2].teacher, teacher, in: room, bot: bot, expecting: count, timeout: .seconds(90)) == script.exchanges[2].bot)
            kill(first.process.processIdentifier, SIGKILL)
            _ = try? await first.exitStatus()
            let second = try Self.serveProcess(fixture)
            _ = try await second.listeningPort()
            count += 1
            #expect(try await Self.say(script.exchanges[3].teacher, teacher, in: room, bot: bot, expecting: count, timeout: .seconds(90)) == script.exchanges[3].bot)

            // A second device of the teacher gets the room key of what the bot says from now on.
            let laptop = try await E2EETestClient.start(homeserver: fixture.synapse.baseURL, client: try await fixture.synapse.login(registered.userID), store: fixture.directory.appendingPathComponent("an-laptop"))
            try await Poll.until("the phone knows the laptop", timeout: .seconds(30)) {
                try await teacher.devices(of: registered.userID).contains { $0.deviceID == laptop.deviceID }
            }
            count += 1
            #expect(try await Self.say(script.exchanges[4].teacher, teacher, in: room, bot: bot, expecting: count, timeout: .seconds(90)) == script.exchanges[4].bot)
            let onLaptop = try await laptop.waitForMessages(in: room, from: bot, count: count, timeout: .seconds(60))
            #expect(onLaptop.last?.decrypted == true && Self.lines(onLaptop.last!) == script.exchanges[4].bot, "the laptop reads the bot's newest reply")

            kill(second.process.processIdentifier, SIGTERM)
            #expect(try await second.exitStatus() == 0)
            await laptop.stop()
            await teacher.stop()

            // Nothing of the conversation is in the homeserver's database in the clear.
            let database = try Self.homeserverDatabase(fixture.synapse)
            #expect(database.contains("m.room.encrypted"), "the database is read")
            for exchange in script.exchanges[..<5] {
                for sentence in [exchange.teacher] + exchange.bot where sentence.count > 12 {
                    #expect(!database.contains(sentence), "in the clear on the homeserver: “\(sentence)”")
                }
            }
            #expect(!database.contains(Self.hello))
            await fixture.stop()
        }

        @Test func aRoomKeyLostWhileSpiegelWasDownGetsTheTeacherToldNotSilence() async throws {
            let fixture = try await MatrixTests.fixture(.appservice)
            let teacher = try await E2EETestClient.start(homeserver: fixture.synapse.baseURL, client: try await fixture.synapse.register("dirk"), store: fixture.directory.appendingPathComponent("dirk"))
            let script = try MatrixTests.Script(named: "reflectie-volledig.txt")
            let bot = fixture.botID
            var room = ""
            try await fixture.withSpiegel { _, _ in
                room = try await teacher.createDirectChat(with: bot)
                try await teacher.waitJoined(bot, in: room)
                _ = try await teacher.waitForMessages(in: room, from: bot, count: 1)
                #expect(try await Self.say("hallo", teacher, in: room, bot: bot, expecting: 2) == script.opening)
            }
            // Spiegel is down: the new session's key, a to-device message, is dropped by Synapse
            // (the application service is down); the message itself is pushed again later.
            try await teacher.startNewSession(in: room)
            _ = try await teacher.send(script.exchanges[0].teacher, to: room)
            try await fixture.withSpiegel { _, _ in
                let told = try await teacher.waitForMessages(in: room, from: bot, count: 3, timeout: .seconds(120))
                #expect(told[2].encrypted && told[2].decrypted)
                #expect(told[2].body?.hasPrefix("Je laatste bericht kon ik niet ontsleutelen") == true)
                // Sent again with a session whose key reaches the bot: answered where it was.
                try await teacher.startNewSession(in: room)
                #expect(try await Self.say(script.exchanges[0].teacher, teacher, in: room, bot: bot, expecting: 4) == script.exchanges[0].bot)
            }
            await teacher.stop()
            await fixture.stop()
        }

        @Test func syncModeCoachesAnEncryptedDirectChatAndForgettingTheTeacherErasesTheirKeys() async throws {
            let fixture = try await MatrixTests.fixture(.sync)
            let account = try await fixture.synapse.register("bram")
            let teacher = try await E2EETestClient.start(homeserver: fixture.synapse.baseURL, client: account, store: fixture.directory.appendingPathComponent("bram"))
            let script = try MatrixTests.Script(named: "reflectie-volledig.txt")
            var room = ""
            try await fixture.withSpiegel { _, _ in
                room = try await teacher.createDirectChat(with: fixture.botID)
                try await teacher.waitJoined(fixture.botID, in: room)
                let greeting = try await teacher.waitForMessages(in: room, from: fixture.botID, count: 1)
                #expect(greeting[0].encrypted && greeting[0].body?.hasPrefix(Self.hello) == true)
                #expect(try await Self.say("hallo", teacher, in: room, bot: fixture.botID, expecting: 2) == script.opening)
                #expect(try await Self.say(script.exchanges[0].teacher, teacher, in: room, bot: fixture.botID, expecting: 3) == script.exchanges[0].bot)
                #expect(try await Self.say(script.exchanges[1].teacher, teacher, in: room, bot: fixture.botID, expecting: 4) == script.exchanges[1].bot)
            }
            let database = try Self.homeserverDatabase(fixture.synapse)
            #expect(database.contains("m.room.encrypted"), "the database is read")
            for sentence in script.opening + script.exchanges[0].bot + [script.exchanges[1].teacher] + script.exchanges[1].bot where sentence.count > 12 {
                #expect(!database.contains(sentence), "in the clear on the homeserver: “\(sentence)”")
            }
            // The teacher's room keys are in their companion document, and go when they are forgotten.
            let before = try await Self.keptKeys(of: account.userID, fixture)
            #expect(!before.roomKeys.isEmpty && before.coachee, "the room keys of the teacher are kept")
            try await fixture.withSpiegel { _, _ in
                let asked = try await Self.say("vergeet mij", teacher, in: room, bot: fixture.botID, expecting: 5)
                #expect(asked.first?.hasPrefix("Wil je echt dat ik alles wis") == true)
                let done = try await Self.say("ja", teacher, in: room, bot: fixture.botID, expecting: 6)
                #expect(done.first?.hasPrefix("Gedaan. Alles wat je hier schreef is gewist") == true)
            }
            let after = try await Self.keptKeys(of: account.userID, fixture)
            #expect(after.roomKeys.isDisjoint(with: before.roomKeys) && !after.coachee, "the room keys erased with the teacher")
            await teacher.stop()
            await fixture.stop()
        }

        /// Whether the vault (Spiegel stopped) holds the companion document of `user`.
        /// The room keys (Megolm session ids) the vault (Spiegel stopped) holds from `user`, and
        /// whether it holds their conversation.
        static func keptKeys(of user: String, _ fixture: MatrixTests.Fixture) async throws -> (roomKeys: Set<String>, coachee: Bool) {
            struct Peer: Codable, Sendable {
                var inbound: [String: JSONValue] = [:]
            }
            let key = try MasterKey(base64: try #require(fixture.configuration.vaultMasterKey), source: "the test")
            let vault = try Vault(configuration: VaultConfiguration(directory: fixture.configuration.vaultDirectory), masterKey: key, logger: Logger(label: "test.vault"))
            let companion = VaultDocument(vault: vault, name: vault.companionName(of: CoacheeID(user)), initial: Peer())
            let kept = (Set(try await companion.contents().inbound.keys), vault.contains(CoacheeID(user)))
            try await vault.close()
            return kept
        }

        @Test func requireRefusesAnUnencryptedDirectChatWithOneExplanation() async throws {
            var fixture = try await MatrixTests.fixture(.appservice)
            fixture.configuration.matrix.encryption = .require
            let teacher = try await fixture.synapse.register("carla")
            try await fixture.withSpiegel { baseURL, client in
                let room = try await teacher.createRoom(invite: [fixture.botID], isDirect: true)
                try await teacher.waitForMembership(of: fixture.botID, in: room)
                let explanation = try await teacher.waitForMessages(in: room, from: fixture.botID, count: 1)
                #expect(explanation[0].body.contains("end-to-end versleuteld gesprek"))
                try await teacher.send("hallo", to: room)
                try await teacher.send("Mijn les ging over breuken", to: room)
                try await Poll.until("both messages refused", timeout: .seconds(30)) {
                    try await MatrixTests.metric(#"spiegel_matrix_events_total{kind="unencrypted_refused"}"#, baseURL, client) >= 3
                }
                #expect(try await teacher.messages(in: room, from: fixture.botID).count == 1, "one explanation, no coaching")
            }
            await fixture.stop()
        }

        @Test func aSummaryGoesToTheCoachsEncryptedDirectChat() async throws {
            let fixture = try await MatrixTests.fixture(.appservice)
            let an = try await fixture.synapse.register("an")
            let els = try await fixture.synapse.register("els")
            let teacher = try await E2EETestClient.start(homeserver: fixture.synapse.baseURL, client: an, store: fixture.directory.appendingPathComponent("an"))
            let coach = try await E2EETestClient.start(homeserver: fixture.synapse.baseURL, client: els, store: fixture.directory.appendingPathComponent("els"))
            let script = try MatrixTests.Script(named: "reflectie-kort.txt")
            let bot = fixture.botID
            try await fixture.withSpiegel { _, _ in
                let coachRoom = try await coach.createDirectChat(with: bot)
                try await coach.waitJoined(bot, in: coachRoom)
                _ = try await coach.waitForMessages(in: coachRoom, from: bot, count: 1)
                _ = try await Self.say("hallo", coach, in: coachRoom, bot: bot, expecting: 2)
                let room = try await teacher.createDirectChat(with: bot)
                try await teacher.waitJoined(bot, in: room)
                _ = try await teacher.waitForMessages(in: room, from: bot, count: 1)
                _ = try await Self.say("mijn coach is \(els.userID)", teacher, in: room, bot: bot, expecting: 2)
                let request = try await coach.waitForMessages(in: coachRoom, from: bot, count: 3)
                #expect(request[2].body?.hasPrefix("\(an.userID) vraagt of jij hun coach wil zijn.") == true)
                _ = try await Self.say("aanvaard \(an.userID)", coach, in: coachRoom, bot: bot, expecting: 4)

                var count = 4
                _ = try await teacher.waitForMessages(in: room, from: bot, count: 3)
                _ = try await Self.say("hallo", teacher, in: room, bot: bot, expecting: count)
                for exchange in script.exchanges {
                    count += 1
                    _ = try await Self.say(exchange.teacher, teacher, in: room, bot: bot, expecting: count)
                }
                for answer in ["nee", "1", "ja"] {
                    count += 1
                    _ = try await Self.say(answer, teacher, in: room, bot: bot, expecting: count)
                }
                let received = try await coach.waitForMessages(in: coachRoom, from: bot, count: 5)
                #expect(received.allSatisfy { $0.encrypted && $0.decrypted })
                #expect(received[4].body?.hasPrefix("Samenvatting van \(an.userID) (") == true)
                #expect(received[4].body?.hasSuffix("\n– wat al werkte: De leerlingen stelden goede vragen bij de uitleg") == true)
            }
            await teacher.stop()
            await coach.stop()
            #expect(!(try Self.homeserverDatabase(fixture.synapse)).contains("De leerlingen stelden goede vragen bij de uitleg"))
            await fixture.stop()
        }
    }
}
