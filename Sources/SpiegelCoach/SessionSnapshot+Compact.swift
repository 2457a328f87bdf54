import Foundation
import SpiegelDialogue
public import SpiegelVault

extension CoachingService {
    /// A journalled snapshot of the service's state as JSON, for a coachee's export of their own
    /// data (`spiegel export`); `nil` for any other record, or one that does not read.
    public static func readableSnapshot(_ record: JournalRecord) -> String? {
        guard record.type == .snapshot, let snapshot = try? SessionSnapshot.read(journalled: record.payload) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(snapshot)).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// The snapshot as it is journalled: a compact encoding (``CompactWriter``), read back with the
/// JSON of older builds.
extension SessionSnapshot {
    /// The first byte of a compact snapshot; a JSON snapshot starts with `{`.
    static let compactMarker: UInt8 = 0xC5
    /// The layout of the fields below; raised when it changes (an older build then refuses).
    /// Version 2 keeps message ids as digests, their times as differences and the replies in
    /// order; version 1 (until December 2026) is still read.
    static let compactVersion = 2

    /// The bytes to journal.
    func journalled() -> [UInt8] {
        var writer = CompactWriter()
        writer.writeByte(Self.compactMarker)
        writer.write(Self.compactVersion)
        self.encode(to: &writer)
        return writer.bytes
    }

    /// A journalled snapshot, compact or (from before) JSON.
    static func read(journalled payload: [UInt8]) throws -> SessionSnapshot {
        guard payload.first == Self.compactMarker else {
            return try JSONDecoder().decode(SessionSnapshot.self, from: Data(payload))
        }
        var reader = CompactReader(payload, from: 1)
        let version = try reader.readInt()
        guard version <= Self.compactVersion else { throw CompactDecodingError.newerVersion(version) }
        let snapshot = try SessionSnapshot(from: &reader, version: version)
        guard reader.isAtEnd else { throw CompactDecodingError.malformed("bytes after its end") }
        return snapshot
    }

    private func encode(to writer: inout CompactWriter) {
        writer.write(self.state) { $0.write($1) }
        writer.write(self.history.sessions) { writer, session in
            writer.write(session.graph)
            writer.write(session.endedAt)
            writer.write(session.summary)
        }
        writer.write(self.recentMessageDigests) { $0.writeFixed($1) }
        writer.writeMilliseconds(self.recentMessageTimes)
        writer.write(self.recentReplies) { writer, reply in
            writer.write(reply.id)
            writer.write(reply.texts)
        }
        writer.write(self.pendingConfirmation)
        writer.write(self.followUp) { writer, followUp in
            writer.write(followUp.graph)
            writer.write(followUp.due)
            writer.write(followUp.plan)
            writer.write(followUp.sign)
        }
        writer.write(self.followUpsOff)
        writer.write(self.address) { writer, address in
            writer.write(address.transport)
            writer.write(address.room)
        }
        writer.write(self.pairing) { writer, pairing in
            writer.write(pairing.coach)
            writer.write(pairing.accepted)
            writer.write(pairing.since)
        }
        writer.write(self.shareDraft) { writer, draft in
            writer.write(draft.id)
            writer.write(draft.coach)
            writer.write(draft.graph)
            writer.write(draft.endedAt)
            writer.write(draft.parts) { writer, part in
                writer.write(part.label)
                writer.write(part.text)
            }
            writer.write(draft.stage.rawValue)
            writer.write(draft.selected) { $0.write($1) }
        }
        writer.write(self.shared) { writer, summary in
            writer.write(summary.id)
            writer.write(summary.coach)
            writer.write(summary.sentAt)
            writer.write(summary.text)
            writer.write(summary.withdrawn)
        }
        writer.write(self.pairingRequests) { writer, request in
            writer.write(request.coachee)
            writer.write(request.announced)
        }
        writer.write(self.coachees)
        writer.write(self.received) { writer, summary in
            writer.write(summary.id)
            writer.write(summary.from)
            writer.write(summary.sentAt)
            writer.write(summary.text)
            writer.write(summary.withdrawn)
            writer.write(summary.delivered)
        }
        writer.write(self.invitedBy)
    }

