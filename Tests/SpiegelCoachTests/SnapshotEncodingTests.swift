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
        snapshot.recentMessageDigests = ["$a", "$b"].map(SessionSnapshot.messageDigest)
        snapshot.recentMessageTimes = [time, time.addingTimeInterval(1)]
        snapshot.recentReplies = [RecentReply(id: "$b", texts: ["Wat werkte al?", ""])]
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

    /// ``filledSnapshot()`` as the compact encoding's version 1 wrote it (build dde4866, the last
    /// before version 2): the message ids themselves, the replies by id.
    static let versionOne: [UInt8] = {
        let hex = [
        "c50201026e6c02097265666c656374696505737461727409776565727374616e6408615f7569746c6567020663696a6665720136066d6f6d",
        "656e743944652073746172743a207a65206b77616d656e2062696e6e656e20656e20696b20686164206e6f67206e69657473206b6c616172",
        "20f09f988502066d6f6d656e740663696a6665720206616476696573066765766f656c020e636f756e742e6e65676174696566010a636f75",
        "6e742e766173740402077365737369657301330b766f726967652e706c616e184565727374207374696c74652c2064616e207569746c6567",
        "0201097265666c656374696505737461727400067061757365648080c080cca09fe44101097265666c65637469658080c080cca09fe44102",
        "0663696a666572013704646f656c11527573742062696a20646520737461727402022461022462028080c080cca09fe4418080c084cca09f",
        "e44101022462020e576174207765726b746520616c3f000106666f7267657401096f70766f6c67696e678080c080d8b59fe441010c456572",
        "7374207374696c7465000101066d617472697815216b616d65723a7363686f6f6c2e6578616d706c65011540636f6163683a7363686f6f6c",
        "2e6578616d706c65018080c080cca09fe441010273311540636f6163683a7363686f6f6c2e6578616d706c65097265666c65637469658080",
        "c080cca09fe4410204646f656c11527573742062696a20646520737461727404706c616e065374696c746507636f6e6669726d0200020102",
        "73301540636f6163683a7363686f6f6c2e6578616d706c658080c080cca09fe4410a446f656c3a207275737401011240616e3a7363686f6f",
        "6c2e6578616d706c6501011240626f3a7363686f6f6c2e6578616d706c65010272311240626f3a7363686f6f6c2e6578616d706c658080c0",
        "80cca09fe4410a446f656c3a206f7264650001011540636f6163683a7363686f6f6c2e6578616d706c65",
        ].joined()
        return stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }()

    @Test func aSnapshotOfVersionOneIsReadWithItsIdsAsDigests() throws {
        #expect(Self.versionOne[0] == SessionSnapshot.compactMarker && Self.versionOne[1] == 2, "zigzag 1: version 1")
        let read = try SessionSnapshot.read(journalled: Self.versionOne)
        #expect(try Self.same(read, Self.filledSnapshot()))
        #expect(["$a", "$b"].map(SessionSnapshot.messageDigest).allSatisfy(read.remembers) && !read.remembers(SessionSnapshot.messageDigest("$c")))
        #expect(read.replies(to: "$b") == ["Wat werkte al?", ""])
        #expect(read.replies(to: "$a") == [])
    }

    @Test func anOlderJSONSnapshotsIdsAndRepliesCarryOver() throws {
        let ids = (0..<30).map { "$event\($0):school.example" }
        let older: [String: Any] = [
            "version": 1,
            "recentMessageIDs": ids,
            "recentReplies": Dictionary(uniqueKeysWithValues: ids.suffix(10).map { ($0, ["antwoord op \($0)"]) }),
        ]
        let read = try SessionSnapshot.read(journalled: Array(try JSONSerialization.data(withJSONObject: older)))
        #expect(ids.map(SessionSnapshot.messageDigest).allSatisfy(read.remembers))
        #expect(read.recentReplies.map(\.id) == Array(ids.suffix(10)), "in the order of their ids")
        #expect(read.replies(to: ids[29]) == ["antwoord op \(ids[29])"])
        // Written again, and read: as it was.
        #expect(try Self.same(SessionSnapshot.read(journalled: read.journalled()), read))
    }

    /// A teacher who has written for months: the most ids the window keeps, each a Matrix event id
    /// of 44 characters, with their times a minute apart and the last replies.
    @Test func aLongTimeCoacheesIdsTakeEightBytesAndTheirTimesAFew() throws {
        var snapshot = SessionSnapshot()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<SessionSnapshot.dedupeMaximum {
            let id = "$" + String(repeating: "x", count: 39) + String(format: "%04d", index)
            snapshot.remember(id, digest: SessionSnapshot.messageDigest(id), replies: ["Wat zou er anders zijn bij een 8?"], at: start.addingTimeInterval(Double(index) * 60))
        }
        #expect(snapshot.recentMessageDigests.count == SessionSnapshot.dedupeMaximum && snapshot.recentReplies.count == SessionSnapshot.repliesKept)
        let bytes = snapshot.journalled()
        // 1,000 digests of 8 bytes and 1,000 times of 3 (a minute in milliseconds), the replies,
        // the rest: under 12 KB, where version 1 took 56 KB (45 bytes an id, 10 a time).
        #expect(bytes.count < 12_000, "\(bytes.count) bytes")
        let read = try SessionSnapshot.read(journalled: bytes)
        #expect(read.recentMessageTimes == snapshot.recentMessageTimes)
        #expect(read.remembers(SessionSnapshot.messageDigest("$" + String(repeating: "x", count: 39) + "0999")))
    }

    @Test func aTimeOutOfEveryRangeIsKeptAtItsBoundNeverACrash() throws {
        var snapshot = SessionSnapshot()
        snapshot.recentMessageDigests = [1, 2, 3, 4]
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        snapshot.recentMessageTimes = [now, .distantFuture.addingTimeInterval(1e15), Date(timeIntervalSince1970: -.infinity), Date(timeIntervalSince1970: .nan)]
        let read = try SessionSnapshot.read(journalled: snapshot.journalled())
        #expect(read.recentMessageTimes.map(\.timeIntervalSince1970) == [1_800_000_000, 8e12, -8e12, 0])
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
