import Crypto
import Foundation
import Glibc

/// The bytes of a journal: a 4-byte header naming the format, then frames.
///
/// A frame is `[u32 length][u8 type][12-byte nonce][ciphertext][16-byte tag]`, the length
/// counting what follows it. The plaintext is `[u64 milliseconds since 1970][payload]`. The
/// associated data binds the coachee's pseudonym, the record's sequence number and its type, so a
/// record moved to another journal, swapped with a neighbour or dropped from the middle does not
/// open. 41 bytes of overhead per record.
enum JournalFormat {
    static let header = Array("SPJ".utf8) + [1]
    static let version: UInt8 = 1
    static let frameOverhead = 4 + 1 + 12 + 16 + 8

    /// Where each frame starts and how long the file is up to the last whole frame.
    struct Scan {
        var frames: [(offset: Int, length: Int, type: UInt8)] = []
        /// Bytes up to the end of the last whole frame (what a torn tail is cut back to).
        var wholeLength: Int
        /// Whether bytes follow the last whole frame.
        var hasTornTail: Bool
    }

    /// Finds the frames of `bytes` by their lengths alone.
    /// - Throws: when the header names a newer format or is not a journal's.
    static func scan(_ bytes: [UInt8], what: String) throws(VaultError) -> Scan {
        if bytes.count < self.header.count {
            // A crash while the file was created: nothing was acknowledged yet.
            return Scan(wholeLength: 0, hasTornTail: !bytes.isEmpty)
        }
        guard Array(bytes[0..<3]) == Array(self.header[0..<3]) else {
            throw VaultError(.corruptJournal, "\(what) is not a journal")
        }
        guard bytes[3] <= self.version else {
            throw VaultError(.newerFormat, "\(what) was written by a newer Spiegel (journal format \(bytes[3]))")
        }
        var scan = Scan(wholeLength: self.header.count, hasTornTail: false)
        var offset = self.header.count
        while offset + 4 <= bytes.count {
            let length = Int(self.readUInt32(bytes, at: offset))
            guard length >= 1 + 12 + 16 + 8, offset + 4 + length <= bytes.count else { break }
            scan.frames.append((offset, 4 + length, bytes[offset + 4]))
            offset += 4 + length
        }
        scan.wholeLength = offset
        scan.hasTornTail = offset < bytes.count
        return scan
    }

    static func associatedData(pseudonym: Pseudonym, sequence: UInt64, type: UInt8) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(4 + pseudonym.bytes.count + 8 + 1)
        data += "SPJ1".utf8
        data += pseudonym.bytes
        self.append(sequence, to: &data)
        data.append(type)
        return data
    }

    /// The frame of `record`, sealed under `key`.
    static func seal(
        _ record: NewRecord, sequence: UInt64, pseudonym: Pseudonym, key: SymmetricKey, nonce: ChaChaPoly.Nonce = ChaChaPoly.Nonce()
    ) throws(VaultError) -> [UInt8] {
        let milliseconds = UInt64(max(0, (record.time.timeIntervalSince1970 * 1000).rounded()))
        var plaintext: [UInt8] = []
        plaintext.reserveCapacity(8 + record.payload.count)
        self.append(milliseconds, to: &plaintext)
        plaintext += record.payload
        let box: ChaChaPoly.SealedBox
        do {
            box = try ChaChaPoly.seal(plaintext, using: key, nonce: nonce, authenticating: self.associatedData(pseudonym: pseudonym, sequence: sequence, type: record.type.rawValue))
        } catch {
            throw VaultError(.authenticationFailure, "cannot seal a record")
        }
        let combined = box.combined
        var frame: [UInt8] = []
        frame.reserveCapacity(5 + combined.count)
        self.append(UInt32(1 + combined.count), to: &frame)
        frame.append(record.type.rawValue)
        frame += combined
        return frame
    }

    /// Opens the frame at `frame` of `bytes` as record `sequence`.
    static func open(
        _ bytes: [UInt8], frame: (offset: Int, length: Int, type: UInt8), sequence: UInt64, pseudonym: Pseudonym, key: SymmetricKey
    ) throws(VaultError) -> JournalRecord {
        let body = bytes[(frame.offset + 5)..<(frame.offset + frame.length)]
        guard let type = RecordType(rawValue: frame.type) else {
            throw VaultError(.corruptJournal, "record \(sequence) of coachee \(pseudonym) has an unknown type \(frame.type)")
        }
        let plaintext: Data
        do {
            let box = try ChaChaPoly.SealedBox(combined: body)
            plaintext = try ChaChaPoly.open(box, using: key, authenticating: self.associatedData(pseudonym: pseudonym, sequence: sequence, type: frame.type))
        } catch {
            throw VaultError(.authenticationFailure, "record \(sequence) of coachee \(pseudonym) does not open: damaged, moved, reordered or a record before it is missing")
        }
        let bytes = [UInt8](plaintext)
        let milliseconds = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return JournalRecord(
            sequence: sequence, type: type, time: Date(timeIntervalSince1970: Double(milliseconds) / 1000), payload: Array(bytes.dropFirst(8))
        )
    }

    static func bytes<Integer: FixedWidthInteger>(of value: Integer) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// Appends `value`'s bytes, little-endian, to `bytes` (no array of its own on the way).
    static func append<Integer: FixedWidthInteger>(_ value: Integer, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }

    static func readUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
}

/// Random nonces for a batch of records, from the kernel in blocks of 256 bytes (`getentropy`):
/// a call per record (what `ChaChaPoly.Nonce()` does) cost a twentieth of the vault's time with
/// many writers.
struct NonceBatch {
    private var bytes: [UInt8]
    private var offset = 0
    private static let size = 12

    /// Room for `count` nonces.
    init(count: Int) throws(VaultError) {
        self.bytes = [UInt8](repeating: 0, count: count * Self.size)
        var filled = 0
        while filled < self.bytes.count {
            // getentropy gives at most 256 bytes a call.
            let length = min(256, self.bytes.count - filled)
            let result = self.bytes.withUnsafeMutableBytes { buffer in getentropy(buffer.baseAddress! + filled, length) }
            guard result == 0 else { throw VaultError(.io, "the system's random generator failed (errno \(errno))") }
            filled += length
        }
    }

    /// The next nonce; a new random one when the batch is used up.
    mutating func next() -> ChaChaPoly.Nonce {
        guard self.offset + Self.size <= self.bytes.count else { return ChaChaPoly.Nonce() }
        defer { self.offset += Self.size }
        // Twelve bytes are always a valid ChaChaPoly nonce.
        return try! ChaChaPoly.Nonce(data: self.bytes[self.offset..<(self.offset + Self.size)])
    }
}
