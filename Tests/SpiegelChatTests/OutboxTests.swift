import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// The outbox with a real vault and a real receiving server.
@Suite struct OutboxTests {
    struct Inbox: HTTPChatTransport {
        let name = "test"
        let url: String

        func request(for entry: OutboxEntry) -> HTTPClientRequest {
            HTTPClientRequest(method: .post, url: self.url + "/" + entry.key, body: Array(entry.text.utf8))
        }
    }

    static func withOutbox(_ body: (Outbox, Vault, LoopbackHTTPServer) async throws -> Void) async throws {
        try await Self.withParts(retryingAfter: .milliseconds(20), atMost: .milliseconds(100)) { receiver, vault, client, configuration in
            let outbox = Outbox(vault: vault, client: client, transport: Inbox(url: receiver.url("/inbox")), isTeamRoom: { $0 == "!team" }, configuration: configuration, logger: Logger(label: "test"))
            try await body(outbox, vault, receiver)
        }
    }

    /// A receiver, a vault, a client, and an outbox configuration whose retries wait from
    /// `delay` up to `maxDelay`.
    static func withParts(
        retryingAfter delay: Duration, atMost maxDelay: Duration, _ body: (LoopbackHTTPServer, Vault, CurlHTTPClient, Outbox.Configuration) async throws -> Void
    ) async throws {
        let receiver = try await LoopbackHTTPServer.start()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-outbox-\(UUID().uuidString)/vault").path
        let vault = try Vault(configuration: VaultConfiguration(directory: root), masterKey: .generate(), logger: Logger(label: "test"))
        let client = CurlHTTPClient(configuration: .init(), logger: Logger(label: "test"))
        var configuration = Outbox.Configuration()
        configuration.baseDelay = delay
        configuration.maxDelay = maxDelay
        try await body(receiver, vault, client, configuration)
        await client.shutdown()
        try await vault.close()
        try await receiver.stop()
    }

