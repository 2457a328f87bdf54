import Foundation
import Glibc
import SpiegelTestKit
import SpiegelVault
import Testing

/// `spiegel chat` killed with SIGKILL in the middle of a conversation: after a restart it goes on
/// at the right question. What was answered before the kill is never asked again; an answer the
/// bot had not replied to yet may be asked again, never skipped.
@Suite(.serialized) struct ChatCrashTests {
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path

    /// The teacher's answers and the question each one answers, from the golden reflection.
    static let script: [(question: String, answer: String)] = {
        guard let text = try? String(contentsOfFile: prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8) else { return [] }
        var pairs: [(String, String)] = []
        var lastBot = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("< ") { lastBot = String(line.dropFirst(2)) }
            if line.hasPrefix("> ") { pairs.append((lastBot, String(line.dropFirst(2)))) }
        }
        return pairs
    }()

    /// A running `spiegel chat` with a pipe to its standard input.
    struct Chat {
        let process = Process()
        let input = Pipe()
        let output: URL
        let errors: URL

        init(directory: URL, environment: [String: String]) throws {
            let executable = try #require(SpiegelProcessTests.executable, "build the spiegel product first: swift build")
            self.output = directory.appendingPathComponent("stdout-\(UUID().uuidString).txt")
            _ = FileManager.default.createFile(atPath: self.output.path, contents: nil)
            self.process.executableURL = executable
            self.process.arguments = ["chat", "--user", "@an:school.example"]
            self.process.currentDirectoryURL = directory
            var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SPIEGEL_") }
            base.merge(try TestTime.processEnvironment()) { $1 }
            base.merge(environment) { $1 }
            self.process.environment = base
            self.process.standardInput = self.input
            self.process.standardOutput = try FileHandle(forWritingTo: self.output)
            self.errors = directory.appendingPathComponent("stderr-\(UUID().uuidString).txt")
            _ = FileManager.default.createFile(atPath: self.errors.path, contents: nil)
            self.process.standardError = try FileHandle(forWritingTo: self.errors)
            try self.process.run()
        }

        var lines: [String] {
            ((try? String(contentsOf: self.output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        /// Waits up to 20 s until the output has more than `count` lines and its last is a question
        /// of the script or the end; returns the lines.
        func waitForReply(after count: Int) async throws -> [String] {
            for _ in 0..<400 {
                let lines = self.lines
                if lines.count > count, let last = lines.last,
                   last.hasSuffix("?") || last.hasPrefix("2. ") || last.hasPrefix("Dank je voor je eerlijke terugblik") {
                    return lines
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let errors = (try? String(contentsOf: self.errors, encoding: .utf8)) ?? ""
            throw CrashTestError(message: "no reply; output so far: \(self.lines.suffix(3)); errors: \(errors)")
        }

        func send(_ line: String) {
            self.input.fileHandleForWriting.write(Data((line + "\n").utf8))
        }

        /// SIGKILL, then waits for the exit without blocking a thread of the shared pool (other
        /// suites run on the same two threads).
        func kill() async throws {
            Glibc.kill(self.process.processIdentifier, SIGKILL)
            while self.process.isRunning {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    struct CrashTestError: Error, CustomStringConvertible {
        let message: String
        var description: String { self.message }
    }

    /// The index in the script of the question `line` is, counting a choice by its last option.
    static func questionIndex(of lines: [String]) -> Int? {
        guard let last = lines.last else { return nil }
        return script.firstIndex { $0.question == last }
    }

    @Test func aKilledChatGoesOnAtTheRightQuestion() async throws {
        #expect(Self.script.count > 10, "the whole reflection: fourteen questions")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-chat-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let environment = [
            "SPIEGEL_PROMPTS_DIR": Self.prompts, "SPIEGEL_DATA_DIR": directory.appendingPathComponent("data").path,
            "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
        ]
        var generator = SystemRandomNumberGenerator()
        var at = 0
        var round = 0
        while at < Self.script.count {
            round += 1
            #expect(round < 200, "no progress")
            let chat = try Chat(directory: directory, environment: environment)
            let opening = try await chat.waitForReply(after: 0)
            // After the restart Spiegel asks the question we are at: never an earlier one.
            let shown = try #require(Self.questionIndex(of: opening), "round \(round): unexpected opening \(opening.suffix(2))")
            #expect(shown == at, "round \(round): expected question \(at) (“\(Self.script[at].question)”), got \(shown)")
            at = shown
            // Answer one to three questions, then kill: right after sending (the reply may or may
            // not be on disk), or after the reply (it must be).
            let answers = Int.random(in: 1...3, using: &generator)
            var seen = opening.count
            for _ in 0..<answers where at < Self.script.count {
                chat.send(Self.script[at].answer)
                if Bool.random(using: &generator) && at + 1 < Self.script.count {
                    try await chat.kill()
                    // Unacknowledged: the next start shows this question or the next one.
                    let check = try Chat(directory: directory, environment: environment)
                    let lines = try await check.waitForReply(after: 0)
                    let index = try #require(Self.questionIndex(of: lines))
                    #expect(index == at || index == at + 1, "round \(round): after a kill mid-answer the chat is at \(index), expected \(at) or \(at + 1)")
                    try await check.kill()
                    at = index
                    break
                }
                let lines = try await chat.waitForReply(after: seen)
                seen = lines.count
                at += 1
            }
            try await chat.kill()
            if at >= Self.script.count - 1 { break }
        }
    }
}
