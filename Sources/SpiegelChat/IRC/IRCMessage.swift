public import Foundation

/// One IRC line (RFC 1459/2812 with IRCv3 message tags), without its CRLF.
public struct IRCMessage: Sendable, Equatable {
    /// IRCv3 tags, unescaped; a tag sent without a value has the empty string.
    public var tags: [String: String]
    /// The prefix without its colon: `nick!user@host` or a server name.
    public var source: String?
    /// Uppercased; numerics stay three digits (`001`).
    public var command: String
    /// The middle parameters, then the trailing one: only the last may hold spaces or be empty.
    public var parameters: [String]

    public init(tags: [String: String] = [:], source: String? = nil, command: String, parameters: [String] = []) {
        self.tags = tags
        self.source = source
        self.command = command.uppercased()
        self.parameters = parameters
    }

    /// The nick of a `nick!user@host` source (the part before `!` or `@`), or the server name.
    public var nick: String? {
        guard let source else { return nil }
        guard let end = source.utf8.firstIndex(where: { $0 == Byte.exclamationMark || $0 == Byte.at }) else { return source }
        return String(source[..<end])
    }

    /// When the server received the message, from the IRCv3 `time` tag (`2026-12-04T10:15:30.123Z`).
    public var time: Date? {
        guard let value = tags["time"] else { return nil }
        return (try? Date(value, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(value, strategy: Date.ISO8601FormatStyle()))
    }

    /// The services account of the sender, from the IRCv3 `account` tag; `nil` when logged out (`*`).
    public var account: String? {
        guard let value = tags["account"], !value.isEmpty, value != "*" else { return nil }
        return value
    }

    /// Whether `target` names a channel: it starts with one of `chanTypes` (the server's `CHANTYPES`).
    public static func isChannel(_ target: String, chanTypes: String = "#&") -> Bool {
        guard let first = target.unicodeScalars.first else { return false }
        return chanTypes.unicodeScalars.contains(first)
    }
}

// MARK: - Parsing

extension IRCMessage {
    /// Parses one line; a trailing CR/LF and runs of spaces between parts are tolerated.
    ///
    /// Returns `nil` for an empty line, one without a valid command (letters, or three digits),
    /// an empty source, or a NUL, CR or LF inside the line.
    public init?(parsing line: some StringProtocol) {
        var rest = Array(line.utf8)[...]
        while let last = rest.last, last == Byte.carriageReturn || last == Byte.lineFeed { rest.removeLast() }
        guard !rest.contains(where: { $0 == Byte.nul || $0 == Byte.carriageReturn || $0 == Byte.lineFeed }) else { return nil }
        rest = rest.drop { $0 == Byte.space }

        var tags: [String: String] = [:]
        if rest.first == Byte.at {
            let field = rest.dropFirst().prefix { $0 != Byte.space }
            tags = Self.parseTags(field)
            rest = rest[field.endIndex...].drop { $0 == Byte.space }
        }
        var source: String?
        if rest.first == Byte.colon {
            let field = rest.dropFirst().prefix { $0 != Byte.space }
            guard !field.isEmpty else { return nil }
            source = String(decoding: field, as: UTF8.self)
            rest = rest[field.endIndex...].drop { $0 == Byte.space }
        }
        let command = rest.prefix { $0 != Byte.space }
        guard Self.isValidCommand(command) else { return nil }
        rest = rest[command.endIndex...]

        var parameters: [String] = []
        while true {
            rest = rest.drop { $0 == Byte.space }
            guard let first = rest.first else { break }
            if first == Byte.colon {
                parameters.append(String(decoding: rest.dropFirst(), as: UTF8.self))
                break
            }
            let parameter = rest.prefix { $0 != Byte.space }
            parameters.append(String(decoding: parameter, as: UTF8.self))
            rest = rest[parameter.endIndex...]
        }
        self.init(tags: tags, source: source, command: String(decoding: command, as: UTF8.self), parameters: parameters)
    }

    /// `key=value;key2` into a dictionary; empty keys are skipped, a repeated key keeps its last value.
    private static func parseTags(_ field: ArraySlice<UInt8>) -> [String: String] {
        var tags: [String: String] = [:]
        for tag in field.split(separator: Byte.semicolon) {
            let key = tag.prefix { $0 != Byte.equals }
            guard !key.isEmpty else { continue }
            tags[String(decoding: key, as: UTF8.self)] = unescapeTagValue(tag[key.endIndex...].dropFirst())
        }
        return tags
    }

