import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import SpiegelApp
import SpiegelChat
import SpiegelCoach
import SpiegelTestKit
import SpiegelVault
import Synchronization
import Testing

/// A lesson-study round told in chat, then the clock moved: the intervision reminder reaches the
/// team room's receiver once, on the right day, through restarts. The real server, the plain
/// webhook, a real receiver; only the clock is simulated.
@Suite struct TeamRemindersTests {
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let secret = "a-shared-secret-of-the-bridge"

    /// 2025-01-08, a Wednesday, 09:00 in Brussels.
    static let start = Date(timeIntervalSince1970: 1_736_323_200)

    final class Clock: Sendable {
        let now = Mutex(TeamRemindersTests.start)
        func set(_ date: Date) { self.now.withLock { $0 = date } }
        var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
    }

    static func brussels(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Brussels")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute))!
    }

    /// The plain webhook to `receiver`, the teams file, a fresh data directory under `directory`,
    /// and reminders looked for every 50 ms.
    static func configuration(directory: URL, teamsFile: String, receiver: LoopbackHTTPServer) -> SpiegelConfiguration {
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = directory.appendingPathComponent("data").path
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.promptsDirectory = Self.prompts
        configuration.plain.secret = Self.secret
        configuration.plain.outboundURL = receiver.url("/inbox")
        configuration.teams.file = teamsFile
        configuration.teams.tick = .milliseconds(50)
        return configuration
    }

