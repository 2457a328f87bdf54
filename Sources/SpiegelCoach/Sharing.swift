import Foundation
import SpiegelDialogue

/// Who coaches whom, as one coachee's snapshot keeps it.
struct CoachPairing: Codable, Sendable, Equatable {
    /// The coach's user id.
    var coach: String
    /// Only an accepted pairing lets anything be shared.
    var accepted: Bool
    var since: Date
}

/// One part of a summary, in the coachee's own words: a numbered line they can share or keep.
struct SharePart: Codable, Sendable, Equatable {
    var label: String
    var text: String
}

/// A summary the coachee is deciding about.
struct ShareDraft: Codable, Sendable, Equatable {
    enum Stage: String, Codable, Sendable {
        /// Asked whether to add a question for the coach.
        case question
        /// Asked what to share.
        case choose
        /// Shown the exact text, asked to confirm.
        case confirm
    }

    var id: String
    var coach: String
    var graph: String
    var endedAt: Date
    var parts: [SharePart]
    var stage: Stage
    /// The parts chosen (indexes into ``parts``), at ``Stage/confirm``.
    var selected: [Int] = []
}

/// A summary delivered to a coach, as the coach's own snapshot keeps it (for "overzicht").
struct ReceivedSummary: Codable, Sendable, Equatable {
    var id: String
    var from: String
    var sentAt: Date
    /// The exact text delivered; emptied when the coachee withdraws it.
    var text: String
    var withdrawn = false
    /// Whether it reached the coach's chat (a coach who never wrote gets it on their next message).
    var delivered = false
}

/// A consent decision, journalled in the coachee's vault (record type `consent`) with the exact
/// text concerned: what was shown, edited, approved, sent, declined or withdrawn.
public struct ConsentRecord: Codable, Sendable, Equatable {
    public enum Event: String, Codable, Sendable {
        case shown, edited, approved, sent, declined, withdrawn
    }

    public var event: Event
    /// The summary it is about.
    public var summary: String
    public var coach: String
    /// The parts or text concerned, exactly as shown or sent.
    public var text: String?
}

/// What one coachee's message asks of another user's session: the service carries it over.
enum CrossEffect: Sendable, Equatable {
    /// A coachee asks `coach` to be their coach.
    case requestPairing(coach: String, coachee: String)
    /// A coach answered a request.
    case answerPairing(coachee: String, coach: String, accepted: Bool)
    /// A coachee ended the pairing.
    case endPairing(coach: String, coachee: String)
    /// An approved summary for the coach.
    case deliverSummary(coach: String, summary: ReceivedSummary)
    /// A summary withdrawn by its coachee.
    case withdrawSummary(coach: String, id: String, coachee: String, sentAt: Date)
    /// A coach invites someone to reflect.
    case invite(user: String, coach: String)

    /// Whose session it goes to.
    var target: String {
        switch self {
        case .requestPairing(let coach, _), .endPairing(let coach, _), .deliverSummary(let coach, _), .withdrawSummary(let coach, _, _, _): coach
        case .answerPairing(let coachee, _, _): coachee
        case .invite(let user, _): user
        }
    }
}

/// A message for someone else than the writer (a coach, a coachee, an invited colleague), to their
/// own direct chat.
public struct Delivery: Sendable, Equatable {
    public var address: ReplyAddress
    public var text: String
    /// The outbox key: the same delivery is sent once.
    public var key: String

    public init(address: ReplyAddress, text: String, key: String) {
        self.address = address
        self.text = text
        self.key = key
    }
}

/// The sharing and pairing commands, in Dutch and English. A user id is written as the chat
/// names it, starting with `@`.
enum SharingCommand: Equatable {
    case coachIs(String)
    case endPairing
    case accept(String)
    case decline(String)
    case invite(String)
    case overview
    case sharedList
    case withdraw(Int?)
    case all
    case nothing
    case numbers([Int])
    case edit(Int, String)
    case no

