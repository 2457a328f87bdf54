/// The shared write-ahead log: every acknowledged record is in it, synced, until a checkpoint has
/// synced the coachees' journals. One sync covers every record of a batch, whoever wrote it.
///
/// An entry is `[u32 length][32-byte pseudonym][u64 sequence][journal frame]`, the length
/// counting what follows it. The sequence's top bit marks a system journal (data format 2; a
/// sequence never comes near 2^63). The frame is sealed, so the log holds no plaintext either.
enum WriteAheadLog {
    struct Entry {
        var pseudonym: Pseudonym
        var sequence: UInt64
        var frame: [UInt8]
    }

    private static let systemBit: UInt64 = 1 << 63

    static func encode(_ entry: Entry, into buffer: inout [UInt8]) {
        buffer += JournalFormat.bytes(of: UInt32(32 + 8 + entry.frame.count))
        buffer += entry.pseudonym.bytes
        buffer += JournalFormat.bytes(of: entry.sequence | (entry.pseudonym.namespace == .system ? Self.systemBit : 0))
        buffer += entry.frame
    }

    /// The whole entries of `bytes`; reading stops at the first that is cut short or malformed
    /// (a batch that was being written when the process died, never acknowledged).
    static func decode(_ bytes: [UInt8]) -> [Entry] {
        var entries: [Entry] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(JournalFormat.readUInt32(bytes, at: offset))
            guard length >= 32 + 8 + JournalFormat.frameOverhead, offset + 4 + length <= bytes.count else { break }
            let start = offset + 4
            let frame = Array(bytes[(start + 40)..<(start + length)])
            guard frame.count >= 4, Int(JournalFormat.readUInt32(frame, at: 0)) == frame.count - 4 else { break }
            let sequence = JournalFormat.readUInt64(bytes, at: start + 32)
            entries.append(Entry(
                pseudonym: Pseudonym(bytes: Array(bytes[start..<(start + 32)]), namespace: sequence & Self.systemBit != 0 ? .system : .coachee),
                sequence: sequence & ~Self.systemBit,
                frame: frame
            ))
            offset = start + length
        }
        return entries
    }
}
