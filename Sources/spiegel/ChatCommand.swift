import ArgumentParser
import Foundation
import Glibc
import Logging
import SpiegelApp
import SpiegelCoach
import SpiegelDialogue
import SpiegelVault

/// `spiegel chat`: a whole conversation in the terminal, through the same coaching service and vault
/// as the chat transports. Works when piped too: one answer per line on standard input.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk with Spiegel in the terminal (or through a pipe); the conversation is kept in the vault like any other. Stop `spiegel serve` first."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Who you are to Spiegel (your conversations are kept under this name). Default: console:$USER.")
    var user: String?

    @Option(help: "A flow to start, by graph id (reflectie, voorgesprek, nagesprek, lesstudie, kernreflectie…).")
    var flow: String?

    func run() async throws {
        let loaded = try self.options.loadConfiguration()
        let configuration = loaded.configuration
        var logger = Logger(label: "spiegel")
        logger.logLevel = max(configuration.logLevel, .warning)
        let library = try PromptsCommand.load(configuration.promptsDirectory)
        if let flow, library.graphs[flow] == nil {
            printToStandardError("spiegel: no flow `\(flow)`; there are: \(library.graphs.keys.sorted().joined(separator: ", "))")
            throw ExitCode.failure
        }
        let vault: Vault
        do {
            vault = try VaultKeys.openVault(configuration, create: true, logger: logger)
        } catch {
            printToStandardError("spiegel: \(error.message)")
            if error.code == .closed, configuration.offersTryout {
                // `make run` holds the vault: its try-out page is the same conversation service.
                printToStandardError("spiegel: while `spiegel serve` runs, talk with Spiegel in the browser at http://\(configuration.server.host):\(configuration.server.port)/")
            }
            throw ExitCode.failure
        }
        let service = CoachingService(library: library, vault: vault, configuration: configuration.coach, logger: logger)
        let coachee = CoacheeID(self.user ?? "console:" + (ProcessInfo.processInfo.environment["USER"] ?? "teacher"))
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive {
            printNow("Spiegel in the terminal. Your words are kept encrypted in \(configuration.vaultDirectory). Ctrl-D ends; “stop” pauses.")
        }
        do {
            Self.show(try await service.open(coachee, flow: self.flow), interactive: interactive)
            while let line = readLine() {
                Self.show(try await service.handle(InboundMessage(coachee: coachee, text: line)), interactive: interactive)
            }
            try await vault.close()
        } catch {
            try? await vault.close()
            printToStandardError("spiegel: the conversation could not be kept: \((error as? VaultError)?.message ?? "a storage error")")
            throw ExitCode.failure
        }
    }

    private static func show(_ reply: Reply, interactive: Bool) {
        for text in reply.texts { printNow(text) }
        if interactive { FileHandle.standardOutput.write(Data("› ".utf8)) }
    }
}
