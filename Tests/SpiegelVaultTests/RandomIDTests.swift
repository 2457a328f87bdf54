import Crypto
import Foundation
@testable import SpiegelVault
import Testing

@Suite struct RandomIDTests {
    @Test func idsAre32HexDigitsAndDoNotRepeat() {
        let ids = (0..<1_000).map { _ in RandomID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
    }

    @Test func aBatchOfNoncesNeverRepeatsNorRunsOut() throws {
        var batch = try NonceBatch(count: 1_000)
        // One more than drawn in bulk: the last comes from a call of its own.
        let nonces = (0..<1_001).map { _ in Array(batch.next().withUnsafeBytes { Array($0) }) }
        #expect(nonces.allSatisfy { $0.count == 12 })
        #expect(Set(nonces).count == nonces.count)
        #expect(!nonces.contains(Array(repeating: 0, count: 12)))
    }

    @Test func theSameRecordTwiceIsSealedTwoWays() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open(checkpointBytes: 1 << 30)
        let coachee = CoacheeID("@an:school.example")
        let record = NewRecord(.messageIn, Array("Mijn klas was onrustig".utf8), time: Date(timeIntervalSince1970: 1_800_000_000))
        try await vault.append(Array(repeating: record, count: 50), for: coachee)
        try await vault.close()
        let journal = try fixture.bytes(fixture.journal(of: vault.pseudonym(of: coachee)))
        // The nonce is the first 12 bytes of each sealed frame (after the 4-byte length and the type).
        let frame = (journal.count - JournalFormat.header.count) / 50
        let nonces = (0..<50).map { index in
            let start = JournalFormat.header.count + index * frame + 5
            return Array(journal[start..<(start + 12)])
        }
        #expect(Set(nonces).count == 50)
    }
}
