import Foundation
import SpiegelDialogue

/// The test Prompts and conversation scripts beside this file.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let prompts = directory.appendingPathComponent("Prompts").path
    static let conversations = directory.appendingPathComponent("Conversations").path

    static let library: DialogueLibrary = {
        do {
            return try DialogueLoader.loadLibrary(directory: prompts)
        } catch {
            fatalError("the fixture Prompts do not load: \(error)")
        }
    }()

    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The fixture global.yaml with `graphs` beside it.
    static func library(with graphs: [String: String]) throws -> DialogueLibrary {
        let global = try String(contentsOfFile: prompts + "/global.yaml", encoding: .utf8)
        let files = [(path: "global.yaml", text: global)] + graphs.map { (path: "\($0.key).yaml", text: $0.value) }
        return try DialogueLoader.loadLibrary(files: files)
    }
}
