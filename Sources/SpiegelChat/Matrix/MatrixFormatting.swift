import Foundation

/// Turns Spiegel's plain text into Matrix HTML (`org.matrix.custom.html`) where that helps: lines
/// starting with `- `, `– ` or `• ` become a bulleted list, lines starting with `1. ` a numbered
/// list, and `**words**` bold. Everything else is escaped; the plain `body` always goes along.
public enum MatrixFormatting {
    /// The HTML for `text`, or `nil` when it has no list and no bold (plain text says it all).
    public static func html(for text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let hasStructure = text.contains("**") || lines.contains { Self.bullet($0) != nil || Self.numbered($0) != nil }
        guard hasStructure else { return nil }
        var html = ""
        var openList: String?
        var pendingBreak = false
        for line in lines {
            let number = Self.numbered(line)
            let item: (tag: String, text: String)? = Self.bullet(line).map { ("ul", $0) } ?? number.map { ("ol", $0.text) }
            if let item {
                if openList != item.tag {
                    if let openList { html += "</\(openList)>" }
                    let start = number.map(\.value) ?? 1
                    html += start == 1 || item.tag == "ul" ? "<\(item.tag)>" : "<ol start=\"\(start)\">"
                    openList = item.tag
                }
                html += "<li>" + Self.inline(item.text) + "</li>"
                pendingBreak = false
            } else {
                if let list = openList {
                    html += "</\(list)>"
                    openList = nil
                } else if pendingBreak {
                    html += "<br>"
                }
                html += Self.inline(line)
                pendingBreak = true
            }
        }
        if let openList { html += "</\(openList)>" }
        return html
    }

    private static func bullet(_ line: String) -> String? {
        for marker in ["- ", "– ", "• "] where line.hasPrefix(marker) {
            return String(line.dropFirst(marker.count))
        }
        return nil
    }

    private static func numbered(_ line: String) -> (value: Int, text: String)? {
        let digits = line.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 3, line.dropFirst(digits.count).hasPrefix(". "), let value = Int(digits) else { return nil }
        return (value, String(line.dropFirst(digits.count + 2)))
    }

    /// Escapes the text and turns `**words**` into `<strong>words</strong>`.
    private static func inline(_ text: String) -> String {
        let parts = Self.escape(text).components(separatedBy: "**")
        guard parts.count >= 3 else { return Self.escape(text) }
        var result = ""
        for (index, part) in parts.enumerated() {
            if index == 0 {
                result += part
            } else if index % 2 == 1, index < parts.count - 1 || parts.count % 2 == 1 {
                result += "<strong>" + part
            } else if index % 2 == 0 {
                result += "</strong>" + part
            } else {
                // An unpaired `**` at the end stays as written.
                result += "**" + part
            }
        }
        return result
    }

    private static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
