public import Foundation
import SpiegelUnderstanding

/// A scripted conversation (a golden transcript), replayed against a library.
///
/// The format, one instruction per line:
/// - `# …` a comment; blank lines are skipped.
/// - `@graph ID`, `@language nl`, `@fact NAME = VALUE`: set-up, before the first exchange.
/// - `< text`: the bot's next line is exactly `text` (a message with several lines is several lines).
/// - `<~ text`: the bot's next line contains `text`.
/// - `> text`: the teacher says `text`; every bot line before it must have been matched.
/// - `! effect`: the last step asked the service for `effect`: `end`, `pause`, `resume`, `export`,
///   `forget`, `share`, `follow-up`, or `store NAME`.
public struct ConversationScript: Sendable {
    enum Instruction: Sendable {
        case botSays(String, contains: Bool)
        case teacherSays(String)
        case effect(String)
    }

    public let file: String
    /// The comment and set-up lines before the first exchange, as written.
    var header: [String] = []
    var graph: String?
    var language = "nl"
    var facts: [String: String] = [:]
    var instructions: [(line: Int, instruction: Instruction)] = []

    /// Parses a script.
    /// - Throws: ``ConversationFailure`` for a line that is no instruction.
    public init(_ text: String, file: String) throws(ConversationFailure) {
        self.file = file
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let number = index + 1
            if self.instructions.isEmpty && (line.hasPrefix("#") || line.hasPrefix("@")) { self.header.append(line) }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@graph ") {
                self.graph = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("@language ") {
                self.language = String(line.dropFirst(10)).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("@fact "), let equals = line.firstIndex(of: "=") {
                let name = line[line.index(line.startIndex, offsetBy: 6)..<equals].trimmingCharacters(in: .whitespaces)
                self.facts[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("<~") {
                self.instructions.append((number, .botSays(String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces), contains: true)))
            } else if line.hasPrefix("<") {
                self.instructions.append((number, .botSays(String(line.dropFirst(1)).trimmingCharacters(in: .whitespaces), contains: false)))
            } else if line.hasPrefix(">") {
                self.instructions.append((number, .teacherSays(String(line.dropFirst(1)).trimmingCharacters(in: .whitespaces))))
            } else if line.hasPrefix("!") {
                self.instructions.append((number, .effect(String(line.dropFirst(1)).trimmingCharacters(in: .whitespaces))))
            } else {
                throw ConversationFailure(file: file, line: number, message: "expected a line starting with <, <~, >, !, @ or #")
            }
        }
    }

    /// Replays the script; returns the first difference, or `nil` when the conversation went as
    /// written.
    public func replay(with runner: DialogueRunner, now: Date = Date(timeIntervalSince1970: 1_800_000_000)) -> ConversationFailure? {
        var step: DialogueStep
        do {
            step = try runner.start(graph: self.graph, language: self.language, facts: self.facts, now: now)
        } catch {
            return ConversationFailure(file: self.file, line: 1, message: error.description)
        }
        var pending = step.outputs.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }[...]
        for (line, instruction) in self.instructions {
            switch instruction {
            case .botSays(let expected, let contains):
                guard let actual = pending.popFirst() else {
                    return ConversationFailure(file: self.file, line: line, message: "expected the bot to say “\(expected)”, but it waits for the teacher")
                }
                let matches = contains ? actual.contains(expected) : actual.trimmingCharacters(in: .whitespaces) == expected
                if !matches {
                    return ConversationFailure(file: self.file, line: line, message: "expected “\(expected)”\(contains ? " within the line" : ""), the bot said “\(actual)”")
                }
            case .teacherSays(let input):
                if let unexpected = pending.first {
                    return ConversationFailure(file: self.file, line: line, message: "the bot said more before this: “\(unexpected)”")
                }
                step = runner.advance(step.state, input: input, now: now, screening: runner.library.screener.screen(input))
                pending = step.outputs.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }[...]
            case .effect(let name):
                if !step.effects.contains(where: { Self.name(of: $0) == name }) {
                    let actual = step.effects.map(Self.name(of:)).joined(separator: ", ")
                    return ConversationFailure(file: self.file, line: line, message: "expected effect `\(name)`, the step had: \(actual.isEmpty ? "none" : actual)")
                }
            }
        }
        if let unexpected = pending.first {
            return ConversationFailure(file: self.file, line: (self.instructions.last?.line ?? 0) + 1, message: "the bot said more at the end: “\(unexpected)”")
        }
        return nil
    }

    /// The script as the graphs run it now: its header, the teacher's lines and the `!` checks as
    /// written, and every bot line the runner says in between as a `<` line. Content authors write
    /// only the teacher's side, record, read the result and keep it as a golden transcript.
    public func record(with runner: DialogueRunner, now: Date = Date(timeIntervalSince1970: 1_800_000_000)) throws(ConversationFailure) -> String {
        var step: DialogueStep
        do {
            step = try runner.start(graph: self.graph, language: self.language, facts: self.facts, now: now)
        } catch {
            throw ConversationFailure(file: self.file, line: 1, message: error.description)
        }
        var lines = self.header
        // The bot's lines of the last step, written out before the teacher speaks again, so the
        // `!` checks of a step stand right under the teacher's line.
        var pending: [String] = []
        func said(_ step: DialogueStep) {
            pending = step.outputs.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false) }.map { "< \($0)" }
        }
        said(step)
        for (_, instruction) in self.instructions {
            switch instruction {
            case .botSays:
                continue
            case .teacherSays(let input):
                lines += pending
                lines.append("> \(input)")
                step = runner.advance(step.state, input: input, now: now, screening: runner.library.screener.screen(input))
                said(step)
            case .effect(let name):
                lines.append("! \(name)")
            }
        }
        lines += pending
        return lines.joined(separator: "\n") + "\n"
    }

    static func name(of effect: DialogueEffect) -> String {
        switch effect {
        case .storeAnswer(let name, _): "store \(name)"
        case .pause: "pause"
        case .resume: "resume"
        case .end: "end"
        case .requestExport: "export"
        case .requestErasure: "forget"
        case .requestShare: "share"
        case .scheduleFollowUp: "follow-up"
        }
    }

    /// Replays every `*.txt` script in `directory`.
    /// - Returns: the scripts run and the failures, one per failing script.
    public static func replayAll(in directory: String, with runner: DialogueRunner) throws(ConversationFailure) -> (count: Int, failures: [ConversationFailure]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".txt") }.sorted()
        } catch {
            throw ConversationFailure(file: directory, line: 0, message: "cannot list the conversations directory")
        }
        var failures: [ConversationFailure] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                failures.append(ConversationFailure(file: path, line: 0, message: "cannot read the file as UTF-8 text"))
                continue
            }
            do {
                if let failure = try ConversationScript(text, file: path).replay(with: runner) {
                    failures.append(failure)
                }
            } catch {
                failures.append(error)
            }
        }
        return (names.count, failures)
    }
}

/// Where a conversation script and the graphs part ways.
public struct ConversationFailure: Error, Sendable, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String

    public var description: String { "\(self.file):\(self.line): \(self.message)" }
}
