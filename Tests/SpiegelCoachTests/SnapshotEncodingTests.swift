import Foundation
@testable import SpiegelCoach
import SpiegelDialogue
import SpiegelVault
import Testing

/// The compact encoding of the state journalled with every message, and the JSON of older builds.
@Suite struct SnapshotEncodingTests {
    /// A snapshot with every field away from its default.
    static func filledSnapshot() -> SessionSnapshot {
        let time = Date(timeIntervalSince1970: 1_800_000_000.125)
        var state = DialogueState(
            language: "nl", stack: [.init(graph: "reflectie", node: "start"), .init(graph: "weerstand", node: "a_uitleg")],
            facts: ["vorige.plan": "Eerst stilte, dan uitleg", "sessies": "3"], updatedAt: time
        )
        state.answers = ["moment": "De start: ze kwamen binnen en ik had nog niets klaar 😅", "cijfer": "6"]
        state.answerOrder = ["moment", "cijfer"]
        state.unquotable = ["gevoel", "advies"]
        state.counters = ["count.vast": 2, "count.negatief": -1]
        state.history = [[.init(graph: "reflectie", node: "start")], []]
        state.status = .paused
        var snapshot = SessionSnapshot()
        snapshot.state = state
        snapshot.history = CoacheeHistory(sessions: [.init(graph: "reflectie", endedAt: time, summary: ["doel": "Rust bij de start", "cijfer": "7"])])
        snapshot.recentMessageIDs = ["$a", "$b"]
        snapshot.recentMessageTimes = [time, time.addingTimeInterval(1)]
        snapshot.recentReplies = ["$b": ["Wat werkte al?", ""]]
        snapshot.pendingConfirmation = "forget"
        snapshot.followUp = FollowUpProposal(graph: "opvolging", due: time.addingTimeInterval(86400), plan: "Eerst stilte", sign: nil)
        snapshot.followUpsOff = true
        snapshot.address = ReplyAddress(transport: "matrix", room: "!kamer:school.example")
        snapshot.pairing = CoachPairing(coach: "@coach:school.example", accepted: true, since: time)
        snapshot.shareDraft = ShareDraft(
            id: "s1", coach: "@coach:school.example", graph: "reflectie", endedAt: time,
            parts: [SharePart(label: "doel", text: "Rust bij de start"), SharePart(label: "plan", text: "Stilte")], stage: .confirm, selected: [0, 1]
        )
        snapshot.shared = [SharedSummary(id: "s0", coach: "@coach:school.example", sentAt: time, text: "Doel: rust", withdrawn: true)]
        snapshot.pairingRequests = [PairingRequest(coachee: "@an:school.example", announced: true)]
        snapshot.coachees = ["@bo:school.example"]
        snapshot.received = [ReceivedSummary(id: "r1", from: "@bo:school.example", sentAt: time, text: "Doel: orde", withdrawn: false, delivered: true)]
        snapshot.invitedBy = ["@coach:school.example"]
        return snapshot
    }

    /// Whether `read` is `snapshot`: the same sorted JSON, and the same set of unquotable answers
    /// (a set's JSON has no order).
    static func same(_ read: SessionSnapshot, _ snapshot: SessionSnapshot) throws -> Bool {
        var read = read
        guard read.state?.unquotable == snapshot.state?.unquotable else { return false }
        read.state?.unquotable = snapshot.state?.unquotable ?? []
        return try self.json(read) == self.json(snapshot)
    }

