import ArgumentParser
import Foundation
import Logging
import SpiegelVault

/// `spiegel-bench vault-crash-writer`: appends to a vault as fast as it can, from several
/// coachees at once, and writes `COACHEE SEQUENCE` on standard output for every append the vault
/// acknowledged. The crash test kills it with SIGKILL and checks every acknowledged record.
struct VaultCrashWriter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault-crash-writer",
        abstract: "Append to a vault until killed, reporting each acknowledged record (for the crash test).",
        shouldDisplay: false
    )

    @Option(help: "The vault directory.")
    var vault: String

    @Option(help: "How many coachees write at once.")
    var coachees = 8

    @Option(help: "Write-ahead log size that triggers a checkpoint, in bytes.")
    var checkpointBytes = 64 << 10

    @Option(help: "Stop after this many seconds even if nobody kills the writer.")
    var maxSeconds = 60

    func run() async throws {
        guard let text = ProcessInfo.processInfo.environment["SPIEGEL_VAULT_MASTER_KEY"] else {
            throw ValidationError("set SPIEGEL_VAULT_MASTER_KEY")
        }
        let key = try MasterKey(base64: text, source: "SPIEGEL_VAULT_MASTER_KEY")
        let vault = try Vault(
            configuration: VaultConfiguration(directory: self.vault, checkpointBytes: self.checkpointBytes),
            masterKey: key, logger: Logger(label: "crash-writer")
        )
        let deadline = ContinuousClock.now + .seconds(self.maxSeconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<self.coachees {
                group.addTask {
                    let coachee = CoacheeID("crash-\(index)")
                    while true {
                        let existing = try await vault.records(for: coachee).count
                        for sequence in existing... {
                            let payload = Self.payload(coachee: index, sequence: sequence)
                            let acknowledged = try await vault.append([NewRecord(.messageIn, payload)], for: coachee)
                            guard acknowledged == [UInt64(sequence)] else {
                                throw ValidationError("expected sequence \(sequence), got \(acknowledged)")
                            }
                            let line = Array("\(index) \(sequence)\n".utf8)
                            // Nobody reads any more (the test is gone), or time is up: stop.
                            let written = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                            if written < 0 || ContinuousClock.now > deadline { Foundation.exit(0) }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// What record `sequence` of coachee `index` holds: checkable without the writer.
    static func payload(coachee index: Int, sequence: Int) -> [UInt8] {
        Array("coachee \(index) record \(sequence) ".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 100 + sequence % 150)
    }
}
