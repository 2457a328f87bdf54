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

    func run(_ configuration: SpiegelConfiguration, clock: Clock, _ body: (String, CurlHTTPClient) async throws -> Void) async throws {
        var configuration = configuration
        configuration.server.port = 0
        let logger = Logger(label: "test.teams")
        let server = SpiegelServer(configuration: configuration, registry: SpiegelServerTests.registry, logger: logger, now: clock.read)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let (services, client) = try server.makeServices { _, port in continuation.yield(port) }
        let group = ServiceGroup(services: services, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body("http://127.0.0.1:\(port)", client)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
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
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = directory.appendingPathComponent("data").path
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.promptsDirectory = Self.prompts
        configuration.plain.secret = Self.secret
        configuration.plain.outboundURL = receiver.url("/inbox")
        configuration.teams.file = teamsFile
        configuration.teams.tick = .milliseconds(50)
        let clock = Clock()
        let signature = PlainSignature(secret: Array(Self.secret.utf8))
        var id = 0
        func post(_ baseURL: String, _ client: CurlHTTPClient, _ text: String, as user: String, room: String? = nil) async throws {
            id += 1
            let body = [UInt8](try JSONSerialization.data(withJSONObject: [
                "id": "t\(id)", "user": user, "room": room ?? "!\(user.dropFirst())-dm", "text": text, "ts": Int(Date().timeIntervalSince1970),
            ] as [String: Any]))
            var headers: HTTPFields = [.contentType: "application/json"]
            let signed = signature.sign(body, at: Date())
            headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
            headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
            let response = try await client.execute(HTTPClientRequest(method: .post, url: baseURL + "/hooks/plain", headerFields: headers, body: body))
            #expect(response.status == .ok)
        }
        func received(in room: String) -> [String] {
            receiver.received.compactMap { request in
                guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String], object["room"] == room else { return nil }
                return object["text"]
            }
        }
        func waitFor(_ count: Int, in room: String) async throws -> [String] {
            for _ in 0..<250 where received(in: room).count < count { try await Task.sleep(for: .milliseconds(20)) }
            return received(in: room)
        }

        try await self.run(configuration, clock: clock) { baseURL, client in
            try await post(baseURL, client, "nieuwe ronde: @an @bram, @cas @dirk, @eva @fien, @gert @hilde", as: "@els")
            #expect(try await waitFor(1, in: "!els-dm").first?.hasPrefix("Nieuwe lesstudie-ronde voor Tweede graad, met de duo’s @an & @bram, @cas & @dirk") == true)
            try await post(baseURL, client, "onze les is dinsdag 14/1 om 10u", as: "@an")
            #expect(try await waitFor(1, in: "!an-dm").first?.hasPrefix("Genoteerd: de geobserveerde les van @an & @bram op ") == true)
            try await post(baseURL, client, "observatie 16 januari", as: "@dirk")
            try await post(baseURL, client, "onze les is 13/1", as: "@gert")
            try await post(baseURL, client, "onze les is vrijdag 17/1", as: "@fien")
            let last = try await waitFor(2, in: "!fien-dm")
            #expect(last.last == "Alle lessen van deze ronde zijn bekend. Rond 24/1/2025 herinner ik Tweede graad aan de intervisie.")
            // Coaching goes on beside it: a plain "hallo" is a reflection, not a round command.
            try await post(baseURL, client, "hallo", as: "@an")
            #expect(try await waitFor(4, in: "!an-dm")[1] == "Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.")

            // 24/1 is a day off: nothing then; the Monday after at 08:00, once.
            clock.set(Self.brussels(2025, 1, 24, 8, 30))
            try await Task.sleep(for: .milliseconds(300))
            clock.set(Self.brussels(2025, 1, 27, 7, 59))
            try await Task.sleep(for: .milliseconds(300))
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
            clock.set(Self.brussels(2025, 1, 27, 9, 0))
            try await Task.sleep(for: .milliseconds(300))
            #expect(received(in: "!team").count == 1, "once")
        }
        // After a restart, nothing again.
        try await self.run(configuration, clock: clock) { _, _ in
            clock.set(Self.brussels(2025, 1, 27, 10, 0))
            try await Task.sleep(for: .milliseconds(500))
            #expect(received(in: "!team").count == 1, "not again after a restart")
        }
        // Nothing a teacher said reached the team room: names and dates only.
        #expect(!received(in: "!team").joined().contains("Dag!"))
        try await receiver.stop()
    }
}
