import Foundation
import SpiegelTestKit
import Testing

/// The end-to-end-encrypting test client (``E2EETestClient``: matrix-nio in the Synapse venv)
/// against a real Synapse, without Spiegel: two of them share an encrypted direct chat and read
/// each other, and the homeserver's database holds none of what they wrote.
@Suite(.serialized, .tags(.synapse), .enabled(if: runs("synapse"))) struct E2EETestClientTests {
    @Test func twoClientsExchangeEncryptedMessagesTheHomeserverCannotRead() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-e2ee-\(UUID().uuidString)")
        let synapse = try SynapseHomeserver(directory: directory.appendingPathComponent("synapse"))
        try await synapse.start()
        var clients: [E2EETestClient] = []
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let aliceAccount = try await synapse.register("alice")
            let bobAccount = try await synapse.register("bob")
            let alice = try await E2EETestClient.start(homeserver: synapse.baseURL, client: aliceAccount, store: directory.appendingPathComponent("alice"))
            clients.append(alice)
            var bob = try await E2EETestClient.start(homeserver: synapse.baseURL, client: bobAccount, store: directory.appendingPathComponent("bob"))
            clients.append(bob)

            let marker = UUID().uuidString.prefix(8)
            let secrets = (1...5).map { "geheim-\(marker)-\($0)" }
            let control = "openbaar-\(marker)"

            // Alice writes before Bob joins: an invited member's devices get the key too.
            let room = try await alice.createDirectChat(with: bob.userID)
            try await alice.send(secrets[0], to: room)
            try await bob.join(room)
            try await alice.waitJoined(bob.userID, in: room)
            let bobsDevices = try await alice.devices(of: bob.userID)
            #expect(bobsDevices.map(\.deviceID) == [bob.deviceID])

            try await alice.send(secrets[1], to: room)
            try await bob.send(secrets[2], to: room)
            try await bob.send(secrets[3], to: room)

            let fromAlice = try await bob.waitForMessages(in: room, from: alice.userID, count: 2, timeout: .seconds(30))
            #expect(fromAlice.map(\.body) == [secrets[0], secrets[1]])
            #expect(fromAlice.allSatisfy { $0.encrypted && $0.decrypted && $0.msgtype == "m.text" })
            let fromBob = try await alice.waitForMessages(in: room, from: bob.userID, count: 2, timeout: .seconds(30))
            #expect(fromBob.map(\.body) == [secrets[2], secrets[3]])
            #expect(fromBob.allSatisfy { $0.encrypted && $0.decrypted })

            // Bob's client again on the same store and device: it still reads the history and
            // what comes after.
            await bob.stop()
            bob = try await E2EETestClient.start(homeserver: synapse.baseURL, client: bobAccount, store: directory.appendingPathComponent("bob"))
            clients.append(bob)
            try await alice.send(secrets[4], to: room)
            let afterRestart = try await bob.waitForMessages(in: room, from: alice.userID, count: 3, timeout: .seconds(30))
            #expect(afterRestart.map(\.body) == [secrets[0], secrets[1], secrets[4]])
            #expect(afterRestart.allSatisfy { $0.decrypted })

            // The control: an unencrypted room, whose message the database check must find.
            let plainRoom = try await alice.createDirectChat(with: bob.userID, encrypted: false)
            try await bob.join(plainRoom)
            try await alice.send(control, to: plainRoom)
            let plain = try await bob.waitForMessages(in: plainRoom, from: alice.userID, count: 1, timeout: .seconds(30))
            #expect(plain.map(\.body) == [control])
            #expect(plain.allSatisfy { !$0.encrypted && !$0.decrypted })

            for client in clients { await client.stop() }
            await synapse.stop()
            let found = try Self.search(database: synapse.directory.appendingPathComponent("homeserver.db"), for: secrets + [control])
            #expect(found == [control], "the homeserver's database must hold only the unencrypted control message")
        } catch {
            for client in clients { await client.stop() }
            await synapse.stop()
            throw error
        }
    }

    /// Which of `words` occur anywhere in the SQLite database (an SQL dump of every table, read
    /// through its write-ahead log), by the Synapse venv's Python.
    static func search(database: URL, for words: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try SynapseHomeserver.python())
        process.arguments = [
            "-c",
            """
            import json, sqlite3, sys
            dump = "\\n".join(sqlite3.connect(sys.argv[1]).iterdump())
            print(json.dumps([word for word in sys.argv[2:] if word in dump]))
            """,
            database.path,
        ] + words
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try JSONDecoder().decode([String].self, from: data)
    }
}