    init?(_ text: String) {
        // Every message comes here: most are answers whose first word begins no command, let go
        // at once (only that word lowercased); the words are split only when the first could
        // begin a command said in words.
        guard let first = Self.firstWord(of: text)?.lowercased() else { return nil }
        let mayBeWords = Int(first) != nil || Self.firstWordsOfCommands.contains(first)
        guard mayBeWords || Self.firstWordsOfOtherCommands.contains(where: { first.hasPrefix($0) }) else { return nil }
        let trimmed = text.trimmingWhitespace()
        let lower = trimmed.lowercased()
        let words = mayBeWords ? Self.words(of: lower) : []
        let phrase = words.joined(separator: " ")
        func user(after prefixes: [String]) -> String? {
            for prefix in prefixes where lower.hasPrefix(prefix) {
                let rest = trimmed.dropFirst(prefix.count).trimmingWhitespace()
                let id = rest.split(separator: " ").first.map(String.init) ?? ""
                return id.hasPrefix("@") && id.count > 1 ? id.trimmingCharacters(in: CharacterSet(charactersIn: ".,!?")) : nil
            }
            return nil
        }
        if let coach = user(after: ["mijn coach is", "my coach is"]) {
            self = .coachIs(coach)
        } else if ["geen coach meer", "stop met mijn coach", "stop met coach", "no coach", "end coaching", "stop coaching"].contains(phrase) {
            self = .endPairing
        } else if let coachee = user(after: ["aanvaard", "accept"]) {
            self = .accept(coachee)
        } else if let coachee = user(after: ["weiger", "decline"]) {
            self = .decline(coachee)
        } else if let invited = user(after: ["nodig", "invite"]) {
            self = .invite(invited)
        } else if ["overzicht", "overview"].contains(phrase) {
            self = .overview
        } else if ["wat heb ik gedeeld", "what did i share", "what have i shared"].contains(phrase) {
            self = .sharedList
        } else if words.starts(with: ["trek", "in"]) || words.first == "withdraw" {
            let number = words.last.flatMap(Int.init)
            guard words.count == (number == nil ? (words.first == "withdraw" ? 1 : 2) : (words.first == "withdraw" ? 2 : 3)) else { return nil }
            self = .withdraw(number)
        } else if ["alles", "all", "everything"].contains(phrase) {
            self = .all
        } else if ["niets", "nothing", "none", "niks"].contains(phrase) {
            self = .nothing
        } else if ["nee", "no", "neen", "liever niet", "nee dank je", "no thanks"].contains(phrase) {
            self = .no
        } else if let edit = Self.edit(trimmed) {
            self = edit
        } else {
            let numbers = words.filter { $0 != "en" && $0 != "and" }
            let values = numbers.compactMap(Int.init)
            guard !numbers.isEmpty, values.count == numbers.count else { return nil }
            self = .numbers(values)
        }
    }

    /// What does not belong to a word: anything but letters, digits and `@ : . _ -` (a user id
    /// stays one word).
    private static func separatesWords(_ character: Character) -> Bool {
        !character.isLetter && !character.isNumber && character != "@" && character != ":" && character != "." && character != "_" && character != "-"
    }

    /// The words of `text`, each without the full stops after it ("Alles." is "alles"; a user id
    /// keeps the dots inside it).
    private static func words(of text: String) -> [String] {
        text.split(whereSeparator: Self.separatesWords).map(Self.withoutFinalDots).filter { !$0.isEmpty }.map(String.init)
    }

    /// The first of ``words(of:)``, found without splitting the rest.
    private static func firstWord(of text: String) -> Substring? {
        var rest = text[...]
        while let start = rest.firstIndex(where: { !Self.separatesWords($0) }) {
            let end = rest[start...].firstIndex(where: Self.separatesWords) ?? rest.endIndex
            let word = Self.withoutFinalDots(rest[start..<end])
            if !word.isEmpty { return word }
            rest = rest[end...]
        }
        return nil
    }

    private static func withoutFinalDots(_ word: Substring) -> Substring {
        var word = word
        while word.last == "." { word.removeLast() }
        return word
    }

    /// The first words of the commands said in words (a number, or "en 2" and "and 3", start a
    /// choice of numbers too).
    private static let firstWordsOfCommands: Set<String> = [
        "geen", "stop", "no", "end", "overzicht", "overview", "wat", "what", "trek", "withdraw", "alles", "all", "everything",
        "niets", "nothing", "none", "niks", "nee", "neen", "liever", "en", "and",
    ]

    /// How the other commands begin: a user id after these ("mijn coach is @…", "aanvaard @…"),
    /// or an edit ("pas 2 aan: …", "edit 2: …").
    private static let firstWordsOfOtherCommands = ["mijn", "my", "aanvaard", "accept", "weiger", "decline", "nodig", "invite", "pas", "edit"]

    /// "pas 2 aan: …" or "edit 2: …".
    private static func edit(_ text: String) -> SharingCommand? {
        guard let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let head = text[..<colon].lowercased().split(separator: " ").map(String.init)
        let body = text[text.index(after: colon)...].trimmingWhitespace()
        guard !body.isEmpty else { return nil }
        if head.count == 3, head[0] == "pas", head[2] == "aan", let number = Int(head[1]) { return .edit(number, body) }
        if head.count == 2, head[0] == "edit", let number = Int(head[1]) { return .edit(number, body) }
        return nil
    }
}