    /// Waits for what the outbox does on its own: these tests are about order and keeping, not
    /// speed, and `make test` starts every suite at once on two cores (a browser among them), so a
    /// delivery may wait its turn for the CPU.
    static func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        try await Poll.until(what, timeout: .seconds(60)) { condition() }
    }

    /// The parts for tests whose held entries must stay put: retries 30 s apart, longer than the
    /// test.
    static func withSlowRetries(_ body: (LoopbackHTTPServer, Vault, CurlHTTPClient, Outbox.Configuration) async throws -> Void) async throws {
        try await Self.withParts(retryingAfter: .seconds(30), atMost: .seconds(30), body)
    }

    @Test func deliveredInOrderThenTheJournalIsErased() async throws {
        try await Self.withOutbox { outbox, vault, receiver in
            try await outbox.enqueue((0..<5).map { OutboxEntry(key: "k\($0)", room: "!dm", text: "bericht \($0)") })
            #expect(vault.contains(SystemJournalID("outbox.test")))
            try await Self.waitUntil("five delivered") { outbox.depth == 0 && outbox.counts.delivered == 5 }
            #expect(receiver.received.map { String(decoding: $0.body, as: UTF8.self) } == (0..<5).map { "bericht \($0)" })
            // Nothing waits, so no copy of a conversation stays behind.
            try await Self.waitUntil("the outbox journal erased") { !vault.contains(SystemJournalID("outbox.test")) }
            #expect(!vault.contains(SystemJournalID("outbox.test")))
            // A key seen before is not sent again.
            try await outbox.enqueue([OutboxEntry(key: "k0", room: "!dm", text: "bericht 0")])
            #expect(outbox.depth == 0, "nothing queued for a key seen before")
            try await outbox.enqueue([OutboxEntry(key: "k5", room: "!dm", text: "bericht 5")])
            try await Self.waitUntil("the next key delivered") { outbox.counts.delivered == 6 }
            #expect(receiver.received.count == 6)
            #expect(receiver.received.last.map { String(decoding: $0.body, as: UTF8.self) } == "bericht 5")
        }
    }

    /// A room's next entry goes out without waiting for the previous one's mark to be on disk;
    /// the marks of all that was sent are written before the outbox stops, so a restart sends
    /// nothing again, and the emptied journal is erased.
    @Test func whatWasSentIsMarkedBeforeTheOutboxStops() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-outbox-\(UUID().uuidString)").path
        let vault = try Vault(configuration: VaultConfiguration(directory: root + "/vault"), masterKey: .generate(), logger: Logger(label: "test"))
        let client = CurlHTTPClient(configuration: .init(), logger: Logger(label: "test"))
        let outbox = Outbox(vault: vault, client: client, transport: Inbox(url: receiver.url("/inbox")), isTeamRoom: { _ in false }, logger: Logger(label: "test"))
        let group = ServiceGroup(services: [outbox], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await outbox.enqueue((0..<40).map { OutboxEntry(key: "m\($0)", room: "!dm\($0 % 4)", text: "bericht \($0)") })
            // From here each sync takes a second: the marks are still on their way when the last
            // entry has arrived and the outbox is told to stop.
            FileFaults.arm(under: root) { call, _ in
                if call == .sync { usleep(1_000_000) }
                return nil
            }
            try await Self.waitUntil("forty received") { receiver.received.count == 40 }
            // Had each room waited for a mark before its next entry, its first nine would be
            // marked before its tenth went out.
            #expect(outbox.counts.delivered < 36, "the rooms went on before their marks were on disk")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            FileFaults.disarm(under: root)
        }
        #expect(outbox.counts.delivered == 40 && outbox.depth == 0, "every mark written before the outbox stopped")
        for room in 0..<4 {
            let sent = receiver.received.map { String(decoding: $0.body, as: UTF8.self) }.filter { Int($0.split(separator: " ").last!)! % 4 == room }
            #expect(sent == stride(from: room, to: 40, by: 4).map { "bericht \($0)" }, "in order in room \(room)")
        }
        let reread = Outbox(vault: vault, client: client, transport: Inbox(url: receiver.url("/inbox")), isTeamRoom: { _ in false }, logger: Logger(label: "test"))
        try await reread.load()
        #expect(reread.depth == 0, "nothing is sent again after the restart")
        #expect(!vault.contains(SystemJournalID("outbox.test")))
        await client.shutdown()
        try await vault.close()
        try await receiver.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Held rooms' entries are refused by their chat (503) and stay; the other rooms drain, and
    /// with every drain the outbox tries to erase its journal, while writes run side by side.
    struct Holding: HTTPChatTransport {
        let name = "test"
        let url: String

        func request(for entry: OutboxEntry) -> HTTPClientRequest {
            HTTPClientRequest(method: .post, url: entry.room.hasPrefix("!hold") ? self.url + "/status/503" : self.url + "/inbox/" + entry.key, body: Array(entry.text.utf8))
        }
    }

    @Test func writesSideBySideNeverLoseAWaitingEntryToTheJournalsErasure() async throws {
        try await Self.withSlowRetries { receiver, vault, client, configuration in
            let outbox = Outbox(vault: vault, client: client, transport: Holding(url: receiver.url("")), isTeamRoom: { _ in false }, configuration: configuration, logger: Logger(label: "test"))
            // 40 rooms write at once, 10 entries each, one after the other; every fourth room is held.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for room in 0..<40 {
                    group.addTask {
                        let name = room % 4 == 0 ? "!hold\(room)" : "!dm\(room)"
                        for index in 0..<10 {
                            try await outbox.enqueue([OutboxEntry(key: "r\(room)-\(index)", room: name, text: "bericht \(index)")])
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await Self.waitUntil("the free rooms delivered") { outbox.counts.delivered == 300 }
            #expect(Set(receiver.received.map(\.path)).count == 300, "each free entry delivered once")
            // What waits is in the journal: a second outbox on the same vault finds all 100 held.
            let reread = Outbox(vault: vault, client: client, transport: Holding(url: receiver.url("")), isTeamRoom: { _ in false }, configuration: configuration, logger: Logger(label: "test"))
            try await reread.load()
            #expect(reread.depth == 100)
        }
    }

    @Test func whatWasEnqueuedBeforeTheLoadIsQueuedOnce() async throws {
        try await Self.withOutbox { outbox, _, receiver in
            receiver.inboxStatus = 503
            try await outbox.enqueue([OutboxEntry(key: "early", room: "!dm", text: "vroeg")])
            try await outbox.load()
            #expect(outbox.depth == 1)
            receiver.inboxStatus = 200
            try await Self.waitUntil("delivered and marked") { outbox.depth == 0 && outbox.counts.delivered == 1 }
            #expect(receiver.received.count == 1)
            #expect(outbox.counts.delivered == 1)
        }
    }

    /// Posts each entry whole, as JSON, so a test sees every field the journal gave back.
    struct Whole: HTTPChatTransport {
        let name = "test"
        let url: String

        func request(for entry: OutboxEntry) -> HTTPClientRequest {
            HTTPClientRequest(method: .post, url: self.url, body: [UInt8]((try? JSONEncoder().encode(entry)) ?? Data()))
        }
    }

    /// Text a chat may carry: quotes, backslashes, line breaks, a control character, emoji, a
    /// line separator, markup; read back from the journal by a second outbox, field for field.
    @Test func anEntryIsReadBackFromTheJournalAsItWasWritten() async throws {
        try await Self.withSlowRetries { receiver, vault, client, configuration in
            let entries = [
                OutboxEntry(key: "a1b2c3/m\"1\"#0", room: "!hold:school.example", text: "Ze zei: \"stop\" \\ en\nging\tweg\u{1} 👩‍🏫\u{2028}</script>", isPrivate: true, replyTo: "m\"1\""),
                OutboxEntry(key: "join-1", room: "!hold", text: "", isPrivate: false, action: .join),
                OutboxEntry(key: "é/ñ", room: "!hold é", text: "Één ∑ 𝄞", isPrivate: false),
            ]
            let outbox = Outbox(vault: vault, client: client, transport: Holding(url: receiver.url("")), isTeamRoom: { _ in false }, configuration: configuration, logger: Logger(label: "test"))
            try await outbox.enqueue(entries)
            let reread = Outbox(vault: vault, client: client, transport: Whole(url: receiver.url("/inbox")), isTeamRoom: { _ in false }, logger: Logger(label: "test"))
            try await reread.load()
            try await Self.waitUntil("the three delivered by the second outbox") { receiver.received.count == 3 }
            let delivered = try receiver.received.map { try JSONDecoder().decode(OutboxEntry.self, from: Data($0.body)) }
            for entry in entries {
                let read = try #require(delivered.first { $0.key == entry.key })
                #expect(read.room == entry.room && read.text == entry.text && read.isPrivate == entry.isPrivate, "\(entry.key)")
                #expect(read.replyTo == entry.replyTo && read.action == entry.action, "\(entry.key)")
                #expect(read.queuedAt != nil)
            }
        }
    }

    @Test func formatOnesOutboxIsMovedIntoTheSystemNamespaceAndDelivered() async throws {
        try await Self.withOutbox { outbox, vault, receiver in
            // Data format 1 kept the outbox as a coachee named `spiegel:outbox:<transport>`.
            let legacy = CoacheeID("spiegel:outbox:test")
            let entries = ["a", "b"].map { OutboxEntry(key: $0, room: "!dm", text: "oud \($0)") }
            try await vault.append(try entries.map { NewRecord(.outboxQueued, [UInt8](try JSONEncoder().encode($0))) }, for: legacy)
            try await vault.append([NewRecord(.outboxDelivered, Array("a".utf8))], for: legacy)
            try await outbox.load()
            #expect(!vault.contains(legacy))
            try await Self.waitUntil("the pending one delivered") { outbox.counts.delivered == 1 && outbox.depth == 0 }
            #expect(receiver.received.map { String(decoding: $0.body, as: UTF8.self) } == ["oud b"])
        }
    }

    @Test func aPrivateEntryForATeamRoomIsRefusedAndNothingIsWritten() async throws {
        try await Self.withOutbox { outbox, vault, _ in
            await #expect(throws: OutboxError.self) {
                try await outbox.enqueue([OutboxEntry(key: "a", room: "!dm", text: "ok"), OutboxEntry(key: "b", room: "!team", text: "mijn les")])
            }
            #expect(outbox.depth == 0)
            #expect(!vault.contains(SystemJournalID("outbox.test")))
            try await outbox.enqueue([OutboxEntry(key: "c", room: "!team", text: "Intervisie volgende week", isPrivate: false)])
            try await Self.waitUntil("one delivered") { outbox.counts.delivered == 1 }
            #expect(outbox.counts.delivered == 1)
        }
    }

    @Test func aServerErrorIsRetriedAndAClientErrorDropped() async throws {
        try await Self.withOutbox { outbox, _, receiver in
            receiver.inboxStatus = 503
            try await outbox.enqueue([OutboxEntry(key: "r1", room: "!dm", text: "later")])
            try await Self.waitUntil("a retry refused too") { receiver.refusedCount >= 2 }
            #expect(outbox.depth == 1 && receiver.received.isEmpty)
            receiver.inboxStatus = 200
            try await Self.waitUntil("one delivered") { outbox.counts.delivered == 1 }
            #expect(receiver.received.count == 1)
            receiver.inboxStatus = 400
            try await outbox.enqueue([OutboxEntry(key: "r2", room: "!dm", text: "nooit")])
            try await Self.waitUntil("one dropped") { outbox.counts.dropped == 1 }
            #expect(outbox.counts.dropped == 1 && outbox.depth == 0)
        }
    }
}
