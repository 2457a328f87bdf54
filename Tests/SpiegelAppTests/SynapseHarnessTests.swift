import Foundation
import SpiegelTestKit
import Testing

/// The Synapse harness itself, against a real Synapse: start, register, rooms, messages by
/// `/messages` and by `/sync`, a restart that keeps the data, stop.
@Suite(.serialized, .tags(.synapse), .enabled(if: runs("synapse"))) struct SynapseHarnessTests {
    /// Runs `body` on a started homeserver in a fresh directory; stops it and removes the
    /// directory afterwards, whether `body` threw or not.
    private func withHomeserver(_ body: (SynapseHomeserver) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-synapse-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try SynapseHomeserver(directory: directory)
        try await server.start()
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func directChatRoundTripSurvivesRestart() async throws {
        try await self.withHomeserver { server in
            #expect(server.isRunning)
            #expect(server.baseURL == "http://127.0.0.1:\(server.port)")

            let teacher = try await server.register("teacher")
            let bot = try await server.register("bot", admin: true, displayName: "Spiegel")
            #expect(teacher.userID == "@teacher:spiegel.test")
            #expect(bot.userID == server.userID("bot"))
            #expect(try await teacher.whoami() == teacher.userID)
            #expect(try await bot.whoami() == bot.userID)
            let initialBatch = try await bot.sync(since: nil, timeoutMilliseconds: 0).nextBatch

            // A direct room, the invite after creation, the bot joins.
            let room = try await teacher.createRoom(isDirect: true)
            #expect(room.hasPrefix("!"))
            try await teacher.invite(bot.userID, to: room)
            try await teacher.waitForMembership(of: bot.userID, in: room, membership: "invite", timeout: .seconds(10))
            #expect(try await bot.join(room) == room)
            try await teacher.waitForMembership(of: bot.userID, in: room, timeout: .seconds(10))
            #expect(try await teacher.joinedMembers(of: room) == [bot.userID, teacher.userID].sorted())
            #expect(try await bot.joinedRooms().contains(room))

            // A message, seen through /messages and through /sync.
            let text = "Vandaag ging de les over breuken."
            let sent = try await teacher.send(text, to: room)
            let received = try await bot.waitForMessages(in: room, from: teacher.userID, count: 1, timeout: .seconds(10))
            let first = try #require(received.first)
            #expect(received.count == 1)
            #expect(first.eventID == sent)
            #expect(first.sender == teacher.userID)
            #expect(first.body == text)
            #expect(first.msgtype == "m.text")
            #expect(first.originServerTS > 0)
            #expect(!first.description.contains(text), "descriptions leave bodies out")

            let synced = try await self.syncUntil(bot, since: initialBatch) { $0.contains { $0.event.eventID == sent } }
            #expect(synced.messages.contains { $0.room == room && $0.event.eventID == sent && $0.event.body == text })

            // A long-polling sync returns as soon as a reply arrives.
            let poll = Task { try await bot.sync(since: synced.nextBatch, timeoutMilliseconds: 20_000) }
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            let reply = try await teacher.send(
                "Klopt", to: room, msgtype: "m.notice", formattedBody: "<b>Klopt</b>", relatesTo: .reply(to: sent))
            let woken = try await poll.value
            #expect(ContinuousClock.now - started < .seconds(10))
            let replyEvent = try #require(woken.messages.first { $0.event.eventID == reply }?.event)
            #expect(replyEvent.msgtype == "m.notice")
            #expect(replyEvent.formattedBody == "<b>Klopt</b>")
            #expect(replyEvent.inReplyTo == sent)

            // Raw events that are not m.room.message are left out of messages().
            _ = try await teacher.sendRaw(
                type: "m.room.encrypted",
                contentJSON: #"{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AAAA","session_id":"s","sender_key":"k","device_id":"D"}"#,
                to: room)
            #expect(try await bot.messages(in: room).map(\.eventID) == [sent, reply])

            // A wait that times out says what it saw, counts only.
            do {
                _ = try await bot.waitForMessages(in: room, from: teacher.userID, count: 5, timeout: .milliseconds(300))
                Issue.record("waitForMessages returned with only 2 messages")
            } catch let error as SynapseHarnessError {
                #expect(error.message.contains("saw 2"))
                #expect(!error.message.contains(text))
            }

            // An encrypted group room, created with its invite.
            let group = try await teacher.createRoom(name: "Klas 3B", invite: [bot.userID], encrypted: true)
            try await teacher.waitForMembership(of: bot.userID, in: group, membership: "invite", timeout: .seconds(10))
            try await bot.join(group)
            #expect(try await bot.joinedRooms().contains(group))

            // Restart: same port, the data and the access tokens are still there.
            try await server.restart()
            #expect(server.isRunning)
            #expect(try await bot.whoami() == bot.userID)
            let afterRestart = try await bot.messages(in: room)
            #expect(afterRestart.map(\.eventID) == [sent, reply])
            #expect(afterRestart.first?.body == text)
            let later = try await bot.send("Dank je.", to: room)
            let answers = try await teacher.waitForMessages(in: room, from: bot.userID, count: 1, timeout: .seconds(10))
            #expect(answers.map(\.eventID) == [later])

            // Stopped: nothing answers any more.
            await server.stop()
            #expect(!server.isRunning)
            await #expect(throws: (any Error).self) { try await teacher.whoami() }
        }
    }

    @Test func errorsAndRelaxedRateLimits() async throws {
        try await self.withHomeserver { server in
            let coachee = try await server.register("coachee")
            await #expect(throws: SynapseHarnessError.self) { try await server.register("coachee") }
            await #expect(throws: SynapseHarnessError.self) { try await coachee.join("!nope:spiegel.test") }

            // Synapse's defaults allow a burst of 10 messages and of 10 new rooms; the harness
            // raises every limit.
            let bot = try await server.register("bot")
            var rooms: [String] = []
            for _ in 0..<12 {
                rooms.append(try await coachee.createRoom(invite: [bot.userID], isDirect: true))
            }
            #expect(Set(rooms).count == 12)
            let room = try #require(rooms.last)
            try await bot.join(room)
            var sent: [String] = []
            for index in 0..<60 {
                sent.append(try await coachee.send("bericht \(index)", to: room))
            }
            let received = try await bot.waitForMessages(in: room, from: coachee.userID, count: 60, timeout: .seconds(20))
            #expect(received.map(\.eventID) == sent)
            #expect(try await bot.messages(in: room, limit: 25).map(\.eventID) == Array(sent.suffix(25)))
        }
    }

    /// Syncs from `since` until `done` holds for the messages of one answer (at most 10 s).
    private func syncUntil(
        _ client: MatrixTestClient,
        since: String,
        _ done: ([(room: String, event: MatrixTestEvent)]) -> Bool
    ) async throws -> (nextBatch: String, messages: [(room: String, event: MatrixTestEvent)]) {
        let deadline = ContinuousClock.now + .seconds(10)
        var batch = since
        var collected: [(room: String, event: MatrixTestEvent)] = []
        while ContinuousClock.now < deadline {
            let answer = try await client.sync(since: batch, timeoutMilliseconds: 2_000)
            collected += answer.messages
            batch = answer.nextBatch
            if done(collected) { return (batch, collected) }
        }
        Issue.record("sync did not deliver the expected messages within 10 s (saw \(collected.count))")
        return (batch, collected)
    }
}
