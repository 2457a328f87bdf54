import ArgumentParser
import Foundation
import Logging
import SpiegelVault

/// `spiegel-bench vault-crash-writer`: appends to a vault as fast as it can, from several
/// coachees at once, and writes `COACHEE SEQUENCE` on standard output for every append the vault
/// acknowledged. The crash test kills it with SIGKILL and checks every acknowledged record.
///
/// Beside them, `--fresh-writers` make new coachees all the time (whose files are made only at a
/// checkpoint), write `F COACHEE SEQUENCE` for their records, and erase every second one, writing
/// `X COACHEE` once the erasure returned.
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

    @Option(help: "How many writers make new coachees, each after a few records.")
    var freshWriters = 0

    @Option(help: "The run's number: new coachees of one run are not those of another.")
    var round = 0

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
            for writer in 0..<self.freshWriters {
                group.addTask {
                    for generation in 0..<100 {
                        let index = Self.freshIndex(round: self.round, writer: writer, generation: generation)
                        let coachee = CoacheeID("crash-\(index)")
                        for sequence in 0..<5 {
                            let acknowledged = try await vault.append([NewRecord(.messageIn, Self.payload(coachee: index, sequence: sequence))], for: coachee)
                            guard acknowledged == [UInt64(sequence)] else {
                                throw ValidationError("expected sequence \(sequence) of a new coachee, got \(acknowledged)")
                            }
                            Self.report("F \(index) \(sequence)\n", deadline: deadline)
                        }
                        if generation % 2 == 1 {
                            try await vault.forget(coachee)
                            Self.report("X \(index)\n", deadline: deadline)
                        }
                    }
                }
            }
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
                            Self.report("\(index) \(sequence)\n", deadline: deadline)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Writes `line` on standard output in one call; stops the process when nobody reads any more
    /// (the test is gone) or time is up.
    static func report(_ line: String, deadline: ContinuousClock.Instant) {
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if written < 0 || ContinuousClock.now > deadline { Foundation.exit(0) }
    }

    /// The number of a new coachee (`crash-<number>`), apart from the steady writers' 0 to 99.
    static func freshIndex(round: Int, writer: Int, generation: Int) -> Int {
        100_000 + round * 1_000 + writer * 100 + generation
    }

    /// What record `sequence` of coachee `index` holds: checkable without the writer.
    static func payload(coachee index: Int, sequence: Int) -> [UInt8] {
        Array("coachee \(index) record \(sequence) ".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 100 + sequence % 150)
    }
}
