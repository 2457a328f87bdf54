import Foundation
@testable import SpiegelApp
import SpiegelSchedule
import Testing

/// The teams file: the example in deploy/ loads, and every mistake is named with its team.
@Suite struct TeamsFileTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/teams.example.yaml").standardizedFileURL.path

    @Test func theExampleLoads() throws {
        let file = try TeamsFile.load(path: Self.example)
        let team = try #require(file.teams.first)
        #expect(team.id == "tweede-graad" && team.transport == "matrix" && team.members.count == 4)
        #expect(team.intervision.afterDays == 7 && team.intervision.at == "08:00")
        #expect(team.reminders.map(\.name) == ["stuurgroep", "reflecteren"])
        let schedule = TeamReminderService.schedule(of: team)
        #expect(schedule.recurring.count == 2 && !schedule.holidays.isEmpty)
    }

    @Test(arguments: [
        ("transport: xmpp", "transport must be matrix, plain, mattermost or irc"),
        ("time_zone: Mars/Olympus", "is not an IANA time zone"),
        ("holidays: [\"2025-13-01\"]", "team t:"),
        ("reminders: [{name: x, rule: \"daily 08:00\", text: y}]", "team t:"),
        ("intervision: { after_days: 0 }", "after_days from 1 to 60"),
    ])
    func mistakesAreNamed(line: String, says: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-teams-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let transport = line.hasPrefix("transport") ? "" : "    transport: plain\n"
        try "teams:\n  - id: t\n    room: \"!r\"\n    members: [\"@a\"]\n\(transport)    \(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try TeamsFile.load(path: path)
        } throws: { error in
            "\(error)".contains(says)
        }
    }

    @Test func aMissingFieldIsNamed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-teams-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "teams:\n  - id: t\n    transport: plain\n    members: [\"@a\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try TeamsFile.load(path: path)
        } throws: { error in
            "\(error)".contains("room is missing")
        }
    }
}
