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

/// One of Spiegel's own journals (system state: the team rounds, the reminder book, the Matrix
/// connection, an outbox), kept apart from the coachees: retention, export and a coachee's
/// erasure never touch it.
public struct SystemJournalID: Hashable, Sendable, CustomStringConvertible {
    /// Short and stable, such as `teams` or `outbox.matrix`.
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { "system journal \(self.name)" }
}

/// A journal's name in the vault: HMAC-SHA256 of the chat user id (or the system journal's name)
/// under the vault's naming key. Directory names and logs use it; it reveals neither the id nor
/// anything about it.
public struct Pseudonym: Hashable, Sendable, CustomStringConvertible {
    /// Where a journal lives: `coachees/` or `system/`.
    public enum Namespace: UInt8, Sendable {
        case coachee, system
    }

    /// The 32 bytes of the HMAC.
    let bytes: [UInt8]
    let namespace: Namespace

    public static func == (lhs: Pseudonym, rhs: Pseudonym) -> Bool { lhs.bytes == rhs.bytes && lhs.namespace == rhs.namespace }

    /// The first eight bytes suffice: they are uniformly random already.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    init(bytes: [UInt8], namespace: Namespace = .coachee) {
        self.bytes = bytes
        self.namespace = namespace
    }

    init(_ coachee: CoacheeID, namingKey: SymmetricKey) {
        self.bytes = HMAC<SHA256>.authenticationCode(for: Array(coachee.rawValue.utf8), using: namingKey).withUnsafeBytes { Array($0) }
        self.namespace = .coachee
    }

    init(_ system: SystemJournalID, namingKey: SymmetricKey) {
        // A prefix no chat user id has, so the two namespaces never share a name.
        self.bytes = HMAC<SHA256>.authenticationCode(for: Array(("\u{0}system\u{0}" + system.name).utf8), using: namingKey).withUnsafeBytes { Array($0) }
        self.namespace = .system
    }

    /// The directory name: 64 hex digits.
    public var hex: String {
        Hex.string(self.bytes)
    }

    /// Reads a directory name back.
    init?(hex: String, namespace: Namespace = .coachee) {
        self.namespace = namespace
        guard hex.utf8.count == 64, let bytes = Hex.bytes(hex) else { return nil }
        self.bytes = bytes
    }

    /// The first 12 hex digits: enough to tell coachees apart in a log (`system/` before a
    /// system journal's).
    public var description: String { (self.namespace == .system ? "system/" : "") + String(self.hex.prefix(12)) }

    /// How the erased list names it: the hex, after `system/` for a system journal.
    var erasedListName: String { (self.namespace == .system ? "system/" : "") + self.hex }

    /// Reads a name of the erased list back.
    init?(erasedListName name: String) {
        if name.hasPrefix("system/") {
            self.init(hex: String(name.dropFirst("system/".count)), namespace: .system)
        } else {
            self.init(hex: name, namespace: .coachee)
        }
    }
}
