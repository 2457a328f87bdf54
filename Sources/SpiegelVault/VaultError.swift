/// Why the vault could not do what was asked.
///
/// Messages name coachees only by their pseudonym, never by chat user id, and never contain a
/// record's content. Every cryptographic failure is one code: the cause (a wrong key, a forged or
/// damaged record) is not told apart, as swift-crypto does.
public struct VaultError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case keyFile = "key file"
            case keyMismatch = "wrong key"
            case authenticationFailure = "authentication failure"
            case corruptJournal = "corrupt journal"
            case io = "I/O error"
            case newerFormat = "newer format"
            case closed = "vault closed"
            case unknownCoachee = "unknown coachee"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The master key file is missing, open to others, or not a key.
        public static let keyFile = Self(.keyFile)
        /// The master key in use did not wrap this vault's keys.
        public static let keyMismatch = Self(.keyMismatch)
        /// A sealed record or key did not open: forged, moved, reordered or damaged.
        public static let authenticationFailure = Self(.authenticationFailure)
        /// A journal is damaged before its last record (a torn last record is repaired, not reported).
        public static let corruptJournal = Self(.corruptJournal)
        /// The disk refused a read, write or sync.
        public static let io = Self(.io)
        /// The data was written by a newer Spiegel.
        public static let newerFormat = Self(.newerFormat)
        /// The vault was closed, or stopped taking writes after a failed sync.
        public static let closed = Self(.closed)
        /// No journal exists for the coachee.
        public static let unknownCoachee = Self(.unknownCoachee)

        public var description: String { self.value.rawValue }
    }

    public let code: Code
    public let message: String
    /// The `errno` of the system call that failed, for ``Code/io``.
    public let systemError: Int32?

    public init(_ code: Code, _ message: String, systemError: Int32? = nil) {
        self.code = code
        self.message = message
        self.systemError = systemError
    }

    public var description: String { "VaultError(\(self.code)): \(self.message)" }
}
