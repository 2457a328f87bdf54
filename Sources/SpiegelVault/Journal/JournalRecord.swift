public import Foundation

/// What a journal record holds; bound to the record as associated data.
public enum RecordType: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// A message the coachee sent.
    case messageIn = 1
    /// A message the bot sent.
    case messageOut = 2
    /// A snapshot of the conversation state; reading starts from the latest.
    case snapshot = 3
    /// A consent decision (what was shown, approved, shared, withdrawn).
    case consent = 4
    /// An outgoing message queued for delivery.
    case outboxQueued = 5
    /// An outgoing message delivered.
    case outboxDelivered = 6

    public var description: String {
        switch self {
        case .messageIn: "message in"
        case .messageOut: "message out"
        case .snapshot: "snapshot"
        case .consent: "consent"
        case .outboxQueued: "queued"
        case .outboxDelivered: "delivered"
        }
    }
}

/// One record of a coachee's journal, as read back.
public struct JournalRecord: Sendable, Equatable {
    /// The record's place in the journal, from 0.
    public var sequence: UInt64
    public var type: RecordType
    /// When it was written, to the millisecond.
    public var time: Date
    /// What the record holds; its meaning is the caller's.
    public var payload: [UInt8]

    public init(sequence: UInt64, type: RecordType, time: Date, payload: [UInt8]) {
        self.sequence = sequence
        self.type = type
        self.time = time
        self.payload = payload
    }
}

/// A record to append.
public struct NewRecord: Sendable {
    public var type: RecordType
    public var payload: [UInt8]
    public var time: Date

    public init(_ type: RecordType, _ payload: [UInt8], time: Date = Date()) {
        self.type = type
        self.payload = payload
        self.time = time
    }
}