    @Test func aRoundToldInChatGetsItsIntervisionReminderOnceInTheTeamRoom() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-teams-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let teamsFile = directory.appendingPathComponent("teams.yaml").path
        try """
            teams:
              - id: tweede-graad
                name: Tweede graad
                transport: plain
                room: "!team"
                members: ["@an", "@bram", "@cas", "@dirk", "@eva", "@fien", "@gert", "@hilde"]
                coaches: ["@els"]
                holidays: ["2025-01-24"]
                intervision: { after_days: 7, at: "08:00" }
            """.write(toFile: teamsFile, atomically: true, encoding: .utf8)
        let receiver = try await LoopbackHTTPServer.start()
        let configuration = Self.configuration(directory: directory, teamsFile: teamsFile, receiver: receiver)
        let clock = Clock()
        let signature = PlainSignature(secret: Array(Self.secret.utf8))
        var id = 0
        func post(_ server: SpiegelServerTests.Running, _ text: String, as user: String, room: String? = nil) async throws {
            id += 1
            let body = [UInt8](try JSONSerialization.data(withJSONObject: [
                "id": "t\(id)", "user": user, "room": room ?? "!\(user.dropFirst())-dm", "text": text, "ts": Int(clock.read().timeIntervalSince1970),
            ] as [String: Any]))
            var headers: HTTPFields = [.contentType: "application/json"]
            // Signed at the server's clock, which the test moves.
            let signed = signature.sign(body, at: clock.read())
            headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
            headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
            let response = try await server.client.execute(HTTPClientRequest(method: .post, url: server.baseURL + "/hooks/plain", headerFields: headers, body: body))
            #expect(response.status == .ok)
        }
        func received(in room: String) -> [String] {
            receiver.received.compactMap { request in
                guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String], object["room"] == room else { return nil }
                return object["text"]
            }
        }
        func waitFor(_ count: Int, in room: String) async throws -> [String] {
            try await Poll.until("\(count) messages in \(room)") { received(in: room).count >= count }
            return received(in: room)
        }
        /// Moves the clock to `date` and waits until the reminders were checked then and all that
        /// was due went out.
        func move(_ server: SpiegelServerTests.Running, to date: Date) async throws {
            clock.set(date)
            try await server.teamRemindersChecked(through: date)
            try await server.settled()
        }

        try await SpiegelServerTests.run(configuration, now: clock.read) { server in
            try await post(server, "nieuwe ronde: @an @bram, @cas @dirk, @eva @fien, @gert @hilde", as: "@els")
            #expect(try await waitFor(1, in: "!els-dm").first?.hasPrefix("Nieuwe lesstudie-ronde voor Tweede graad, met de duo’s @an & @bram, @cas & @dirk") == true)
            try await post(server, "onze les is dinsdag 14/1 om 10u", as: "@an")
            #expect(try await waitFor(1, in: "!an-dm").first?.hasPrefix("Genoteerd: de geobserveerde les van @an & @bram op ") == true)
            try await post(server, "observatie 16 januari", as: "@dirk")
            try await post(server, "onze les is 13/1", as: "@gert")
            try await post(server, "onze les is vrijdag 17/1", as: "@fien")
            let last = try await waitFor(2, in: "!fien-dm")
            #expect(last.last == "Alle lessen van deze ronde zijn bekend. Rond 24/1/2025 herinner ik Tweede graad aan de intervisie.")
            // Coaching goes on beside it: a plain "hallo" is a reflection, not a round command.
            try await post(server, "hallo", as: "@an")
            #expect(try await waitFor(2, in: "!an-dm")[1].hasPrefix("Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.\n\n"))

            // 24/1 is a day off: nothing then; the Monday after at 08:00, once.
            try await move(server, to: Self.brussels(2025, 1, 24, 8, 30))
            try await move(server, to: Self.brussels(2025, 1, 27, 7, 59))
            #expect(received(in: "!team").isEmpty)
            clock.set(Self.brussels(2025, 1, 27, 8, 0))
            let reminder = try await waitFor(1, in: "!team")
            #expect(reminder.count == 1)
            let text = try #require(reminder.first)
            #expect(text.hasPrefix("Tijd voor de intervisie! De laatste geobserveerde les van deze ronde was op 17/1/2025."))
            #expect(text.contains("“Welke inzichten hebben we opgedaan tijdens deze ronde?”"))
            // Eight people: two groups, every duo split.
            let groups = try #require(text.components(separatedBy: "groep 1: ").last?.components(separatedBy: "; groep 2: "))
            #expect(groups.count == 2)
            for duo in [["@an", "@bram"], ["@cas", "@dirk"], ["@eva", "@fien"], ["@gert", "@hilde"]] {
                #expect(!(groups[0].contains(duo[0] + ",") || groups[0].hasSuffix(duo[0])) || !(groups[0].contains(duo[1] + ",") || groups[0].hasSuffix(duo[1])), "a duo in one group")
            }
            try await move(server, to: Self.brussels(2025, 1, 27, 9, 0))
            #expect(received(in: "!team").count == 1, "once")
        }
        // After a restart, nothing again.
        try await SpiegelServerTests.run(configuration, now: clock.read) { server in
            try await move(server, to: Self.brussels(2025, 1, 27, 10, 0))
            #expect(received(in: "!team").count == 1, "not again after a restart")
        }
        // Nothing a teacher said reached the team room: names and dates only.
        #expect(!received(in: "!team").joined().contains("Dag!"))
        try await receiver.stop()
    }

    @Test func aRecurringRuleAddedAfterItsOccurrenceWaitsForTheNextOne() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-teams-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let teamsFile = directory.appendingPathComponent("teams.yaml").path
        try """
            teams:
              - id: tweede-graad
                transport: plain
                room: "!team"
                members: ["@an", "@bram"]
                reminders:
                  - { name: vergadering, rule: "weekly mon 08:15", text: "Om 08:30 vergaderen we." }
            """.write(toFile: teamsFile, atomically: true, encoding: .utf8)
        let receiver = try await LoopbackHTTPServer.start()
        let configuration = Self.configuration(directory: directory, teamsFile: teamsFile, receiver: receiver)
        // The rule is first seen on Monday 13 January 2025 at 08:30, a quarter after its time.
        let clock = Clock()
        clock.set(Self.brussels(2025, 1, 13, 8, 30))
        func sent() -> [String] {
            receiver.received.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: String])?["text"] }
        }
        try await SpiegelServerTests.run(configuration, now: clock.read) { server in
            try await server.teamRemindersChecked(through: clock.read())
            try await server.settled()
            #expect(sent().isEmpty, "08:15 came before the rule existed")
            clock.set(Self.brussels(2025, 1, 20, 8, 15))
            try await server.teamRemindersChecked(through: clock.read())
            try await server.settled()
            try await Poll.until("the next Monday's reminder") { sent().count == 1 }
            #expect(sent() == ["Om 08:30 vergaderen we."])
        }
        try await receiver.stop()
    }
}
