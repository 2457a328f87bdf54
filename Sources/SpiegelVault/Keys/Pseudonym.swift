import Crypto

/// A chat user id as the vault stores it: never on disk, never in a log.
public struct CoacheeID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// Redacted: log the ``Pseudonym`` instead.
    public var description: String { "CoacheeID(redacted)" }
}

/// A coachee's name in the vault: HMAC-SHA256 of the chat user id under the vault's naming key.
/// Directory names and logs use it; it reveals neither the id nor anything about it.
public struct Pseudonym: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes of the HMAC.
    let bytes: [UInt8]

    public static func == (lhs: Pseudonym, rhs: Pseudonym) -> Bool { lhs.bytes == rhs.bytes }

    /// The first eight bytes suffice: they are uniformly random already.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    init(_ coachee: CoacheeID, namingKey: SymmetricKey) {
        self.bytes = Array(HMAC<SHA256>.authenticationCode(for: Array(coachee.rawValue.utf8), using: namingKey))
    }

    /// The directory name: 64 hex digits.
    public var hex: String {
        self.bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Reads a directory name back.
    init?(hex: String) {
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.bytes = bytes
    }

    /// The first 12 hex digits: enough to tell coachees apart in a log.
    public var description: String { String(self.hex.prefix(12)) }
}
