import ArgumentParser

/// The `spiegel` command.
@main
struct Spiegel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spiegel",
        abstract: "A coaching bot for teachers: guided reflection after a lesson, confidential by design.",
        subcommands: [ServeCommand.self, ChatCommand.self, DoctorCommand.self, PromptsCommand.self, KeysCommand.self, MatrixCommand.self, BackupCommand.self, RestoreCommand.self, ExportCommand.self, ForgetCommand.self]
    )
}
