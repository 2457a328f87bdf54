import Foundation
import SpiegelTestKit
import SpiegelVault
import Testing

/// Mutated journals and logs: the reader reports or repairs, and never crashes. 300 rounds;
/// `SPIEGEL_FUZZ_ROUNDS` asks for more (`make soak`).
@Suite struct JournalFuzzTests {
    @Test func mutatedJournalsAndLogsNeverCrashTheReader() async throws {
        let alice = CoacheeID("@alice:school.example")
        let fixture = VaultFixture()
        let vault = try fixture.open(checkpointBytes: 1 << 30)
        try await vault.append((0..<8).map { VaultFixture.text("bericht \($0) " + String(repeating: "x", count: $0 * 7)) }, for: alice)
        let journalPath = fixture.journal(of: vault.pseudonym(of: alice))
        let walPath = fixture.root + "/wal"
        // The log before the checkpoint of close, the journal after it: both then hold every record.
        let wal = try fixture.bytes(walPath)
        try await vault.close()
        let journal = try fixture.bytes(journalPath)
        #expect(journal.count > 8 * 41 && wal.count > 8 * 41)

        var random = SeededGenerator(seed: 42)
        var outcomes = (read: 0, refused: 0)
        let rounds = Int(ProcessInfo.processInfo.environment["SPIEGEL_FUZZ_ROUNDS"] ?? "") ?? 300
        for round in 0..<rounds {
            var mutatedJournal = journal
            var mutatedWAL = wal
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                switch Int.random(in: 0..<5, using: &random) {
                case 0 where !mutatedJournal.isEmpty:
                    mutatedJournal[Int.random(in: 0..<mutatedJournal.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                case 1: mutatedJournal = Array(mutatedJournal.prefix(Int.random(in: 0...mutatedJournal.count, using: &random)))
                case 2: mutatedJournal += (0..<Int.random(in: 1...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                case 3 where !mutatedWAL.isEmpty: mutatedWAL[Int.random(in: 0..<mutatedWAL.count, using: &random)] ^= 0x55
                default:
                    let at = Int.random(in: 4..<max(5, mutatedJournal.count), using: &random)
                    if at + 4 <= mutatedJournal.count { mutatedJournal.replaceSubrange(at..<(at + 4), with: [0xFF, 0xFF, 0xFF, 0x7F]) }
                }
            }
            try fixture.write(mutatedJournal, to: journalPath)
            try fixture.write(mutatedWAL, to: walPath)
            do {
                let opened = try fixture.open()
                do {
                    let records = try await opened.records(for: alice)
                    #expect(records.count <= 8 + 8, "round \(round)")
                    outcomes.read += 1
                } catch is VaultError {
                    outcomes.refused += 1
                }
                try? await opened.close()
            } catch is VaultError {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.read + outcomes.refused == rounds)
        #expect(outcomes.read > 0 && outcomes.refused > 0, "\(outcomes)")
    }
}
