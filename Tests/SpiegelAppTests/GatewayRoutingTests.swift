import Foundation
import SpiegelApp
import SpiegelTestKit
import Testing

/// The gateway alone decides where a message goes: a round command counts in a team room, and in
/// a direct chat only when no conversation waits for the teacher's answer. Through the real
/// server, the plain webhook and a real receiver.
@Suite struct GatewayRoutingTests {
    let bridgeTests = PlainWebhookTests()

    /// A team on the plain transport with its room `!team`; @an and @bram are members.
    func withTeam(_ body: (PlainWebhookTests.Bridge) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-gateway-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let teamsFile = directory.appendingPathComponent("teams.yaml").path
        try """
            teams:
              - id: eerste-graad
                transport: plain
                room: "!team"
                members: ["@an:school.example", "@bram:school.example"]
                coaches: ["@els:school.example"]
            """.write(toFile: teamsFile, atomically: true, encoding: .utf8)
        try await self.bridgeTests.withBridge(dataDirectory: directory.appendingPathComponent("data").path, configure: { $0.teams.file = teamsFile }) { bridge in
            try await body(bridge)
        }
    }

    /// The texts sent to `room`, in order.
    func texts(in room: String, of bridge: PlainWebhookTests.Bridge) -> [String] {
        bridge.receiver.received.compactMap { request in
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String], object["room"] == room else { return nil }
            return object["text"]
        }
    }

    @Test func anAnswerInTheLessonStudyReflectionThatSoundsLikeARoundCommandIsCoached() async throws {
        try await self.withTeam { bridge in
            #expect(try await bridge.post(id: "l1", text: "lesstudie").status == 200)
            try await Poll.until("the first question") { self.texts(in: "!an-dm", of: bridge).contains { $0.contains("Hoe kijken we terug op onze les?") } }
            let asked = self.texts(in: "!an-dm", of: bridge).count
            // The answer starts like "onze les is …", the desk's command for an observed lesson.
            let answer = try await bridge.post(id: "l2", text: "Onze les was rommelig, de start liep stroef")
            #expect(answer.status == 200 && answer.body.contains("accepted"))
            try await Poll.until("the next question") { self.texts(in: "!an-dm", of: bridge).count > asked }
            let next = self.texts(in: "!an-dm", of: bridge)[asked...]
            #expect(next.contains { $0.contains("Wat wilden we in deze les bereiken bij onze leerlingen?") }, "\(next)")
            #expect(!next.contains { $0.contains("Welke datum bedoel je?") })
        }
    }

    @Test func aRoundCommandCountsInTheTeamRoomAndInADirectChatWithNothingWaiting() async throws {
        try await self.withTeam { bridge in
            // No conversation waits for @bram: the desk answers (there is no round yet).
            #expect(try await bridge.post(id: "b1", user: "@bram:school.example", room: "!bram-dm", text: "onze les is dinsdag 14/1 om 10u").status == 200)
            try await Poll.until("the desk's answer") { !self.texts(in: "!bram-dm", of: bridge).isEmpty }
            #expect(self.texts(in: "!bram-dm", of: bridge).first?.hasPrefix("Je zit (nog) niet in een duo van een lopende ronde.") == true)
            // In the team room, a round command is answered there; anything else is ignored.
            #expect(try await bridge.post(id: "t1", room: "!team", text: "ronde?").status == 200)
            try await Poll.until("the round's status in the team room") { !self.texts(in: "!team", of: bridge).isEmpty }
            #expect(self.texts(in: "!team", of: bridge) == ["Er loopt geen lesstudie-ronde. Begin er een met “nieuwe ronde: @… @…, @… @…”."])
            // There it reads as a round command, whatever follows: the desk asks for the date.
            #expect(try await bridge.post(id: "t2", room: "!team", text: "onze les was rommelig").body.contains("accepted"))
            try await Poll.until("the desk's question in the team room") { self.texts(in: "!team", of: bridge).count == 2 }
            #expect(self.texts(in: "!team", of: bridge).last?.hasPrefix("Welke datum bedoel je?") == true)
            let hello = try await bridge.post(id: "t3", room: "!team", text: "hallo allemaal")
            #expect(hello.status == 200 && hello.body.contains("ignored"))
            try await bridge.server.settled()
            // Nothing of a coaching conversation went to the team room.
            #expect(!self.texts(in: "!team", of: bridge).contains { $0.hasPrefix("Dag!") })
        }
    }
}
