import Foundation
import Logging
import SpiegelCoach
import SpiegelDialogue
import SpiegelVault
import Synchronization

/// The real coaching content, a real vault in a fresh directory, and a clock the test moves.
final class CoachFixture: Sendable {
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let library: DialogueLibrary = {
        do {
            return try DialogueLoader.loadLibrary(directory: prompts)
        } catch {
            fatalError("Prompts/ does not load: \(error)")
        }
    }()

    let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-coach-\(UUID().uuidString)/vault").path
    let key = MasterKey.generate()
    let logger = Logger(label: "test.coach")
    let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    /// - Parameter checkpointBytes: 1 makes every new coachee's files at once (a checkpoint after
    ///   every write), for tests of what is on disk.
    func openVault(checkpointBytes: Int = 16 << 20) throws -> Vault {
        try Vault(configuration: VaultConfiguration(directory: self.root, checkpointBytes: checkpointBytes), masterKey: self.key, logger: self.logger)
    }

    /// The defaults, but a rate limit no scripted test runs into.
    static let configuration: CoachConfiguration = {
        var configuration = CoachConfiguration()
        configuration.rateLimitBurst = 10_000
        return configuration
    }()

    func service(_ vault: Vault, configuration: CoachConfiguration = CoachFixture.configuration) -> CoachingService {
        CoachingService(library: Self.library, vault: vault, configuration: configuration, logger: self.logger, now: { [self] in self.clock.withLock { $0 } })
    }

    func advance(by seconds: TimeInterval) {
        self.clock.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// Every file under the vault.
    func allFiles() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: self.root) else { return [] }
        return enumerator.compactMap { $0 as? String }
    }
}

extension CoachingService {
    /// Sends each of `lines` as `user`, in order, when only the last state matters.
    func sayAll(_ lines: [String], as user: String) async throws {
        for line in lines { _ = try await self.say(line, as: user) }
    }

    /// Sends `text` as `user` and returns the bot's lines, split at line breaks like a script.
    func say(_ text: String, as user: String, id: String? = nil) async throws -> [String] {
        try await self.handle(InboundMessage(coachee: CoacheeID(user), text: text, id: id)).texts
            .flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }
}

/// A conversation script of Prompts/conversations as (teacher line, bot lines after it) pairs, and
/// the bot's opening lines.
struct Script {
    var opening: [String] = []
    var exchanges: [(teacher: String, bot: [String])] = []

    init(named name: String) throws {
        let text = try String(contentsOfFile: CoachFixture.prompts + "/conversations/" + name, encoding: .utf8)
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("> ") {
                self.exchanges.append((String(line.dropFirst(2)), []))
            } else if line.hasPrefix("< ") {
                if self.exchanges.isEmpty { self.opening.append(String(line.dropFirst(2))) } else { self.exchanges[self.exchanges.count - 1].bot.append(String(line.dropFirst(2))) }
            }
        }
    }
}