    /// The snapshot as sorted JSON.
    static func json(_ snapshot: SessionSnapshot) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(snapshot), as: UTF8.self)
    }

    @Test func everyFieldComesBackAsItWas() throws {
        let snapshot = Self.filledSnapshot()
        // A field added later and left at its default here would go untested: the fixture sets all.
        let defaults = Mirror(reflecting: SessionSnapshot()).children.map { String(describing: $0.value) }
        for (child, empty) in zip(Mirror(reflecting: snapshot).children, defaults) where child.label != "version" {
            #expect(String(describing: child.value) != empty, "the fixture leaves \(child.label ?? "?") at its default")
        }
        let bytes = snapshot.journalled()
        #expect(bytes.first == SessionSnapshot.compactMarker)
        #expect(try Self.same(SessionSnapshot.read(journalled: bytes), snapshot))
        #expect(bytes.count * 2 < (try Self.json(snapshot)).utf8.count, "compact: \(bytes.count) bytes")
        // The same snapshot gives the same bytes (dictionaries and sets in order).
        #expect(Self.filledSnapshot().journalled() == bytes)
    }

    @Test func aSnapshotOfAnOlderBuildInJSONIsRead() throws {
        let snapshot = Self.filledSnapshot()
        let json = Array(try JSONEncoder().encode(snapshot))
        #expect(try Self.same(SessionSnapshot.read(journalled: json), snapshot))
    }

    @Test func damagedBytesAreAnErrorNeverACrash() throws {
        let bytes = Self.filledSnapshot().journalled()
        for length in 1..<bytes.count {
            #expect(throws: (any Error).self, "cut at \(length)") { try SessionSnapshot.read(journalled: Array(bytes.prefix(length))) }
        }
        #expect(throws: CompactDecodingError.malformed("bytes after its end")) { try SessionSnapshot.read(journalled: bytes + [0]) }
        var newer = bytes
        newer[1] = UInt8(2 * (SessionSnapshot.compactVersion + 1))  // zigzag of the next version
        #expect(throws: CompactDecodingError.newerVersion(SessionSnapshot.compactVersion + 1)) { try SessionSnapshot.read(journalled: newer) }
        // A length that claims more than there is allocates nothing and says so.
        var writer = CompactWriter()
        writer.writeByte(SessionSnapshot.compactMarker)
        writer.write(SessionSnapshot.compactVersion)
        writer.write(true)
        writer.write(UInt64.max >> 1)
        #expect(throws: CompactDecodingError.truncated) { try SessionSnapshot.read(journalled: writer.bytes) }
    }

    @Test func aConversationJournalledInJSONByAnOlderBuildGoesOn() async throws {
        let fixture = CoachFixture()
        var vault = try fixture.openVault()
        var service = fixture.service(vault)
        let lines = ["hallo", "1", "Rust bij de start"]
        try await service.sayAll(lines, as: "an")
        try await service.sayAll(lines, as: "bo")
        // Bo's latest snapshot as an older build wrote it.
        let latest = try #require(try await vault.records(for: CoacheeID("bo"), fromLatestSnapshot: true).last { $0.type == .snapshot })
        #expect(latest.payload.first == SessionSnapshot.compactMarker)
        let older = try JSONEncoder().encode(SessionSnapshot.read(journalled: latest.payload))
        try await vault.append([NewRecord(.snapshot, Array(older), time: latest.time)], for: CoacheeID("bo"))
        try await vault.close()

        vault = try fixture.openVault()
        service = fixture.service(vault)
        let next = "Ze kwamen binnen en ik had nog niets klaar"
        let toAn = try await service.say(next, as: "an")
        #expect(try await service.say(next, as: "bo") == toAn)
        #expect(!toAn.isEmpty)
        try await vault.close()
    }

    @Test func theExportShowsTheStateReadable() async throws {
        let fixture = CoachFixture()
        let vault = try fixture.openVault()
        let service = fixture.service(vault)
        try await service.sayAll(["hallo", "1", "Rust bij de start"], as: "an")
        let records = try await vault.records(for: CoacheeID("an"))
        let markdown = VaultExport.markdown(records, pseudonym: vault.pseudonym(of: CoacheeID("an")), exportedAt: Date(timeIntervalSince1970: 1_800_000_000), readable: CoachingService.readableSnapshot)
        #expect(!markdown.contains("base64:"))
        #expect(markdown.contains("· snapshot · {"))
        #expect(markdown.contains("Rust bij de start\""), "the answer, inside the state")
        #expect(CoachingService.readableSnapshot(records.first { $0.type == .messageIn }!) == nil)
        try await vault.close()
    }
}