    /// IRCv3 unescaping: `\:` `\s` `\\` `\r` `\n`; another escaped byte stands for itself; a lone
    /// trailing backslash is dropped.
    private static func unescapeTagValue(_ escaped: ArraySlice<UInt8>) -> String {
        var bytes: [UInt8] = []
        var isEscaping = false
        for byte in escaped {
            if isEscaping {
                switch byte {
                case Byte.colon: bytes.append(Byte.semicolon)
                case Byte.lowercaseS: bytes.append(Byte.space)
                case Byte.lowercaseR: bytes.append(Byte.carriageReturn)
                case Byte.lowercaseN: bytes.append(Byte.lineFeed)
                default: bytes.append(byte)
                }
                isEscaping = false
            } else if byte == Byte.backslash {
                isEscaping = true
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func isValidCommand(_ bytes: some Collection<UInt8>) -> Bool {
        if bytes.count == 3, bytes.allSatisfy(Byte.digits.contains) { return true }
        return !bytes.isEmpty && bytes.allSatisfy { Byte.uppercase.contains($0) || Byte.lowercase.contains($0) }
    }
}

// MARK: - Serializing

extension IRCMessage {
    /// The line to send, without CRLF; the last parameter gets a `:` when empty, spaced or
    /// starting with `:`.
    ///
    /// - Throws: ``IRCMessageError`` when a part cannot be carried on one line: a CR, LF or NUL
    ///   anywhere, a middle parameter that is empty, spaced or starts with `:`, an invalid command,
    ///   source or tag key. The error names the part, never its text.
    public func serialized() throws(IRCMessageError) -> String {
        var line = ""
        if !tags.isEmpty {
            var fields: [String] = []
            for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
                guard !key.isEmpty, key.utf8.allSatisfy(Self.isTagKeyByte) else { throw IRCMessageError(.invalidTagKey, in: .tags) }
                guard !value.utf8.contains(Byte.nul) else { throw IRCMessageError(.forbiddenCharacter, in: .tags) }
                fields.append(value.isEmpty ? key : key + "=" + Self.escapeTagValue(value))
            }
            line += "@" + fields.joined(separator: ";") + " "
        }
        if let source {
            guard !source.isEmpty, !source.utf8.contains(where: { $0 == Byte.space || Self.isForbidden($0) }) else {
                throw IRCMessageError(.invalidSource, in: .source)
            }
            line += ":" + source + " "
        }
        guard Self.isValidCommand(command.utf8) else { throw IRCMessageError(.invalidCommand, in: .command) }
        line += command

        for (index, parameter) in parameters.enumerated() {
            let bytes = parameter.utf8
            guard !bytes.contains(where: Self.isForbidden) else { throw IRCMessageError(.forbiddenCharacter, in: .parameter(index)) }
            let needsColon = bytes.isEmpty || bytes.contains(Byte.space) || bytes.first == Byte.colon
            if index < parameters.count - 1 {
                guard !needsColon else { throw IRCMessageError(.invalidMiddleParameter, in: .parameter(index)) }
                line += " " + parameter
            } else {
                line += needsColon ? " :" + parameter : " " + parameter
            }
        }
        return line
    }

    private static func escapeTagValue(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case ";": escaped += "\\:"
            case " ": escaped += "\\s"
            case "\\": escaped += "\\\\"
            case "\r": escaped += "\\r"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// IRCv3 key characters: `+`, a vendor host with `/`, then letters, digits and `-`.
    private static func isTagKeyByte(_ byte: UInt8) -> Bool {
        Byte.digits.contains(byte) || Byte.uppercase.contains(byte) || Byte.lowercase.contains(byte)
            || byte == Byte.plus || byte == Byte.minus || byte == Byte.dot || byte == Byte.slash
    }

    private static func isForbidden(_ byte: UInt8) -> Bool {
        byte == Byte.nul || byte == Byte.carriageReturn || byte == Byte.lineFeed
    }
}

// MARK: - Commands a client sends

extension IRCMessage {
    /// `PRIVMSG target :text`; split long or multi-line text with ``IRCLineSplitter`` first.
    public static func privmsg(to target: String, text: String) -> IRCMessage {
        IRCMessage(command: "PRIVMSG", parameters: [target, text])
    }

    /// `NOTICE target :text`, which clients and bots must never answer automatically.
    public static func notice(to target: String, text: String) -> IRCMessage {
        IRCMessage(command: "NOTICE", parameters: [target, text])
    }

    /// `PONG token`, the answer to `PING token`.
    public static func pong(_ token: String) -> IRCMessage {
        IRCMessage(command: "PONG", parameters: [token])
    }

    /// `JOIN channel`.
    public static func join(_ channel: String) -> IRCMessage {
        IRCMessage(command: "JOIN", parameters: [channel])
    }

    /// `NICK nickname`.
    public static func nick(_ nickname: String) -> IRCMessage {
        IRCMessage(command: "NICK", parameters: [nickname])
    }

    /// `USER user 0 * :realName` (RFC 2812, no user modes requested).
    public static func user(_ user: String, realName: String) -> IRCMessage {
        IRCMessage(command: "USER", parameters: [user, "0", "*", realName])
    }

    /// `CAP` with a subcommand and its arguments, e.g. `.cap("REQ", "sasl message-tags")`.
    public static func cap(_ parameters: String...) -> IRCMessage {
        IRCMessage(command: "CAP", parameters: parameters)
    }

    /// `AUTHENTICATE payload`: a SASL mechanism, a base64 chunk of at most 400 bytes, or `+`.
    public static func authenticate(_ payload: String) -> IRCMessage {
        IRCMessage(command: "AUTHENTICATE", parameters: [payload])
    }

    /// `QUIT :reason`, or a bare `QUIT`.
    public static func quit(_ reason: String? = nil) -> IRCMessage {
        IRCMessage(command: "QUIT", parameters: reason.map { [$0] } ?? [])
    }
}

// MARK: - Errors

/// Why an ``IRCMessage`` cannot be serialized: what is wrong and in which part, never the text.
public struct IRCMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable { case forbiddenCharacter, invalidMiddleParameter, invalidCommand, invalidSource, invalidTagKey }
        private let base: Base

        /// A CR, LF or NUL, which would end or corrupt the line.
        public static let forbiddenCharacter = Code(base: .forbiddenCharacter)
        /// A parameter before the last that is empty, holds a space or starts with `:`.
        public static let invalidMiddleParameter = Code(base: .invalidMiddleParameter)
        /// A command that is neither letters nor three digits.
        public static let invalidCommand = Code(base: .invalidCommand)
        /// An empty source, or one holding a space.
        public static let invalidSource = Code(base: .invalidSource)
        /// A tag key that is empty or holds more than letters, digits, `-`, `.`, `/` and `+`.
        public static let invalidTagKey = Code(base: .invalidTagKey)

        public var description: String {
            switch base {
            case .forbiddenCharacter: "holds a line break or NUL"
            case .invalidMiddleParameter: "is not the last parameter yet is empty, holds a space or starts with ':'"
            case .invalidCommand: "is neither letters nor three digits"
            case .invalidSource: "is empty or holds a space"
            case .invalidTagKey: "has a key that is empty or holds characters other than letters, digits, '-', '.', '/' and '+'"
            }
        }
    }

    /// The part of the message at fault.
    public enum Part: Sendable, Hashable, CustomStringConvertible {
        case tags, source, command
        /// The parameter at this index, from zero.
        case parameter(Int)

        public var description: String {
            switch self {
            case .tags: "a tag"
            case .source: "the source"
            case .command: "the command"
            case .parameter(let index): "parameter \(index)"
            }
        }
    }

    public var code: Code
    public var part: Part

    public init(_ code: Code, in part: Part) {
        self.code = code
        self.part = part
    }

    /// E.g. `IRC message: parameter 1 holds a line break or NUL`.
    public var description: String { "IRC message: \(part) \(code)" }
}

/// The ASCII bytes the grammar is made of.
private enum Byte {
    static let nul: UInt8 = 0x00
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let exclamationMark: UInt8 = 0x21
    static let plus: UInt8 = 0x2B
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let digits: ClosedRange<UInt8> = 0x30...0x39
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let at: UInt8 = 0x40
    static let uppercase: ClosedRange<UInt8> = 0x41...0x5A
    static let backslash: UInt8 = 0x5C
    static let lowercase: ClosedRange<UInt8> = 0x61...0x7A
    static let lowercaseN: UInt8 = 0x6E
    static let lowercaseR: UInt8 = 0x72
    static let lowercaseS: UInt8 = 0x73
}
