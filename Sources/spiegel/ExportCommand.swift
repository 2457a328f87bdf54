import ArgumentParser
import Foundation
import Logging
import SpiegelApp
import SpiegelCoach
import SpiegelVault

/// `spiegel export`: a coachee's whole history, readable, on standard output.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print a coachee's whole history as Markdown (or JSON) for them; stop `spiegel serve` first."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "The coachee's chat user id, such as @an:school.example.")
    var user: String

    @Flag(help: "JSON instead of Markdown.")
    var json = false

    func run() async throws {
        let configuration = try self.options.loadConfiguration().configuration
        try await withVault(configuration) { vault in
            let coachee = CoacheeID(self.user)
            let records = try await vault.records(for: coachee)
            let pseudonym = vault.pseudonym(of: coachee)
            print(self.json
                ? try VaultExport.json(records, pseudonym: pseudonym, exportedAt: Date(), readable: CoachingService.readableSnapshot)
                : VaultExport.markdown(records, pseudonym: pseudonym, exportedAt: Date(), readable: CoachingService.readableSnapshot), terminator: "")
        }
    }
}

/// `spiegel forget`: erases everything of one coachee.
struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Erase everything of one coachee (crypto-shredding: backups become unreadable too); stop `spiegel serve` first."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "The coachee's chat user id, such as @an:school.example.")
    var user: String

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    func run() async throws {
        let configuration = try self.options.loadConfiguration().configuration
        try await withVault(configuration) { vault in
            let coachee = CoacheeID(self.user)
            guard vault.contains(coachee) else {
                print("Nothing is stored for \(self.user).")
                return
            }
            if !self.yes {
                print("Erase everything Spiegel holds of \(self.user)? This cannot be undone. Type yes to erase: ", terminator: "")
                guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                    print("Nothing was erased.")
                    return
                }
            }
            try await vault.forget(coachee)
            print("Erased everything of \(self.user) (pseudonym \(vault.pseudonym(of: coachee))).")
        }
    }
}

/// Opens the vault for a command, closes it after, and turns vault errors into a clear message.
func withVault(_ configuration: SpiegelConfiguration, _ body: (Vault) async throws -> Void) async throws {
    let vault: Vault
    do {
        vault = try VaultKeys.openVault(configuration, create: false, logger: Logger(label: "spiegel"))
    } catch {
        printToStandardError("spiegel: \(error.message)")
        throw ExitCode.failure
    }
    do {
        try await body(vault)
        try await vault.close()
    } catch let error as VaultError {
        try? await vault.close()
        printToStandardError("spiegel: \(error.message)")
        throw ExitCode.failure
    }
}
