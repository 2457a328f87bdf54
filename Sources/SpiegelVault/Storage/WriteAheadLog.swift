/// The shared write-ahead log: every acknowledged record is in it, synced, until a checkpoint has
/// synced the coachees' journals. One sync covers every record of a batch, whoever wrote it.
///
/// An entry is `[u32 length][32-byte pseudonym][u64 sequence][frame]`, the length counting what
/// follows it. The sequence's top bit marks a system journal (data format 2; a sequence never
/// comes near 2^62). Its next bit marks a new journal's key: the frame is then
/// `[u32 length][wrapped data key]`, and the journal's files are made at the next checkpoint, so
/// a coachee's first message costs the log's sync alone. Otherwise the frame is a journal frame,
/// sealed, so the log holds no plaintext either.
enum WriteAheadLog {
    struct Entry {
        enum Kind: Equatable {
            case record
            /// A new journal's wrapped data key, before the journal's first records.
            case key
        }

        var pseudonym: Pseudonym
        var kind = Kind.record
        var sequence: UInt64
        var frame: [UInt8]

        /// A new journal's key entry.
        static func key(_ wrapped: [UInt8], of pseudonym: Pseudonym) -> Entry {
            Entry(pseudonym: pseudonym, kind: .key, sequence: 0, frame: JournalFormat.bytes(of: UInt32(wrapped.count)) + wrapped)
        }

        /// The wrapped data key of a key entry.
        var wrappedKey: [UInt8] { Array(self.frame.dropFirst(4)) }
    }

    /// Where a key entry's wrapped key starts, from the start of the entry: what erasing a journal
    /// whose files are not made yet overwrites.
    static let wrappedKeyOffset = 4 + 32 + 8 + 4

    private static let systemBit: UInt64 = 1 << 63
    private static let keyBit: UInt64 = 1 << 62

    static func encode(_ entry: Entry, into buffer: inout [UInt8]) {
        var sequence = entry.sequence
        if entry.pseudonym.namespace == .system { sequence |= Self.systemBit }
        if entry.kind == .key { sequence |= Self.keyBit }
        buffer += JournalFormat.bytes(of: UInt32(32 + 8 + entry.frame.count))
        buffer += entry.pseudonym.bytes
        buffer += JournalFormat.bytes(of: sequence)
        buffer += entry.frame
    }

    /// The whole entries of `bytes` with where each starts; reading stops at the first that is cut
    /// short or malformed (a batch that was being written when the process died, never
    /// acknowledged).
    static func decode(_ bytes: [UInt8]) -> [(offset: Int, entry: Entry)] {
        var entries: [(Int, Entry)] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(JournalFormat.readUInt32(bytes, at: offset))
            guard length >= 32 + 8 + 4, offset + 4 + length <= bytes.count else { break }
            let start = offset + 4
            let frame = Array(bytes[(start + 40)..<(start + length)])
            guard Int(JournalFormat.readUInt32(frame, at: 0)) == frame.count - 4 else { break }
            let sequence = JournalFormat.readUInt64(bytes, at: start + 32)
            let kind: Entry.Kind = sequence & Self.keyBit != 0 ? .key : .record
            guard kind == .key || frame.count >= JournalFormat.frameOverhead else { break }
            entries.append((offset, Entry(
                pseudonym: Pseudonym(bytes: Array(bytes[start..<(start + 32)]), namespace: sequence & Self.systemBit != 0 ? .system : .coachee),
                kind: kind,
                sequence: sequence & ~(Self.systemBit | Self.keyBit),
                frame: frame
            )))
            offset = start + length
        }
        return entries
    }
}
