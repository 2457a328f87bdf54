import Foundation
import SpiegelVault
import Testing

@Suite struct KeyRotationTests {
    struct InjectedCrash: Error {}

    let coachees = (0..<5).map { CoacheeID("@teacher\($0):school.example") }

    private func populated() async throws -> VaultFixture {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        for coachee in self.coachees { try await vault.append([VaultFixture.text("van \(coachee.rawValue)")], for: coachee) }
        try await vault.close()
        return fixture
    }

    private func expectReadable(_ fixture: VaultFixture, key: MasterKey, previous: MasterKey? = nil) async throws {
        let vault = try fixture.open(key: key, previous: previous)
        for coachee in self.coachees {
            let records = try await vault.records(for: coachee)
            #expect(records.map { String(decoding: $0.payload, as: UTF8.self) } == ["van \(coachee.rawValue)"])
        }
        try await vault.close()
    }

    @Test func rotationRewrapsEveryKeyWithoutTouchingJournals() async throws {
        let fixture = try await populated()
        let journalsBefore = try fixture.allFiles().filter { $0.hasSuffix("/journal") }.map { try fixture.bytes($0) }
        let newKey = MasterKey.generate()
        #expect(try KeyRotation.rotate(vault: fixture.root, from: fixture.key, to: newKey) == 6)
        #expect(try fixture.allFiles().filter { $0.hasSuffix("/journal") }.map { try fixture.bytes($0) } == journalsBefore)
        try await expectReadable(fixture, key: newKey)
        #expect(throws: VaultError.self) { try fixture.open(key: fixture.key) }
        #expect(try KeyRotation.rotate(vault: fixture.root, from: fixture.key, to: newKey) == 0)
    }

    @Test(arguments: 1...5)
    func aCrashBetweenAnyTwoStepsLeavesEverythingReadableAndARerunFinishes(crashAfter: Int) async throws {
        let fixture = try await populated()
        let newKey = MasterKey.generate()
        #expect(throws: InjectedCrash.self) {
            try KeyRotation.rotate(vault: fixture.root, from: fixture.key, to: newKey) { done in
                if done == crashAfter { throw InjectedCrash() }
            }
        }
        // Half rotated: every key opens with the old or the new master key.
        try await expectReadable(fixture, key: newKey, previous: fixture.key)
        #expect(try KeyRotation.rotate(vault: fixture.root, from: fixture.key, to: newKey) == 6 - crashAfter)
        try await expectReadable(fixture, key: newKey)
    }
}
