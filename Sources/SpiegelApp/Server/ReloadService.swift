import Logging
import ServiceLifecycle
import SpiegelCoach
import SpiegelDialogue
import UnixSignals

/// SIGHUP: the configuration file, the Prompts and the teams file are read again and taken
/// whole, or not at all (anything invalid is logged and the old stays). What is taken: the
/// dialogue graphs and service texts, the `coach.*` settings (pairings among them), the teams'
/// members, coaches, holidays and reminders. Conversations go on where they are. Ports, chats and
/// team rooms take a restart.
struct ReloadService: Service {
    let reloadConfiguration: @Sendable () throws -> SpiegelConfiguration
    let coaching: CoachingService
    let teams: TeamsInEffect
    /// Where the try-out page learns why a reload was refused, when it is offered.
    var tryout: TryoutMailboxes? = nil
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                self.reload()
            }
        }
    }

    /// What `spiegel prompts lint` would refuse in Prompts that load: for the try-out page, so a
    /// coach sees it at once. `nil` when there is nothing.
    static func lintProblem(_ library: DialogueLibrary) -> String? {
        let errors = DialogueLinter.lint(library).filter { $0.severity == .error }
        guard !errors.isEmpty else { return nil }
        return "Taken, but `spiegel prompts lint` finds:\n" + errors.map(\.description).joined(separator: "\n")
    }

    func reload() {
        do {
            let configuration = try self.reloadConfiguration()
            let library = try DialogueLoader.loadLibrary(directory: configuration.promptsDirectory)
            let teams = try configuration.teams.file.map { try TeamsFile.load(path: $0).teams } ?? []
            if let refusal = self.teams.replace(with: teams) {
                self.logger.error("spiegel.reload.refused", metadata: ["spiegel.reason": "\(refusal)"])
                self.tryout?.reloaded(problem: "Not taken: \(refusal)")
                return
            }
            self.coaching.reload(library: library, configuration: configuration.coach)
            self.tryout?.reloaded(problem: Self.lintProblem(library))
            self.logger.notice("spiegel.reload.done", metadata: ["spiegel.graphs": "\(library.graphs.count)", "spiegel.teams": "\(teams.count)"])
        } catch {
            // The message says what is wrong and where (file, line, key); never any user's text.
            self.logger.error("spiegel.reload.refused", metadata: ["spiegel.reason": "\(error)"])
            self.tryout?.reloaded(problem: "Not taken: \(error)")
        }
    }
}
