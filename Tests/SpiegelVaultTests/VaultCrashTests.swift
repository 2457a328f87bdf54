import Foundation
import SpiegelTestKit
import SpiegelVault
import Synchronization
import Testing

/// A writer process killed with SIGKILL at random moments: every record it was told is on disk is
/// there, intact, every coachee it was told is erased stays erased, and the vault opens. New
/// coachees come all the time (their files are made at checkpoints, their keys are in the log
/// until then). 50 rounds; `SPIEGEL_CRASH_ROUNDS` asks for more.
@Suite(.serialized) struct VaultCrashTests {
    static let writer = BuiltExecutable.find("spiegel-bench")

    /// Collects what the child writes on its pipe, from a thread of its own.
    final class PipeReader: Sendable {
        private let collected = Mutex<[UInt8]>([])
        private let handle: FileHandle

        init(_ handle: FileHandle) {
            self.handle = handle
            let thread = Thread { [self] in
                while true {
                    let data = self.handle.availableData
                    if data.isEmpty { return }
                    self.collected.withLock { $0 += data }
                }
            }
            thread.start()
        }

        var text: String { self.collected.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    @Test func everyAcknowledgedRecordSurvivesSIGKILL() async throws {
        let writer = try #require(Self.writer, "build spiegel-bench first: swift build")
        let rounds = Int(ProcessInfo.processInfo.environment["SPIEGEL_CRASH_ROUNDS"] ?? "") ?? 50
        let fixture = VaultFixture()
        var random = SystemRandomNumberGenerator()
        var acknowledged: [Int: Int] = [:]  // coachee index -> highest acknowledged sequence
        var erased: Set<Int> = []
        for round in 0..<rounds {
            let process = Process()
            process.executableURL = writer
            process.arguments = ["vault-crash-writer", "--vault", fixture.root, "--coachees", "8", "--fresh-writers", "4", "--round", "\(round)"]
            process.environment = ["SPIEGEL_VAULT_MASTER_KEY": fixture.key.base64Encoded]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            let reader = PipeReader(pipe.fileHandleForReading)
            try process.run()
            try await Task.sleep(for: .milliseconds(Int.random(in: 60...260, using: &random)))
            kill(process.processIdentifier, SIGKILL)
            // Not waitUntilExit: that would block one of the two threads every suite shares.
            while process.isRunning {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the writer stopped by itself")
            try await Task.sleep(for: .milliseconds(20))
            for line in reader.text.split(separator: "\n") {
                let words = line.split(separator: " ")
                let parts = words.compactMap { Int($0) }
                // `X COACHEE`, `F COACHEE SEQUENCE` or `COACHEE SEQUENCE`; a line cut by the kill is none.
                if words.first == "X", words.count == 2, parts.count == 1 {
                    acknowledged[parts[0]] = nil
                    erased.insert(parts[0])
                } else if parts.count == 2, words.count == (words.first == "F" ? 3 : 2) {
                    acknowledged[parts[0]] = max(acknowledged[parts[0]] ?? -1, parts[1])
                }
            }

            let vault = try fixture.open()
            for index in erased {
                #expect(try await vault.records(for: CoacheeID("crash-\(index)")).isEmpty, "round \(round): coachee \(index) was erased")
                #expect(!vault.contains(CoacheeID("crash-\(index)")), "round \(round): coachee \(index) was erased")
            }
            for (index, highest) in acknowledged {
                let records = try await vault.records(for: CoacheeID("crash-\(index)"))
                if records.isEmpty, index >= 100_000, index % 2 == 1, highest == 4 {
                    // Its erasure was under way when the writer was killed (it erases every second
                    // new coachee once its 5 records are in): gone, or whole. Gone now, it stays gone.
                    acknowledged[index] = nil
                    erased.insert(index)
                    continue
                }
                #expect(records.count > highest, "round \(round): coachee \(index) has \(records.count) records, \(highest + 1) were acknowledged")
                for record in records.prefix(highest + 1) {
                    #expect(record.payload == Self.payload(coachee: index, sequence: Int(record.sequence)), "round \(round): record \(record.sequence) of coachee \(index)")
                }
            }
            try await vault.close()
        }
        #expect(acknowledged.values.reduce(0) { $0 + $1 + 1 } > rounds, "the writer acknowledged too little to test anything: \(acknowledged)")
        #expect(erased.count > rounds, "the writer erased too few coachees to test anything: \(erased.count)")
    }

    /// The same as `VaultCrashWriter.payload`.
    static func payload(coachee index: Int, sequence: Int) -> [UInt8] {
        Array("coachee \(index) record \(sequence) ".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 100 + sequence % 150)
    }
}
