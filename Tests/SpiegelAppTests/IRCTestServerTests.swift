import SpiegelTestKit
import Foundation
import Testing

/// The IRC harness itself, against real servers on loopback: ngIRCd relays private and channel
/// messages and comes back on the same port after a restart or a crash; InspIRCd with atheme logs
/// a client in with SASL PLAIN, tags its messages with `account` and `time`, refuses a wrong
/// password with 904, and offers SASL again after a restart.
@Suite(.serialized, .tags(.irc), .enabled(if: runs("irc"))) struct IRCTestServerTests {
    /// `irc_teacher.py`, next to this file.
    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/irc_teacher.py")

    /// Runs `body` with a started client per name; stops them afterwards, whether `body` threw
    /// or not.
    private func withClients(_ names: [String], _ body: ([IRCTestClient]) async throws -> Void) async throws {
        var clients: [IRCTestClient] = []
        do {
            for name in names {
                clients.append(try await IRCTestClient.start(script: Self.script, name: name))
            }
            try await body(clients)
        } catch {
            for client in clients { await client.stop() }
            throw error
        }
        for client in clients { await client.stop() }
    }

    /// Runs `body` on `server`; stops it afterwards, whether `body` threw or not.
    private func with(_ server: IRCTestServer, _ body: (IRCTestServer) async throws -> Void) async throws {
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func ngircdRelaysPrivateAndChannelMessages() async throws {
        try await self.with(try await IRCTestServer.ngircd()) { server in
            #expect(server.host == "127.0.0.1")
            #expect(server.isRunning)
            #expect(FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("ngircd.conf").path))
            try await self.withClients(["juf", "meester"]) { clients in
                let (teacher, member) = (clients[0], clients[1])
                let registration = try await teacher.connect(to: server, nick: "juf", caps: ["server-time"])
                #expect(registration.nick == "juf")
                #expect(registration.offeredCapabilities == ["multi-prefix"])
                #expect(registration.capabilities.isEmpty, "ngIRCd has no server-time")
                #expect(registration.account == nil)
                try await member.connect(to: server, nick: "meester")

                // A private message.
                let before = Date()
                try await teacher.send("Hoe ging de les?", to: "meester")
                let private_ = try await member.waitForMessages(from: "juf", count: 1, timeout: .seconds(5))
                #expect(private_.map(\.text) == ["Hoe ging de les?"])
                let first = try #require(private_.first)
                #expect(first.command == "PRIVMSG")
                #expect(first.target == "meester")
                #expect(first.nick == "juf")
                #expect(first.source?.hasPrefix("juf!") == true)
                #expect(first.tags.isEmpty)
                #expect(first.receivedAt >= before.addingTimeInterval(-1))

                // A channel message.
                try await teacher.join("#team")
                try await member.join("#team")
                try await teacher.send("Goedemorgen team", to: "#team")
                let channel = try await member.waitForMessages(from: "juf", to: "#team", count: 1, timeout: .seconds(5))
                #expect(channel.map(\.text) == ["Goedemorgen team"])
                #expect(channel.first?.target == "#team")
                #expect(try await member.received().filter { $0.command == "PRIVMSG" }.map(\.text) == ["Hoe ging de les?", "Goedemorgen team"])

                // A wait that times out says what did arrive.
                do {
                    _ = try await member.waitForMessages(from: "juf", count: 3, timeout: .milliseconds(300))
                    Issue.record("waitForMessages returned with only 2 messages")
                } catch let error as IRCHarnessError {
                    #expect(error.message.contains("2 arrived"))
                }

                try await member.quit("tot morgen")
                #expect(try await !member.isConnected())
                await #expect(throws: IRCHarnessError.self) { try await member.send("weg", to: "juf") }
            }
        }
    }

    @Test func ngircdComesBackOnTheSamePortAfterARestartAndACrash() async throws {
        try await self.with(try await IRCTestServer.ngircd(name: "irc.example.test")) { server in
            let port = server.port
            try await self.withClients(["juf", "meester"]) { clients in
                let (teacher, member) = (clients[0], clients[1])
                try await teacher.connect(to: server, nick: "juf")

                try await server.restart()
                #expect(server.port == port)
                #expect(server.isRunning)
                try await Poll.until("the teacher's connection dropped", timeout: .seconds(5)) { try await !teacher.isConnected() }
                #expect(try await teacher.received(commands: ["ERROR"]).contains { $0.text.contains("Server going down") })
                try await teacher.connect(to: server, nick: "juf")
                try await member.connect(to: server, nick: "meester")
                try await teacher.send("Weer terug", to: "meester")
                #expect(try await member.waitForMessages(from: "juf", timeout: .seconds(5)).map(\.text) == ["Weer terug"])

                server.kill()
                try await Poll.until("ngIRCd died", timeout: .seconds(5)) { !server.isRunning }
                try await server.restart()
                #expect(server.port == port)
                try await teacher.connect(to: server, nick: "juf")
                try await member.connect(to: server, nick: "meester")
                try await member.send("Nog steeds hier", to: "juf")
                #expect(try await teacher.waitForMessages(from: "meester", timeout: .seconds(5)).map(\.text) == ["Nog steeds hier"])
            }
            await server.stop()
            #expect(!server.isRunning)
            #expect(!FileManager.default.fileExists(atPath: server.directory.path))
            await #expect(throws: IRCHarnessError.self) { try await server.restart() }
        }
    }

    @Test func inspircdLogsInWithSASLAndTagsMessages() async throws {
        let accounts = ["spiegel": "hunter2", "juf": "geheim"]
        try await self.with(try await IRCTestServer.inspircd(accounts: accounts)) { server in
            #expect(server.accounts == accounts)
            let caps = ["server-time", "message-tags", "account-tag"]
            try await self.withClients(["spiegel", "juf", "indringer"]) { clients in
                let (bot, teacher, intruder) = (clients[0], clients[1], clients[2])
                // Registration takes InspIRCd about 1 s: the three run at once.
                async let botLogin = bot.connect(to: server, nick: "spiegel", saslAccount: "spiegel", saslPassword: "hunter2", caps: caps)
                async let teacherLogin = teacher.connect(to: server, nick: "juf", saslAccount: "juf", saslPassword: "geheim", caps: caps)
                async let intruderLogin: Void = {
                    do {
                        try await intruder.connect(to: server, nick: "indringer", saslAccount: "juf", saslPassword: "fout", caps: caps)
                        Issue.record("a wrong password logged in")
                    } catch let error as IRCHarnessError {
                        #expect(error.message.contains("904"), "\(error.message)")
                    }
                }()
                let registration = try await botLogin
                let teacherRegistration = try await teacherLogin
                try await intruderLogin

                #expect(registration.nick == "spiegel")
                #expect(registration.account == "spiegel")
                #expect(Set(registration.capabilities) == Set(caps + ["sasl"]))
                #expect(registration.offeredCapabilities.contains("echo-message"))
                #expect(teacherRegistration.account == "juf")

                let sent = Date()
                try await teacher.send("Mag ik iets vragen?", to: "spiegel")
                let messages = try await bot.waitForMessages(from: "juf", to: "spiegel", count: 1, timeout: .seconds(10))
                let message = try #require(messages.first)
                #expect(message.text == "Mag ik iets vragen?")
                #expect(message.tags["account"] == "juf")
                let time = try #require(message.tags["time"])
                let stamp = try #require(try? Date(time, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
                #expect(abs(stamp.timeIntervalSince(sent)) < 5)
                #expect(message.tags["msgid"] != nil)
            }
        }
    }

    @Test func inspircdOffersSASLAgainAfterARestart() async throws {
        try await self.with(try await IRCTestServer.inspircd(accounts: ["spiegel": "hunter2"])) { server in
            let port = server.port
            try await self.withClients(["spiegel"]) { clients in
                let bot = clients[0]
                try await server.restart()
                #expect(server.port == port)
                let registration = try await bot.connect(to: server, nick: "spiegel", saslAccount: "spiegel", saslPassword: "hunter2")
                #expect(registration.account == "spiegel")
            }
        }
    }
}
