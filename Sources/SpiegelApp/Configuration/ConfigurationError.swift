/// A configuration that cannot be used, with where and why.
///
/// The description reads `FILE:LINE:COLUMN: KEY: what is expected`. Values are never echoed: a
/// mistyped key may hold a secret.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What kind of mistake this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case fileNotFound = "file not found"
            case unreadable = "file not readable"
            case syntax = "YAML syntax error"
            case unknownKey = "unknown key"
            case duplicateKey = "duplicate key"
            case invalidValue = "invalid value"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file named with `--config` does not exist.
        public static let fileNotFound = Self(.fileNotFound)
        /// The file exists but cannot be read or is not UTF-8.
        public static let unreadable = Self(.unreadable)
        /// The file is not well-formed YAML.
        public static let syntax = Self(.syntax)
        /// A key Spiegel does not know (a typo is an error, not silently ignored).
        public static let unknownKey = Self(.unknownKey)
        /// A key given twice in one mapping.
        public static let duplicateKey = Self(.duplicateKey)
        /// A value of the wrong kind or out of range.
        public static let invalidValue = Self(.invalidValue)

        public var description: String { self.value.rawValue }
    }

    /// What kind of mistake this is.
    public let code: Code
    /// The file, or `environment variable SPIEGEL_…`, or the command-line option.
    public let source: String
    /// Where in the file, counted from 1.
    public let line: Int?
    /// Where in the line, counted from 1.
    public let column: Int?
    /// The dotted key, such as `server.port`.
    public let key: String?
    /// What is wrong and what is expected.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, source: String, line: Int? = nil, column: Int? = nil, key: String? = nil, message: String) {
        self.code = code
        self.source = source
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var place = self.source
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        if let key { place += ": \(key)" }
        return "\(place): \(self.message)"
    }
}
