import Foundation
import SpiegelSchedule
import Synchronization
import Yams

/// The teams, from the file `teams_file` names (YAML). Every team has a room in one chat; its
/// members and coaches are user ids as that chat names them.
///
/// ```yaml
/// teams:
///   - id: tweede-graad
///     name: Tweede graad
///     transport: matrix              # matrix, plain or mattermost
///     room: "!team:school.example"
///     members: ["@an:school.example", "@bram:school.example"]
///     coaches: ["@els:school.example"]
///     time_zone: Europe/Brussels     # the default
///     holidays: ["2025-02-24..2025-02-28", "2025-05-01"]
///     intervision: { after_days: 7, at: "08:00" }
///     lesson_reminders: false        # in the team room, the school day before each observed lesson
///     reminders:
///       - name: stuurgroep
///         rule: "monthly first-tue 16:00"
///         text: "Stuurgroep vandaag om 16 uur: wie brengt wat mee?"
/// ```
struct TeamsFile: Decodable, Sendable, Equatable {
    struct Team: Decodable, Sendable, Equatable {
        var id: String
        var name: String?
        var transport: String
        var room: String
        var members: [String]
        var coaches: [String] = []
        var timeZone: String = "Europe/Brussels"
        var holidays: [String] = []
        var intervision = Intervision()
        var lessonReminders = false
        var reminders: [Reminder] = []

        struct Intervision: Decodable, Sendable, Equatable {
            var afterDays = 7
            var at = "08:00"

            enum CodingKeys: String, CodingKey {
                case afterDays = "after_days"
                case at
            }

            init() {}

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                self.afterDays = try container.decodeIfPresent(Int.self, forKey: .afterDays) ?? 7
                self.at = try container.decodeIfPresent(String.self, forKey: .at) ?? "08:00"
            }
        }

        struct Reminder: Decodable, Sendable, Equatable {
            var name: String
            var rule: String
            var text: String
        }

        enum CodingKeys: String, CodingKey {
            case id, name, transport, room, members, coaches, holidays, intervision, reminders
            case timeZone = "time_zone"
            case lessonReminders = "lesson_reminders"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.id = try container.decode(String.self, forKey: .id)
            self.name = try container.decodeIfPresent(String.self, forKey: .name)
            self.transport = try container.decode(String.self, forKey: .transport)
            self.room = try container.decode(String.self, forKey: .room)
            self.members = try container.decode([String].self, forKey: .members)
            self.coaches = try container.decodeIfPresent([String].self, forKey: .coaches) ?? []
            self.timeZone = try container.decodeIfPresent(String.self, forKey: .timeZone) ?? "Europe/Brussels"
            self.holidays = try container.decodeIfPresent([String].self, forKey: .holidays) ?? []
            self.intervision = try container.decodeIfPresent(Intervision.self, forKey: .intervision) ?? Intervision()
            self.lessonReminders = try container.decodeIfPresent(Bool.self, forKey: .lessonReminders) ?? false
            self.reminders = try container.decodeIfPresent([Reminder].self, forKey: .reminders) ?? []
        }

        /// Everyone of the team: its members and coaches.
        var everyone: [String] { self.members + self.coaches.filter { !self.members.contains($0) } }

        /// The member a round command names with `@name`: the member with that id, or on IRC the
        /// member whose account or nick it is (`irc:account:name`, `irc:nick:name`).
        func member(named mention: String) -> String? {
            if self.members.contains(mention) { return mention }
            let name = mention.dropFirst()
            return self.members.first { member in
                member.hasPrefix("irc:") && member.split(separator: ":", maxSplits: 2).last.map { $0.lowercased() == name.lowercased() } == true
            }
        }
    }

    /// Team members as people read them in chat: an IRC id as `@name`, any other as it is.
    static func display(_ members: [String]) -> [String] {
        members.map { member in
            guard member.hasPrefix("irc:"), let name = member.split(separator: ":", maxSplits: 2).last else { return member }
            return "@" + name
        }
    }

    var teams: [Team]

    /// Reads and checks the file.
    /// - Throws: ``SpiegelServerError`` naming the file and what is wrong.
    static func load(path: String) throws -> TeamsFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpiegelServerError(message: "the teams file \(path) cannot be read")
        }
        let file: TeamsFile
        do {
            file = try YAMLDecoder().decode(TeamsFile.self, from: text)
        } catch let error as DecodingError {
            throw SpiegelServerError(message: "the teams file \(path): \(Self.describe(error))")
        } catch {
            throw SpiegelServerError(message: "the teams file \(path) is not valid YAML")
        }
        var ids = Set<String>()
        for team in file.teams {
            guard ids.insert(team.id).inserted else { throw SpiegelServerError(message: "the teams file \(path): team \(team.id) is listed twice") }
            guard ["matrix", "plain", "mattermost", "irc"].contains(team.transport) else {
                throw SpiegelServerError(message: "the teams file \(path): team \(team.id): transport must be matrix, plain, mattermost or irc")
            }
            guard TimeZone(identifier: team.timeZone) != nil else {
                throw SpiegelServerError(message: "the teams file \(path): team \(team.id): \(team.timeZone) is not an IANA time zone")
            }
            guard !team.members.isEmpty else { throw SpiegelServerError(message: "the teams file \(path): team \(team.id) has no members") }
            guard LocalTime(parsing: team.intervision.at) != nil, (1...60).contains(team.intervision.afterDays) else {
                throw SpiegelServerError(message: "the teams file \(path): team \(team.id): intervision takes after_days from 1 to 60 and at as HH:MM")
            }
            do {
                _ = try Holidays(parsing: team.holidays)
                for reminder in team.reminders { _ = try RecurrenceRule(parsing: reminder.rule) }
            } catch {
                throw SpiegelServerError(message: "the teams file \(path): team \(team.id): \(error)")
            }
        }
        return file
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\((context.codingPath + [key]).map(\.stringValue).joined(separator: ".")) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) is not what was expected"
        @unknown default:
            return "not what was expected"
        }
    }
}

/// The teams in effect, shared by the desk and the reminder service; a reload replaces them.
final class TeamsInEffect: Sendable {
    private let state: Mutex<[TeamsFile.Team]>

    init(_ teams: [TeamsFile.Team]) {
        self.state = Mutex(teams)
    }

    var teams: [TeamsFile.Team] { self.state.withLock { $0 } }

    /// Takes `teams` unless their rooms differ: a room that becomes a team room (or stops being
    /// one) changes what the transports may send where, which only a restart sets up.
    /// - Returns: why the new teams were refused, or `nil` when they are in effect.
    func replace(with teams: [TeamsFile.Team]) -> String? {
        self.state.withLock { current in
            let rooms = { (teams: [TeamsFile.Team]) in Set(teams.map { $0.transport + " " + $0.room }) }
            guard rooms(current) == rooms(teams) else { return "the teams' rooms changed: restart Spiegel for that" }
            current = teams
            return nil
        }
    }
}
