/// A Prompts file that cannot be read as a dialogue graph, with where and what is expected.
///
/// The description reads `FILE:LINE:COLUMN: what is wrong; what is expected`.
public struct DialogueLoadError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of mistake this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case unreadable = "file not readable"
            case syntax = "YAML syntax error"
            case unknownKey = "unknown key"
            case missingKey = "missing key"
            case invalidValue = "invalid value"
            case duplicate = "duplicate"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file cannot be read or is not UTF-8.
        public static let unreadable = Self(.unreadable)
        /// The file is not well-formed YAML.
        public static let syntax = Self(.syntax)
        /// A key the format does not have (a typo is an error, not silently ignored).
        public static let unknownKey = Self(.unknownKey)
        /// A key the format needs is not there.
        public static let missingKey = Self(.missingKey)
        /// A value of the wrong kind.
        public static let invalidValue = Self(.invalidValue)
        /// A key or graph id given twice.
        public static let duplicate = Self(.duplicate)

        public var description: String { self.value.rawValue }
    }

    public let code: Code
    public let location: SourceLocation
    public let message: String

    public init(_ code: Code, at location: SourceLocation, _ message: String) {
        self.code = code
        self.location = location
        self.message = message
    }

    public var description: String { "\(self.location): \(self.message)" }
}

/// Every error found while loading a Prompts directory.
public struct DialogueLoadFailure: Error, Sendable, CustomStringConvertible {
    public let errors: [DialogueLoadError]

    public var description: String { self.errors.map(\.description).joined(separator: "\n") }
}
