import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import SpiegelApp
import SpiegelChat
import SpiegelCoach
import SpiegelTestKit
import SpiegelVault
import Testing

/// Matrix end to end against a real Synapse on loopback (installed by `make synapse`): teachers
/// are real Matrix accounts that write through the client-server API; Spiegel runs as an
/// application service or as a bot account over `/sync`.
@Suite(.serialized, .tags(.synapse), .enabled(if: runs("synapse"))) struct MatrixTests {
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let hello = "Hoi, ik ben Spiegel."
    static let opening = "Dag! Fijn dat je na je les even de tijd neemt om terug te blikken."

    /// A fresh Synapse and Spiegel's configuration for it.
    struct Fixture {
        let synapse: SynapseHomeserver
        let directory: URL
        var configuration: SpiegelConfiguration
        let botID: String

        /// Runs Spiegel (in this process, on its fixed port) for the length of `body`.
        func withSpiegel(_ body: (_ baseURL: String, _ client: CurlHTTPClient) async throws -> Void) async throws {
            let logger = Logger(label: "test.matrix")
            let server = SpiegelServer(configuration: self.configuration, registry: SpiegelServerTests.registry, logger: logger)
            let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let built = try server.makeServices { portContinuation.yield($0.port) }
            let (services, client) = (built.all, built.httpClient)
            let group = ServiceGroup(services: services, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var ports = portStream.makeAsyncIterator()
                let port = try #require(await ports.next())
                do {
                    try await body("http://127.0.0.1:\(port)", client)
                } catch {
                    await group.triggerGracefulShutdown()
                    try? await tasks.waitForAll()
                    throw error
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }

        func stop() async {
            await self.synapse.stop()
            try? FileManager.default.removeItem(at: self.directory)
        }
    }

    enum Mode {
        case appservice, sync
    }

    /// Starts Synapse (with Spiegel's registration in application-service mode, with a bot
    /// account in `/sync` mode) and configures Spiegel for it.
    static func fixture(_ mode: Mode, teamRooms: [String] = []) async throws -> Fixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-matrix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = directory.appendingPathComponent("spiegel").path
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.promptsDirectory = Self.prompts
        configuration.coach.rateLimitBurst = 1000
        configuration.server.port = try SynapseHomeserver.freeLoopbackPort()
        configuration.matrix.teamRooms = teamRooms
        // Receipts and typing for every message, so the tests see them (by default only a slow turn).
        configuration.matrix.typingAfter = .zero
        let synapse: SynapseHomeserver
        switch mode {
        case .appservice:
            let registration = MatrixRegistration.generate(url: "http://127.0.0.1:\(configuration.server.port)")
            let file = directory.appendingPathComponent("spiegel-registration.yaml").path
            try registration.yaml(serverName: "spiegel.test").write(toFile: file, atomically: true, encoding: .utf8)
            synapse = try SynapseHomeserver(directory: directory.appendingPathComponent("synapse"), appserviceRegistrationFiles: [file])
            try await synapse.start()
            configuration.matrix.registrationFile = file
            configuration.matrix.userID = "@spiegel:spiegel.test"
        case .sync:
            synapse = try SynapseHomeserver(directory: directory.appendingPathComponent("synapse"))
            try await synapse.start()
            let bot = try await synapse.register("spiegel")
            configuration.matrix.accessToken = bot.accessToken
        }
        configuration.matrix.homeserverURL = synapse.baseURL
        return Fixture(synapse: synapse, directory: directory, configuration: configuration, botID: "@spiegel:spiegel.test")
    }

    /// The lines of the bot's messages (a turn is one message; its paragraphs are lines).
    static func lines(_ events: [MatrixTestEvent]) -> [String] {
        events.flatMap { $0.body.split(separator: "\n").map(String.init) }
    }

    /// A golden transcript: the bot's opening lines, then each teacher line with the bot's answer.
    struct Script {
        var opening: [String] = []
        var exchanges: [(teacher: String, bot: [String])] = []

        init(named name: String) throws {
            let text = try String(contentsOfFile: MatrixTests.prompts + "/conversations/" + name, encoding: .utf8)
            for line in text.split(separator: "\n").map(String.init) {
                if line.hasPrefix("> ") {
                    self.exchanges.append((String(line.dropFirst(2)), []))
                } else if line.hasPrefix("< ") {
                    if self.exchanges.isEmpty { self.opening.append(String(line.dropFirst(2))) } else { self.exchanges[self.exchanges.count - 1].bot.append(String(line.dropFirst(2))) }
                }
            }
        }
    }

    /// The teacher opens a direct chat with the bot; returns the room once the bot greeted.
    static func openDirectChat(_ teacher: MatrixTestClient, bot: String) async throws -> String {
        let room = try await teacher.createRoom(invite: [bot], isDirect: true)
        try await teacher.waitForMembership(of: bot, in: room)
        let greeting = try await teacher.waitForMessages(in: room, from: bot, count: 1)
        #expect(greeting.first?.body.hasPrefix(Self.hello) == true)
        return room
    }

    /// Says `text` and waits for the bot's answer (its `count`-th message in the room).
    static func say(_ text: String, _ teacher: MatrixTestClient, in room: String, bot: String, expecting count: Int, timeout: Duration = .seconds(30)) async throws -> [String] {
        try await teacher.send(text, to: room)
        let messages = try await teacher.waitForMessages(in: room, from: bot, count: count, timeout: timeout)
        return Self.lines([messages[count - 1]])
    }

    @Test func anApplicationServiceCoachesAWholeReflectionThroughRestartsOfSpiegelAndSynapse() async throws {
        let fixture = try await Self.fixture(.appservice)
        let teacher = try await fixture.synapse.register("an")
        let script = try Script(named: "reflectie-volledig.txt")
        let half = script.exchanges.count / 2
        var room = ""
        var botMessages = 1
        try await fixture.withSpiegel { baseURL, client in
            let receiptsBefore = try await Self.metric(#"spiegel_matrix_courtesies_total{kind="receipt",outcome="sent"}"#, baseURL, client)
            room = try await Self.openDirectChat(teacher, bot: fixture.botID)
            botMessages += 1
            #expect(try await Self.say("hallo", teacher, in: room, bot: fixture.botID, expecting: botMessages) == script.opening)
            for exchange in script.exchanges[..<half] {
                botMessages += 1
                #expect(try await Self.say(exchange.teacher, teacher, in: room, bot: fixture.botID, expecting: botMessages) == exchange.bot, "after “\(exchange.teacher)”")
            }
            // Every message was marked read by the bot (the homeserver took each receipt).
            try await Task.sleep(for: .milliseconds(300))
            let receipts = try await Self.metric(#"spiegel_matrix_courtesies_total{kind="receipt",outcome="sent"}"#, baseURL, client) - receiptsBefore
            #expect(receipts == half + 1)
        }
        // Spiegel is down: the homeserver keeps the teacher's answer and pushes it again later.
        let pending = script.exchanges[half]
        try await teacher.send(pending.teacher, to: room)
        try await fixture.withSpiegel { _, _ in
            botMessages += 1
            let answer = try await teacher.waitForMessages(in: room, from: fixture.botID, count: botMessages, timeout: .seconds(90))
            #expect(Self.lines([answer[botMessages - 1]]) == pending.bot, "the answer sent while Spiegel was down")
            let rest = script.exchanges[(half + 1)...]
            for (index, exchange) in rest.enumerated() {
                if index == rest.count / 2 {
                    // Synapse restarts; Spiegel's outbox and the homeserver's retries carry on.
                    try await fixture.synapse.restart()
                }
                botMessages += 1
                #expect(try await Self.say(exchange.teacher, teacher, in: room, bot: fixture.botID, expecting: botMessages, timeout: .seconds(90)) == exchange.bot, "after “\(exchange.teacher)”")
            }
        }
        let all = try await teacher.messages(in: room, limit: 200, from: fixture.botID)
        #expect(all.count == botMessages, "every turn answered once")
        // The opening's options are a numbered list in HTML; the plain body is always there.
        let withList = try #require(all.first { $0.body.contains("1. Tien minuten of meer") })
        #expect(withList.formattedBody?.contains("<ol><li>Tien minuten of meer</li><li>Maar een paar minuten</li></ol>") == true)
        #expect(all.allSatisfy { $0.msgtype == "m.text" && !$0.body.isEmpty })
        await fixture.stop()
    }

    @Test func transactionsNeedTheHomeserversTokenAndAreTakenOnce() async throws {
        let fixture = try await Self.fixture(.appservice)
        let teacher = try await fixture.synapse.register("an")
        let registration = try MatrixRegistration.load(path: try #require(fixture.configuration.matrix.registrationFile))
        var room = ""
        func push(_ baseURL: String, _ client: CurlHTTPClient, id: String, token: String?, events: String) async throws -> (Int, String) {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let token { headers[.authorization] = "Bearer " + token }
            let response = try await client.execute(HTTPClientRequest(
                method: .put, url: baseURL + "/_matrix/app/v1/transactions/" + id, headerFields: headers, body: Array(#"{"events":\#(events)}"#.utf8)
            ))
            return (Int(response.status.code), String(decoding: response.body, as: UTF8.self))
        }
        func message(_ id: String, _ text: String) -> String {
            #"[{"type":"m.room.message","event_id":"\#(id)","room_id":"\#(room)","sender":"\#(teacher.userID)","origin_server_ts":1,"content":{"msgtype":"m.text","body":"\#(text)"}}]"#
        }
        try await fixture.withSpiegel { baseURL, client in
            room = try await Self.openDirectChat(teacher, bot: fixture.botID)
            // No token, a wrong token: refused with Matrix errors, and nothing is processed.
            let none = try await push(baseURL, client, id: "forged-1", token: nil, events: message("$forged-1", "hallo"))
            #expect(none.0 == 401 && none.1.contains("M_UNAUTHORIZED"))
            let wrong = try await push(baseURL, client, id: "forged-2", token: "not-the-hs-token", events: message("$forged-2", "hallo"))
            #expect(wrong.0 == 403 && wrong.1.contains("M_FORBIDDEN"))
            #expect(!none.1.contains("hallo") && !wrong.1.contains("hallo"))
            let legacy = try await client.execute(HTTPClientRequest(url: baseURL + "/_matrix/app/v1/users/%40someone%3Aspiegel.test?access_token=" + registration.hsToken))
            #expect(legacy.status.code == 404 && String(decoding: legacy.body, as: UTF8.self).contains("M_NOT_FOUND"))
            var ping = HTTPClientRequest(method: .post, url: baseURL + "/_matrix/app/v1/ping", body: Array("{}".utf8))
            ping.headerFields[.authorization] = "Bearer " + registration.hsToken
            #expect(try await client.execute(ping).status.code == 200)
            try await Task.sleep(for: .seconds(1))
            #expect(try await teacher.messages(in: room, from: fixture.botID).count == 1, "only the greeting")

            // The same transaction twice: both answered 200, processed once.
            #expect(try await push(baseURL, client, id: "dup-1", token: registration.hsToken, events: message("$dup-1", "hallo")).0 == 200)
            #expect(try await push(baseURL, client, id: "dup-1", token: registration.hsToken, events: message("$dup-1", "hallo")).0 == 200)
            // The same event in another transaction (a homeserver that re-batched): still once.
            #expect(try await push(baseURL, client, id: "dup-2", token: registration.hsToken, events: message("$dup-1", "hallo")).0 == 200)
            let answered = try await teacher.waitForMessages(in: room, from: fixture.botID, count: 2)
            #expect(Self.lines([answered[1]]).first == Self.opening)
            // An event of a room the bot is not in is skipped, not refused (a refused transaction
            // would come back for ever and hold up every teacher behind it).
            let elsewhere = #"[{"type":"m.room.message","event_id":"$x-1","room_id":"!nowhere:spiegel.test","sender":"\#(teacher.userID)","content":{"msgtype":"m.text","body":"hallo"}}]"#
            #expect(try await push(baseURL, client, id: "elsewhere-1", token: registration.hsToken, events: elsewhere).0 == 200)
            try await Task.sleep(for: .seconds(1))
            #expect(try await teacher.messages(in: room, from: fixture.botID).count == 2)
        }
        try await fixture.withSpiegel { baseURL, client in
            // After a restart the transaction is still known: taken as a duplicate, not processed.
            let before = try await Self.duplicateTransactions(baseURL, client)
            #expect(try await push(baseURL, client, id: "dup-1", token: registration.hsToken, events: message("$dup-1", "hallo")).0 == 200)
            #expect(try await Self.duplicateTransactions(baseURL, client) == before + 1)
            // The same id with other events is a new transaction (Synapse on SQLite counts from 1
            // again after a restart): processed.
            #expect(try await push(baseURL, client, id: "dup-1", token: registration.hsToken, events: message("$dup-3", "1")).0 == 200)
            #expect(try await Self.duplicateTransactions(baseURL, client) == before + 1)
            let answered = try await teacher.waitForMessages(in: room, from: fixture.botID, count: 3)
            #expect(answered[2].body.hasPrefix("Wat zou een goede uitkomst"))

            // The teacher leaves the direct chat: the bot, now alone there, leaves too.
            let bot = MatrixTestClient(baseURL: fixture.synapse.baseURL, userID: fixture.botID, accessToken: registration.asToken)
            #expect(try await bot.joinedRooms().contains(room))
            try await teacher.leave(room)
            var stillThere = true
            for _ in 0..<100 where stillThere {
                try await Task.sleep(for: .milliseconds(100))
                stillThere = try await bot.joinedRooms().contains(room)
            }
            #expect(!stillThere, "the bot left the empty room")
        }
        await fixture.stop()
    }

    /// `spiegel_matrix_transactions_total{outcome="duplicate"}` from `/metrics`.
    static func duplicateTransactions(_ baseURL: String, _ client: CurlHTTPClient) async throws -> Int {
        try await Self.metric(#"spiegel_matrix_transactions_total{outcome="duplicate"}"#, baseURL, client)
    }

    /// A counter from `/metrics` (0 before its first increment), written `name{labels}` with the
    /// labels in any order.
    static func metric(_ series: String, _ baseURL: String, _ client: CurlHTTPClient) async throws -> Int {
        let metrics = String(decoding: try await client.execute(HTTPClientRequest(url: baseURL + "/metrics")).body, as: UTF8.self)
        let name = String(series.prefix { $0 != "{" })
        let labels = Set(series.dropFirst(name.count + 1).dropLast().split(separator: ","))
        let line = metrics.split(separator: "\n").first { line in
            line.hasPrefix(name + "{") && Set(line.dropFirst(name.count + 1).prefix { $0 != "}" }.split(separator: ",")) == labels
        }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? 0
    }

    @Test func teamRoomsSharedRoomsEncryptedRoomsAndOddMessages() async throws {
        // The team room exists before Spiegel starts, so config can name it.
        let preliminary = try await Self.fixture(.appservice)
        let teacher = try await preliminary.synapse.register("an")
        let colleague = try await preliminary.synapse.register("bert")
        let team = try await teacher.createRoom(name: "Team 2de graad", invite: [colleague.userID, preliminary.botID])
        _ = try await colleague.join(team)
        var fixture = preliminary
        fixture.configuration.matrix.teamRooms = [team]
        fixture.configuration.matrix.ignoredUsers = ["@otherbot:spiegel.test"]
        // Encryption off: an encrypted room gets the notice (MatrixEncryptionTests has it on).
        fixture.configuration.matrix.encryption = .off
        try await fixture.withSpiegel { _, _ in
            // The team room: the bot joins, and says nothing there, whatever is written.
            try await teacher.waitForMembership(of: fixture.botID, in: team, timeout: .seconds(60))
            try await teacher.send("hallo", to: team)

            // A room with more people: one explanation, then quiet.
            let shared = try await teacher.createRoom(name: "Vakgroep", invite: [colleague.userID, fixture.botID])
            _ = try await colleague.join(shared)
            try await teacher.waitForMembership(of: fixture.botID, in: shared)
            try await teacher.send("hallo", to: shared)
            let explanation = try await teacher.waitForMessages(in: shared, from: fixture.botID, count: 1)
            #expect(explanation[0].body.contains("alleen in een privégesprek met één persoon"))
            try await colleague.send("hallo Spiegel?", to: shared)

            // An end-to-end encrypted direct chat while encryption is off: one honest notice,
            // whatever comes next.
            let encrypted = try await teacher.createRoom(invite: [fixture.botID], isDirect: true, encrypted: true)
            try await teacher.waitForMembership(of: fixture.botID, in: encrypted)
            _ = try await teacher.sendRaw(type: "m.room.encrypted", contentJSON: #"{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgAEn...","device_id":"DEV","sender_key":"abc","session_id":"xyz"}"#, to: encrypted)
            let notice = try await teacher.waitForMessages(in: encrypted, from: fixture.botID, count: 1)
            #expect(notice[0].body.contains("end-to-end versleuteld"))

            // A direct chat: notices (what bots send) and other bots are ignored, an edit gets one
            // note, a picture one note, a reply is read without its quote.
            let direct = try await Self.openDirectChat(teacher, bot: fixture.botID)
            try await teacher.send("ik ben ook een bot", to: direct, msgtype: "m.notice")
            let first = try await teacher.send("hallo", to: direct)
            #expect(try await teacher.waitForMessages(in: direct, from: fixture.botID, count: 2)[1].body.hasPrefix(Self.opening))
            try await teacher.send("halo", to: direct, relatesTo: .replacement(of: first))
            #expect(try await teacher.waitForMessages(in: direct, from: fixture.botID, count: 3)[2].body.contains("aanpaste"))
            try await teacher.send("hallo weer", to: direct, relatesTo: .replacement(of: first))
            _ = try await teacher.sendRaw(type: "m.room.message", contentJSON: #"{"msgtype":"m.image","body":"bord.jpg","url":"mxc://spiegel.test/abc"}"#, to: direct)
            #expect(try await teacher.waitForMessages(in: direct, from: fixture.botID, count: 4)[3].body.contains("alleen tekst"))
            try await teacher.send("> <\(fixture.botID)> Hoeveel tijd heb je nu?\n\n2", to: direct, relatesTo: .reply(to: first))
            let afterReply = try await teacher.waitForMessages(in: direct, from: fixture.botID, count: 5)
            #expect(afterReply[4].body == "Prima, dan houden we het kort.\n\nWat ging er goed in je les, al was het maar een beetje?")

            try await Task.sleep(for: .seconds(1.5))
            #expect(try await teacher.messages(in: team, from: fixture.botID).isEmpty, "nothing in the team room")
            #expect(try await teacher.messages(in: shared, from: fixture.botID).count == 1, "one explanation")
            #expect(try await teacher.messages(in: encrypted, from: fixture.botID).count == 1, "one notice")
            #expect(try await teacher.messages(in: direct, from: fixture.botID).count == 5, "a second edit gets no second note")
        }
        await fixture.stop()
    }

    @Test func syncModeCoachesWithoutReplayingOrMissingAcrossRestarts() async throws {
        var fixture = try await Self.fixture(.sync)
        let teacher = try await fixture.synapse.register("an")
        let script = try Script(named: "reflectie-kort.txt")
        var room = ""
        try await fixture.withSpiegel { _, _ in
            room = try await Self.openDirectChat(teacher, bot: fixture.botID)
            #expect(try await Self.say("hallo", teacher, in: room, bot: fixture.botID, expecting: 2) == script.opening)
            #expect(try await Self.say(script.exchanges[0].teacher, teacher, in: room, bot: fixture.botID, expecting: 3) == script.exchanges[0].bot)
        }
        // Written while Spiegel is down: answered after the restart, and nothing older again.
        try await teacher.send(script.exchanges[1].teacher, to: room)
        fixture.configuration.server.port = try SynapseHomeserver.freeLoopbackPort()
        try await fixture.withSpiegel { _, _ in
            let answered = try await teacher.waitForMessages(in: room, from: fixture.botID, count: 4, timeout: .seconds(60))
            #expect(Self.lines([answered[3]]) == script.exchanges[1].bot)
            try await fixture.synapse.restart()
            #expect(try await Self.say(script.exchanges[2].teacher, teacher, in: room, bot: fixture.botID, expecting: 5, timeout: .seconds(90)) == script.exchanges[2].bot)
            #expect(try await Self.say(script.exchanges[3].teacher, teacher, in: room, bot: fixture.botID, expecting: 6) == script.exchanges[3].bot)
            #expect(try await Self.say(script.exchanges[4].teacher, teacher, in: room, bot: fixture.botID, expecting: 7) == script.exchanges[4].bot)
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await teacher.messages(in: room, from: fixture.botID).count == 7, "no message answered twice")
        }
        await fixture.stop()
    }

    @Test func aCoacheeSharesASummaryWithTheirCoachInTheCoachsOwnDirectChat() async throws {
        let fixture = try await Self.fixture(.appservice)
        let teacher = try await fixture.synapse.register("an")
        let coach = try await fixture.synapse.register("els")
        let script = try Script(named: "reflectie-kort.txt")
        try await fixture.withSpiegel { _, _ in
            let coachRoom = try await Self.openDirectChat(coach, bot: fixture.botID)
            _ = try await Self.say("hallo", coach, in: coachRoom, bot: fixture.botID, expecting: 2)
            let room = try await Self.openDirectChat(teacher, bot: fixture.botID)
            _ = try await Self.say("mijn coach is \(coach.userID)", teacher, in: room, bot: fixture.botID, expecting: 2)
            let request = try await coach.waitForMessages(in: coachRoom, from: fixture.botID, count: 3)
            #expect(request[2].body.hasPrefix("\(teacher.userID) vraagt of jij hun coach wil zijn."))
            _ = try await Self.say("aanvaard \(teacher.userID)", coach, in: coachRoom, bot: fixture.botID, expecting: 4)
            #expect(try await teacher.waitForMessages(in: room, from: fixture.botID, count: 3)[2].body.hasPrefix("\(coach.userID) is nu je coach."))

            var count = 4
            _ = try await Self.say("hallo", teacher, in: room, bot: fixture.botID, expecting: count)
            for exchange in script.exchanges {
                count += 1
                _ = try await Self.say(exchange.teacher, teacher, in: room, bot: fixture.botID, expecting: count)
            }
            let proposal = try await teacher.waitForMessages(in: room, from: fixture.botID, count: count)[count - 1]
            #expect(proposal.body.contains("Je samenvatting, in je eigen woorden:"))
            #expect(proposal.formattedBody?.contains("<ol>") == true, "the parts as a numbered list")
            count += 1
            _ = try await Self.say("nee", teacher, in: room, bot: fixture.botID, expecting: count)
            count += 1
            _ = try await Self.say("1", teacher, in: room, bot: fixture.botID, expecting: count)
            count += 1
            _ = try await Self.say("ja", teacher, in: room, bot: fixture.botID, expecting: count)

            let received = try await coach.waitForMessages(in: coachRoom, from: fixture.botID, count: 5)
            let summary = received[4].body
            #expect(summary.hasPrefix("Samenvatting van \(teacher.userID) ("))
            #expect(summary.split(separator: "\n").count == 2, "the header and the one chosen part")
            #expect(summary.hasSuffix("\n– wat al werkte: De leerlingen stelden goede vragen bij de uitleg"))
            // Nothing of the conversation itself reached the coach's chat.
            let coachSaw = try await coach.messages(in: coachRoom, from: fixture.botID).map(\.body).joined(separator: "\n")
            for exchange in script.exchanges.dropFirst(2) where exchange.teacher.count > 3 {
                #expect(!coachSaw.contains(exchange.teacher), "an unapproved answer reached the coach")
            }
        }
        await fixture.stop()
    }

    @Test func theRegistrationCommandWritesASecretFileOnce() async throws {
        let spiegel = try #require(BuiltExecutable.find("spiegel"), "build the spiegel product first")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-registration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("registration.yaml").path
        func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = spiegel
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let first = try run(["matrix", "registration", "--server-name", "school.example", "--url", "http://127.0.0.1:8080", "--output", output])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains(#"user_id: "@spiegel:school.example""#))
        let registration = try MatrixRegistration.load(path: output)
        #expect(registration.asToken.count == 64 && registration.hsToken.count == 64 && registration.asToken != registration.hsToken)
        #expect(registration.senderLocalpart == "spiegel" && registration.url == "http://127.0.0.1:8080")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? Int)
        #expect(mode & 0o007 == 0, "not readable by others")
        #expect(try String(contentsOfFile: output, encoding: .utf8).contains(#"regex: "@spiegel:school\\.example""#))
        // Never over an existing registration.
        let second = try run(["matrix", "registration", "--server-name", "school.example", "--output", output])
        #expect(second.status != 0 && second.output.contains("never overwritten"))
        #expect(try MatrixRegistration.load(path: output) == registration)
    }
}
