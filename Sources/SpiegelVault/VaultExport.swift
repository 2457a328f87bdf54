public import Foundation

/// A coachee's own data, readable: Markdown for people, JSON for programs.
public enum VaultExport {
    /// The records as Markdown, grouped by day, each with its time and kind.
    ///
    /// - Parameter readable: the text of a record whose payload is not text for people (a binary
    ///   snapshot of the service's state); `nil` leaves the payload as it is.
    public static func markdown(
        _ records: [JournalRecord], pseudonym: Pseudonym, exportedAt: Date, readable: (JournalRecord) -> String? = { _ in nil }
    ) -> String {
        var lines = [
            "# Jouw gegevens in Spiegel / Your data in Spiegel", "",
            "Exported: \(self.iso8601(exportedAt)) · pseudonym \(pseudonym.hex) · \(records.count) records", "",
        ]
        var day = ""
        for record in records {
            let stamp = self.iso8601(record.time)
            let recordDay = String(stamp.prefix(10))
            if recordDay != day {
                day = recordDay
                lines += ["## \(day)", ""]
            }
            let text = (readable(record) ?? self.text(of: record)).replacingOccurrences(of: "\n", with: "\n  ")
            lines.append("- \(stamp.dropFirst(11).prefix(5)) · \(record.type) · \(text)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The records as JSON: `{"pseudonym", "exported_at", "records": [{"sequence", "type", "time", "text"}]}`.
    public static func json(
        _ records: [JournalRecord], pseudonym: Pseudonym, exportedAt: Date, readable: (JournalRecord) -> String? = { _ in nil }
    ) throws -> String {
        struct Document: Encodable {
            struct Record: Encodable {
                let sequence: UInt64
                let type: String
                let time: String
                let text: String
            }
            let pseudonym: String
            let exported_at: String
            let records: [Record]
        }
        let document = Document(
            pseudonym: pseudonym.hex, exported_at: self.iso8601(exportedAt),
            records: records.map { .init(sequence: $0.sequence, type: $0.type.description, time: self.iso8601($0.time), text: readable($0) ?? self.text(of: $0)) }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }

    /// A payload as text: UTF-8 as it is, anything else as base64.
    static func text(of record: JournalRecord) -> String {
        String(validating: record.payload, as: UTF8.self) ?? "base64:" + Data(record.payload).base64EncodedString()
    }

    private static func iso8601(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