    private init(from reader: inout CompactReader, version: Int) throws(CompactDecodingError) {
        self.init()
        self.state = try reader.readOptional { reader throws(CompactDecodingError) in try DialogueState(from: &reader) }
        self.history = CoacheeHistory(sessions: try reader.readArray { reader throws(CompactDecodingError) in
            CoacheeHistory.Session(graph: try reader.readString(), endedAt: try reader.readDate(), summary: try reader.readDictionary())
        })
        if version >= 2 {
            self.recentMessageDigests = try reader.readArray { reader throws(CompactDecodingError) in try reader.readFixed() }
            self.recentMessageTimes = try reader.readMilliseconds()
            self.recentReplies = try reader.readArray { reader throws(CompactDecodingError) in
                RecentReply(id: try reader.readString(), texts: try reader.readStrings())
            }
        } else {
            let ids = try reader.readStrings()
            self.recentMessageTimes = try reader.readArray { reader throws(CompactDecodingError) in try reader.readDate() }
            var replies: [String: [String]] = [:]
            for _ in 0..<(try reader.readCount()) {
                let id = try reader.readString()
                replies[id] = try reader.readStrings()
            }
            self.adoptLegacy(ids: ids, replies: replies)
        }
        self.pendingConfirmation = try reader.readOptionalString()
        self.followUp = try reader.readOptional { reader throws(CompactDecodingError) in
            FollowUpProposal(graph: try reader.readString(), due: try reader.readDate(), plan: try reader.readOptionalString(), sign: try reader.readOptionalString())
        }
        self.followUpsOff = try reader.readBool()
        self.address = try reader.readOptional { reader throws(CompactDecodingError) in
            ReplyAddress(transport: try reader.readString(), room: try reader.readString())
        }
        self.pairing = try reader.readOptional { reader throws(CompactDecodingError) in
            CoachPairing(coach: try reader.readString(), accepted: try reader.readBool(), since: try reader.readDate())
        }
        self.shareDraft = try reader.readOptional { reader throws(CompactDecodingError) in
            ShareDraft(
                id: try reader.readString(), coach: try reader.readString(), graph: try reader.readString(), endedAt: try reader.readDate(),
                parts: try reader.readArray { reader throws(CompactDecodingError) in SharePart(label: try reader.readString(), text: try reader.readString()) },
                stage: try reader.readCase(ShareDraft.Stage.self),
                selected: try reader.readArray { reader throws(CompactDecodingError) in try reader.readInt() }
            )
        }
        self.shared = try reader.readArray { reader throws(CompactDecodingError) in
            SharedSummary(id: try reader.readString(), coach: try reader.readString(), sentAt: try reader.readDate(), text: try reader.readString(), withdrawn: try reader.readBool())
        }
        self.pairingRequests = try reader.readArray { reader throws(CompactDecodingError) in
            PairingRequest(coachee: try reader.readString(), announced: try reader.readBool())
        }
        self.coachees = try reader.readStrings()
        self.received = try reader.readArray { reader throws(CompactDecodingError) in
            ReceivedSummary(
                id: try reader.readString(), from: try reader.readString(), sentAt: try reader.readDate(), text: try reader.readString(),
                withdrawn: try reader.readBool(), delivered: try reader.readBool()
            )
        }
        self.invitedBy = try reader.readStrings()
    }
}

extension CompactWriter {
    mutating func write(_ state: DialogueState) {
        let position: (inout CompactWriter, DialogueState.Position) -> Void = { writer, position in
            writer.write(position.graph)
            writer.write(position.node)
        }
        self.write(state.language)
        self.write(state.stack, position)
        self.write(state.answers)
        self.write(state.answerOrder)
        self.write(state.unquotable.sorted())
        self.write(state.counters.keys.sorted()) { writer, name in
            writer.write(name)
            writer.write(state.counters[name]!)
        }
        self.write(state.facts)
        self.write(state.history) { writer, stack in writer.write(stack, position) }
        self.write(state.status.rawValue)
        self.write(state.updatedAt)
    }
}

extension DialogueState {
    fileprivate init(from reader: inout CompactReader) throws(CompactDecodingError) {
        let position = { (reader: inout CompactReader) throws(CompactDecodingError) -> Position in
            Position(graph: try reader.readString(), node: try reader.readString())
        }
        let language = try reader.readString()
        let stack = try reader.readArray(position)
        self.init(language: language, stack: stack, updatedAt: Date(timeIntervalSinceReferenceDate: 0))
        self.answers = try reader.readDictionary()
        self.answerOrder = try reader.readStrings()
        self.unquotable = Set(try reader.readStrings())
        for _ in 0..<(try reader.readCount()) {
            let name = try reader.readString()
            self.counters[name] = try reader.readInt()
        }
        self.facts = try reader.readDictionary()
        self.history = try reader.readArray { reader throws(CompactDecodingError) in try reader.readArray(position) }
        self.status = try reader.readCase(Status.self)
        self.updatedAt = try reader.readDate()
    }
}
