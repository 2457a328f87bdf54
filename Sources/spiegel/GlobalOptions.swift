import ArgumentParser
import Foundation
import SpiegelApp

/// The options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The YAML configuration file. Default: ./spiegel.yaml if it exists, else built-in defaults.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "The data directory; wins over SPIEGEL_DATA_DIR and the file. Default: ./.spiegel-data")
    var dataDirectory: String?

    /// Loads the configuration, or prints what is wrong and exits with status 78 (EX_CONFIG).
    func loadConfiguration() throws -> LoadedConfiguration {
        do {
            return try ConfigurationLoader.load(
                file: self.config,
                dataDirectory: self.dataDirectory,
                environment: ProcessInfo.processInfo.environment
            )
        } catch {
            printToStandardError("spiegel: configuration error: \(error)")
            throw ExitCode.configuration
        }
    }
}

/// Writes a line to standard error, unbuffered.
func printToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Writes a line to standard output at once, so a supervisor or a test reading a pipe sees it.
func printNow(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

extension ExitCode {
    /// EX_CONFIG (78): the configuration, the key or the data directory needs the administrator;
    /// the systemd unit does not restart on it (`RestartPreventExitStatus=78`).
    static let configuration = ExitCode(78)
    /// EX_IOERR (74): the vault stopped after a failed sync; systemd restarts the service, and the
    /// restart replays the write-ahead log.
    static let vaultFailed = ExitCode(74)
}
