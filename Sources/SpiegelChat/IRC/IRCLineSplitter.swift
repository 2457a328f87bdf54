/// Cuts a reply into PRIVMSG texts that every recipient receives whole.
///
/// A server relays `PRIVMSG target :text` as `:nick!user@host PRIVMSG target :text\r\n` and cuts
/// whatever passes `maxLineBytes` (512 with the CRLF, RFC 2812 §2.3). So each piece must leave room
/// for the prefix the server adds (`prefixBytes`), the command and target, and the CRLF. IRCv3
/// message tags are not counted: the message-tags spec gives them their own budget in front of the
/// 512 bytes, so server tags such as `time` or `account` never shorten the text.
///
/// IRC has no line breaks: each line of the text becomes its own message and empty lines are
/// dropped. A line too long is cut after the last word that fits, else between grapheme clusters
/// (never inside a UTF-8 sequence, an emoji with modifiers, or a letter and its combining accent).
/// A list item (`– `, `- `, `• `, `1. `) cut this way goes on indented by two spaces, so it reads as
/// part of the item.
public struct IRCLineSplitter: Sendable {
    /// The longest line a server relays, CRLF included.
    public var maxLineBytes: Int

    public init(maxLineBytes: Int = 512) {
        self.maxLineBytes = maxLineBytes
    }

    /// What a server puts in front of a relayed message, `:source `, for the bot's own
    /// `nick!user@host` as the server reported it (in `RPL_WELCOME`, `RPL_HOSTHIDDEN` or an echo).
    public static func prefixBytes(source: String) -> Int {
        source.utf8.count + 2
    }

    /// `prefixBytes` while the bot's `nick!user@host` is unknown: `:` 63-byte nick `!` 11-byte
    /// user (10 plus the `~` of an ident-less user) `@` 64-byte host (InspIRCd's `maxhost`) and a space.
    public static let unknownPrefixBytes = 1 + 63 + 1 + 11 + 1 + 64 + 1

    /// The texts of the PRIVMSGs that carry `text` to `target`, in order; none is empty or blank.
    ///
    /// Every piece satisfies `prefixBytes + "PRIVMSG \(target) :".utf8.count + piece.utf8.count + 2
    /// <= maxLineBytes`, except when a single grapheme cluster cannot fit (an absurdly long target):
    /// then each piece holds one cluster, so the text still goes out and the loop ends.
    /// NUL (which ends a C string on the server) and U+0001 (which would make the line a CTCP
    /// request) are removed.
    /// - Parameters:
    ///   - text: The reply, possibly several lines.
    ///   - target: The channel or nick the PRIVMSG goes to.
    ///   - prefixBytes: See ``prefixBytes(source:)`` and ``unknownPrefixBytes``.
    public func lines(for text: String, target: String, prefixBytes: Int) -> [String] {
        let budget = maxLineBytes - prefixBytes - "PRIVMSG \(target) :".utf8.count - 2
        var cleaned = String.UnicodeScalarView()
        cleaned.append(contentsOf: text.unicodeScalars.lazy.filter { $0 != "\u{0}" && $0 != "\u{1}" })
        var pieces: [String] = []
        for line in String(cleaned).split(whereSeparator: \.isNewline) {
            let units = Self.units(of: line, fittingIn: budget - Self.indent.utf8.count)
            cut(units, isListItem: Self.isListItem(line), budget: budget, into: &pieces)
        }
        return pieces
    }

    private static let indent = "  "

    /// A cut of `units` that fits `budget`, continuing list items with ``indent``.
    private func cut(_ units: [Unit], isListItem: Bool, budget: Int, into pieces: inout [String]) {
        var start = units.firstIndex { !$0.isWhitespace } ?? units.endIndex
        var isFirst = true
        while start < units.endIndex {
            let indent = isListItem && !isFirst ? Self.indent : ""
            let available = budget - indent.utf8.count
            var end = start
            var used = 0
            while end < units.endIndex, used + units[end].bytes <= available {
                used += units[end].bytes
                end += 1
            }
            if end == start {
                end += 1  // Not even one unit fits: send it alone rather than loop.
            } else if end < units.endIndex, !units[end].isBreak,
                let space = units[(start + 1)..<end].lastIndex(where: \.isBreak) {
                end = space
            }
            var last = end
            while last > start, units[last - 1].isWhitespace { last -= 1 }
            pieces.append(indent + units[start..<last].map(\.text).joined())
            isFirst = false
            start = units[end...].firstIndex { !$0.isWhitespace } ?? units.endIndex
        }
    }

    /// A grapheme cluster, or one Unicode scalar of a cluster longer than `limit` bytes (only
    /// pathological text has such clusters; cutting between their scalars keeps every line whole).
    private struct Unit {
        var text: String
        var bytes: Int
        var isWhitespace: Bool
        /// Where a line may be cut between words.
        var isBreak: Bool { text == " " || text == "\t" }
    }

    private static func units(of line: Substring, fittingIn limit: Int) -> [Unit] {
        var units: [Unit] = []
        for character in line {
            let bytes = character.utf8.count
            let scalars = character.unicodeScalars
            if bytes > limit, scalars.count > 1, scalars.allSatisfy({ UTF8.width($0) <= limit }) {
                units += scalars.map { Unit(text: String($0), bytes: UTF8.width($0), isWhitespace: $0.properties.isWhitespace) }
            } else {
                units.append(Unit(text: String(character), bytes: bytes, isWhitespace: character.isWhitespace))
            }
        }
        return units
    }

    /// `– `, `- `, `• ` or digits and `. `, after leading whitespace.
    private static func isListItem(_ line: Substring) -> Bool {
        let line = line.drop { $0.isWhitespace }
        if line.hasPrefix("– ") || line.hasPrefix("- ") || line.hasPrefix("• ") { return true }
        let digits = line.prefix { $0.isASCII && $0.isNumber }
        return !digits.isEmpty && line.dropFirst(digits.count).hasPrefix(". ")
    }
}
