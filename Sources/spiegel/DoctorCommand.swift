import ArgumentParser
import SpiegelApp

/// `spiegel doctor`: what is configured, where data lives, and what is wrong.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Print what is configured, where data and keys live, and what is wrong. Never prints secrets."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let report = Doctor.examine(try self.options.loadConfiguration())
        print(report.text)
        if !report.problems.isEmpty {
            throw ExitCode.failure
        }
    }
}
