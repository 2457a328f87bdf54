import Foundation
import Glibc
import Logging
import SpiegelVault
import Synchronization
import Testing

@Suite struct VaultTests {
    let alice = CoacheeID("@alice:school.example")
    let bob = CoacheeID("@bob:school.example")

    @Test func recordsRoundTripAndSurviveAReopen() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        let sequences = try await vault.append([VaultFixture.text("Hallo"), NewRecord(.messageOut, Array("Dag!".utf8))], for: self.alice)
        #expect(sequences == [0, 1])
        #expect(try await vault.append([NewRecord(.snapshot, [1, 2, 3])], for: self.alice) == [2])
        try await vault.close()

        let reopened = try fixture.open()
        let records = try await reopened.records(for: self.alice)
        #expect(records.map(\.sequence) == [0, 1, 2])
        #expect(records.map(\.type) == [.messageIn, .messageOut, .snapshot])
        #expect(records[0].payload == Array("Hallo".utf8))
        #expect(records[0].time == Date(timeIntervalSince1970: 1_800_000_000.123))
        #expect(try await reopened.append([VaultFixture.text("Verder")], for: self.alice) == [3])
        #expect(try await reopened.records(for: self.alice, fromLatestSnapshot: true).map(\.sequence) == [2, 3])
        #expect(try await reopened.records(for: self.bob).isEmpty)
        try await reopened.close()
    }

    @Test func oneWriteToSeveralJournalsLandsInAllOfThem() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("eerst")], for: self.alice)
        let outbox = SystemJournalID("outbox.test")
        // A turn and its outbox entries in one commit; an empty write is left out.
        try await vault.append([
            vault.write([VaultFixture.text("Hallo"), NewRecord(.snapshot, [1])], for: self.alice),
            vault.write([NewRecord(.outboxQueued, Array("antwoord".utf8))], to: outbox),
            vault.write([], for: self.bob),
        ])
        try await vault.append([])
        try await vault.close()

        let reopened = try fixture.open()
        #expect(try await reopened.records(for: self.alice).map(\.sequence) == [0, 1, 2])
        #expect(try await reopened.records(of: outbox).map(\.payload) == [Array("antwoord".utf8)])
        #expect(!reopened.contains(self.bob), "no journal for a write without records")
        try await reopened.close()
    }

    /// Thousands of coachees writing between two checkpoints (a term's first week, a vault
    /// restored from a backup) hold no file open, and the checkpoint after them opens a bounded
    /// number at a time: running out of descriptors would stop every write (and libdispatch with
    /// them).
    @Test func thousandsOfCoacheesBetweenCheckpointsHoldFewFilesOpen() async throws {
        let fixture = VaultFixture()
        let coachees = (0..<1_000).map { CoacheeID("@leraar\($0):school.example") }
        // The most descriptors under the vault seen at a sync (every tenth), and now.
        let most = Mutex(0), syncs = Atomic<Int>(0)
        @Sendable func openUnderVault() -> Int {
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return descriptors.count { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)"))?.hasPrefix(fixture.root) == true }
        }
        FileFaults.arm(under: fixture.root) { call, _ in
            if call == .sync, syncs.add(1, ordering: .relaxed).newValue % 10 == 0 {
                let count = openUnderVault()
                most.withLock { $0 = max($0, count) }
            }
            return nil
        }
        defer { FileFaults.disarm(under: fixture.root) }
        for round in ["eerste", "tweede"] {
            let vault = try fixture.open(checkpointBytes: 1 << 30)
            try await vault.append(coachees.map { vault.write([VaultFixture.text("\(round) les")], for: $0) })
            // The second round opened every journal's files to read its state: none stays open.
            #expect(openUnderVault() <= 3, "\(round): \(openUnderVault()) files open under the vault")
            // The checkpoint makes (first round) or writes (second) a thousand journals.
            try await vault.close()
        }
        #expect(syncs.load(ordering: .relaxed) >= 2_000)
        let bound = 2 * 128 + 8
        #expect(most.withLock { $0 } <= bound, "at most \(bound) files open at once, saw \(most.withLock { $0 })")
        let reopened = try fixture.open()
        for coachee in coachees.prefix(3) + coachees.suffix(3) {
            #expect(try await reopened.records(for: coachee).map { String(decoding: $0.payload, as: UTF8.self) } == ["eerste les", "tweede les"])
        }
        try await reopened.close()
    }

    @Test func theListingShowsPseudonymsOnlyAndModesKeepOthersOut() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("x")], for: self.alice)
        // A new journal's files are made at the next checkpoint (here, at closing).
        try await vault.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.root + "/coachees")
        #expect(names == [vault.pseudonym(of: self.alice).hex])
        #expect(names[0].count == 64)
        #expect(!names[0].contains("alice"))
        #expect("\(vault.pseudonym(of: self.alice))".count == 12)
        #expect("\(self.alice)" == "CoacheeID(redacted)")
        for file in fixture.allFiles() {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
        for directory in [fixture.root, fixture.root + "/coachees", fixture.directory(of: vault.pseudonym(of: self.alice))] {
            #expect(try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int == 0o700)
        }
    }

    @Test func oneProcessAtATime() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        let error = #expect(throws: VaultError.self) { try fixture.open() }
        #expect(error?.message.contains("open in another process") == true)
        try await vault.close()
        try await fixture.open().close()
    }

    @Test func anotherMasterKeyIsRefused() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("x")], for: self.alice)
        try await vault.close()
        let error = #expect(throws: VaultError.self) { try fixture.open(key: .generate()) }
        #expect(error?.code == .keyMismatch)
    }

    /// Writes three records for alice and two for bob; returns the vault closed.
    private func twoJournals(_ fixture: VaultFixture) async throws -> (alice: String, bob: String) {
        let vault = try fixture.open()
        try await vault.append(["een", "twee", "drie"].map(VaultFixture.text), for: self.alice)
        try await vault.append(["vier", "vijf"].map(VaultFixture.text), for: self.bob)
        let paths = (fixture.journal(of: vault.pseudonym(of: self.alice)), fixture.journal(of: vault.pseudonym(of: self.bob)))
        try await vault.close()
        return paths
    }

    private func expectUnreadable(_ fixture: VaultFixture, _ coachee: CoacheeID, at sequence: Int) async throws {
        let vault = try fixture.open()
        do {
            let records = try await vault.records(for: coachee)
            Issue.record("read \(records.count) records from a tampered journal")
        } catch let error as VaultError {
            #expect(error.code == .authenticationFailure)
            #expect(error.message.contains("record \(sequence) of coachee \(vault.pseudonym(of: coachee))"))
            #expect(!error.message.contains("alice") && !error.message.contains("bob"))
        }
        try await vault.close()
    }

    @Test func aRecordMovedToAnotherCoacheeIsDetected() async throws {
        let fixture = VaultFixture()
        let (alicePath, bobPath) = try await twoJournals(fixture)
        let aliceBytes = try fixture.bytes(alicePath)
        var bobBytes = try fixture.bytes(bobPath)
        let aliceFirst = VaultFixture.frames(aliceBytes)[0]
        let bobFirst = VaultFixture.frames(bobBytes)[0]
        bobBytes.replaceSubrange(bobFirst.offset..<(bobFirst.offset + bobFirst.length), with: aliceBytes[aliceFirst.offset..<(aliceFirst.offset + aliceFirst.length)])
        try fixture.write(bobBytes, to: bobPath)
        try await expectUnreadable(fixture, self.bob, at: 0)
    }

    @Test func twoRecordsSwappedAreDetected() async throws {
        let fixture = VaultFixture()
        let (alicePath, _) = try await twoJournals(fixture)
        let bytes = try fixture.bytes(alicePath)
        let frames = VaultFixture.frames(bytes)
        var swapped = Array(bytes[0..<frames[0].offset])
        swapped += bytes[frames[1].offset..<(frames[1].offset + frames[1].length)]
        swapped += bytes[frames[0].offset..<(frames[0].offset + frames[0].length)]
        swapped += bytes[frames[2].offset...]
        try fixture.write(swapped, to: alicePath)
        try await expectUnreadable(fixture, self.alice, at: 0)
    }

    @Test func aRecordDeletedFromTheMiddleIsDetected() async throws {
        let fixture = VaultFixture()
        let (alicePath, _) = try await twoJournals(fixture)
        var bytes = try fixture.bytes(alicePath)
        let middle = VaultFixture.frames(bytes)[1]
        bytes.removeSubrange(middle.offset..<(middle.offset + middle.length))
        try fixture.write(bytes, to: alicePath)
        try await expectUnreadable(fixture, self.alice, at: 1)
    }

    @Test func aFlippedBitInTheMiddleIsReportedNotSkipped() async throws {
        let fixture = VaultFixture()
        let (alicePath, _) = try await twoJournals(fixture)
        var bytes = try fixture.bytes(alicePath)
        let middle = VaultFixture.frames(bytes)[1]
        bytes[middle.offset + 20] ^= 0x01
        try fixture.write(bytes, to: alicePath)
        try await expectUnreadable(fixture, self.alice, at: 1)
    }

    @Test func aTornLastRecordIsCutOffAtEveryByteOffset() async throws {
        let fixture = VaultFixture()
        let (alicePath, _) = try await twoJournals(fixture)
        let original = try fixture.bytes(alicePath)
        let last = VaultFixture.frames(original)[2]
        for cut in last.offset..<original.count {
            try fixture.write(Array(original[0..<cut]), to: alicePath)
            let vault = try fixture.open()
            let records = try await vault.records(for: self.alice)
            #expect(records.map(\.sequence) == [0, 1], "cut at \(cut)")
            #expect(try await vault.append([VaultFixture.text("opnieuw")], for: self.alice) == [2], "cut at \(cut)")
            try await vault.close()
            // "opnieuw" is 3 bytes longer than "drie".
            #expect(try fixture.bytes(alicePath).count == original.count + 3, "cut at \(cut)")
        }
    }

    @Test func aZeroFilledLastRecordIsCutOffButGarbageIsReported() async throws {
        let fixture = VaultFixture()
        let (alicePath, _) = try await twoJournals(fixture)
        let original = try fixture.bytes(alicePath)
        let last = VaultFixture.frames(original)[2]
        var zeroed = original
        for index in (last.offset + 5)..<original.count { zeroed[index] = 0 }
        try fixture.write(zeroed, to: alicePath)
        let vault = try fixture.open()
        #expect(try await vault.records(for: self.alice).count == 2)
        try await vault.close()

        var garbage = original
        garbage[original.count - 3] ^= 0xFF
        try fixture.write(garbage, to: alicePath)
        let again = try fixture.open()
        let error = await #expect(throws: VaultError.self) { try await again.records(for: self.alice) }
        #expect(error?.code == .authenticationFailure)
        try await again.close()
    }

    @Test func acknowledgedRecordsMissingFromAJournalComeBackFromTheLog() async throws {
        let fixture = VaultFixture()
        let first = try fixture.open()
        try await first.append([VaultFixture.text("nul")], for: self.alice)
        try await first.close()
        let vault = try fixture.open()
        let journal = fixture.journal(of: vault.pseudonym(of: self.alice))
        let synced = try fixture.bytes(journal)
        try await vault.append(["een", "twee", "drie"].map(VaultFixture.text), for: self.alice)
        _ = try await vault.records(for: self.alice)  // The journal's file is written (not synced).
        #expect(try fixture.bytes(journal).count > synced.count)
        // As after a crash: the log was synced, the journal's last writes were not.
        let copy = try Self.copy(fixture.root)
        try fixture.write(synced, to: copy + "/coachees/\(vault.pseudonym(of: self.alice).hex)/journal")
        try await vault.close()

        let recovered = try Vault(configuration: VaultConfiguration(directory: copy), masterKey: fixture.key, logger: fixture.logger)
        #expect(try await recovered.records(for: self.alice).map { String(decoding: $0.payload, as: UTF8.self) } == ["nul", "een", "twee", "drie"])
        #expect(try FileManager.default.attributesOfItem(atPath: copy + "/wal")[.size] as? Int == 0)
        try await recovered.close()
    }

    @Test func aNewJournalWhoseFilesWereNotMadeYetComesBackFromTheLog() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append(["een", "twee"].map(VaultFixture.text), for: self.alice)
        try await vault.append([NewRecord(.outboxQueued, Array("antwoord".utf8))], to: SystemJournalID("outbox.test"))
        try await vault.append([VaultFixture.text("drie")], for: self.alice)
        let pseudonym = vault.pseudonym(of: self.alice)
        // Before any checkpoint: the log holds the new journals' keys and records, nothing else does.
        #expect(vault.contains(self.alice))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory(of: pseudonym)))
        #expect(try await vault.records(for: self.alice).map { String(decoding: $0.payload, as: UTF8.self) } == ["een", "twee", "drie"])
        // As after a crash now.
        let copy = try Self.copy(fixture.root)
        try await vault.close()

        let recovered = try Vault(configuration: VaultConfiguration(directory: copy), masterKey: fixture.key, logger: fixture.logger)
        #expect(try await recovered.records(for: self.alice).map { String(decoding: $0.payload, as: UTF8.self) } == ["een", "twee", "drie"])
        #expect(try await recovered.records(of: SystemJournalID("outbox.test")).map(\.payload) == [Array("antwoord".utf8)])
        #expect(FileManager.default.fileExists(atPath: copy + "/coachees/\(pseudonym.hex)/key"))
        #expect(try FileManager.default.attributesOfItem(atPath: copy + "/wal")[.size] as? Int == 0)
        #expect(try await recovered.append([VaultFixture.text("vier")], for: self.alice) == [3])
        try await recovered.close()
    }

    @Test func aSystemJournalErasedAsCompactionLeavesTheLogForTheNextCheckpointAndIsListedOnce() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        let outbox = SystemJournalID("outbox.test")
        try await vault.append([VaultFixture.text("een")], for: self.alice)
        // An outbox that empties three times: its journal erased each time, made again after.
        for round in 0..<3 {
            try await vault.append([NewRecord(.outboxQueued, Array("antwoord \(round)".utf8))], to: outbox)
            try await vault.erase(outbox)
            #expect(!vault.contains(outbox))
        }
        try await vault.append([NewRecord(.outboxQueued, Array("antwoord 3".utf8))], to: outbox)
        // No checkpoint came of it: the log still holds everything, the coachee's journal has no files.
        #expect(try fixture.bytes(fixture.root + "/wal").count > 0)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory(of: vault.pseudonym(of: self.alice))))
        #expect(try VaultBackup.erasedList(of: fixture.root).count == 1, "listed once, not once per erasure")
        #expect(try await vault.records(of: outbox).map(\.payload) == [Array("antwoord 3".utf8)])
        // As after a crash now: the replay skips the erased journals' records (their keys are
        // zeros in the log) and brings back the journal made last.
        let copy = try Self.copy(fixture.root)
        try await vault.close()

        let recovered = try Vault(configuration: VaultConfiguration(directory: copy), masterKey: fixture.key, logger: fixture.logger)
        #expect(try await recovered.records(of: outbox).map(\.payload) == [Array("antwoord 3".utf8)])
        #expect(try await recovered.records(for: self.alice).map { String(decoding: $0.payload, as: UTF8.self) } == ["een"])
        try await recovered.erase(outbox)
        #expect(try VaultBackup.erasedList(of: copy).count == 1)
        try await recovered.close()
    }

    @Test func aNewJournalWhoseFilesFailAtTheCheckpointLeavesNoKeyBehindAndTheRetryMakesThemAll() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        let coachees = (0..<12).map { CoacheeID("@teacher\($0):school.example") }
        for coachee in coachees {
            try await vault.append([VaultFixture.text("van \(coachee.rawValue)")], for: coachee)
        }
        // The checkpoint makes the twelve journals' files side by side; the fifth key written fails.
        final class Count: Sendable { let value = Mutex(0) }
        let keyWrites = Count()
        FileFaults.arm(under: fixture.root) { call, path in
            guard call == .write, path.hasSuffix("/key.tmp") else { return nil }
            return keyWrites.value.withLock { count in
                count += 1
                return count == 5 ? .fail(ENOSPC) : nil
            }
        }
        await #expect(throws: VaultError.self) { _ = try await vault.eraseInactive(before: Date(timeIntervalSince1970: 0)) }
        FileFaults.disarm(under: fixture.root)
        #expect(keyWrites.value.withLock { $0 } >= 5)
        // Nothing half made counts: no key, not even a temporary one; the log holds everything.
        #expect(!fixture.allFiles().contains { $0.hasSuffix("/key") || $0.hasSuffix("/key.tmp") }, "\(fixture.allFiles())")
        #expect(try fixture.bytes(fixture.root + "/wal").count > 0)
        for coachee in coachees {
            #expect(try await vault.records(for: coachee).map { String(decoding: $0.payload, as: UTF8.self) } == ["van \(coachee.rawValue)"])
        }

        // The next checkpoint makes them all, and they open again after a restart.
        #expect(try await vault.eraseInactive(before: Date(timeIntervalSince1970: 0)) == 0)
        #expect(try fixture.bytes(fixture.root + "/wal").isEmpty)
        for coachee in coachees {
            #expect(FileManager.default.fileExists(atPath: fixture.directory(of: vault.pseudonym(of: coachee)) + "/key"))
        }
        try await vault.close()
        let reopened = try fixture.open()
        for coachee in coachees {
            #expect(try await reopened.records(for: coachee).map { String(decoding: $0.payload, as: UTF8.self) } == ["van \(coachee.rawValue)"])
        }
        try await reopened.close()
    }

    @Test func aNewJournalErasedBeforeItsFilesAreMadeStaysErasedAfterACrash() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("geheim")], for: self.alice)
        try await vault.append([VaultFixture.text("van Bob")], for: self.bob)
        // The log is not emptied after the erasure (the disk refuses): it still holds Alice's key
        // and record, and the erasure must make them unreadable there.
        FileFaults.arm(under: fixture.root) { call, path in call == .truncate && path.hasSuffix("/wal") ? .fail(EIO) : nil }
        try await vault.forget(self.alice)
        FileFaults.disarm(under: fixture.root)
        #expect(try fixture.bytes(fixture.root + "/wal").count > 0)
        #expect(!vault.contains(self.alice))
        #expect(try await vault.records(for: self.alice).isEmpty)
        let erased = try Self.copy(fixture.root)
        // Made again after the erasure, under a new key.
        try await vault.append([VaultFixture.text("opnieuw")], for: self.alice)
        let madeAgain = try Self.copy(fixture.root)
        try await vault.close()

        for (copy, expected) in [(erased, [String]()), (madeAgain, ["opnieuw"])] {
            let recovered = try Vault(configuration: VaultConfiguration(directory: copy), masterKey: fixture.key, logger: fixture.logger)
            #expect(try await recovered.records(for: self.alice).map { String(decoding: $0.payload, as: UTF8.self) } == expected)
            #expect(recovered.contains(self.alice) == !expected.isEmpty)
            #expect(try await recovered.records(for: self.bob).count == 1)
            try await recovered.close()
        }
    }

    @Test func aBackupHoldsNewJournalsAndARestoreForgetsThoseErasedSince() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("van Alice")], for: self.alice)
        try await vault.append([VaultFixture.text("van Bob")], for: self.bob)
        // Taken while both journals are in the log only.
        let backup = FileIO_parent(fixture.root) + "/backup"
        #expect(try VaultBackup.copy(from: fixture.root, to: backup).coachees == 0)
        try await vault.forget(self.alice)
        try await vault.close()

        // The backup alone: both, as they were when it was taken.
        let asTaken = FileIO_parent(fixture.root) + "/as-taken"
        _ = try VaultBackup.restore(from: backup, to: asTaken, erasedSince: [])
        let first = try Vault(configuration: VaultConfiguration(directory: asTaken), masterKey: fixture.key, logger: fixture.logger)
        #expect(try await first.records(for: self.alice).count == 1)
        #expect(try await first.records(for: self.bob).count == 1)
        try await first.close()

        // In place of the vault that erased Alice since: she stays erased.
        let restored = FileIO_parent(fixture.root) + "/restored"
        _ = try VaultBackup.restore(from: backup, to: restored, erasedSince: try VaultBackup.erasedList(of: fixture.root))
        let second = try Vault(configuration: VaultConfiguration(directory: restored), masterKey: fixture.key, logger: fixture.logger)
        #expect(try await second.records(for: self.alice).isEmpty)
        #expect(!second.contains(self.alice))
        #expect(try await second.records(for: self.bob).count == 1)
        try await second.close()
    }

    /// A copy of a vault's directory: what a crash at this moment leaves (every acknowledged
    /// record is synced).
    static func copy(_ root: String) throws -> String {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-vault-copy-\(UUID().uuidString)/vault").path
        try FileManager.default.createDirectory(atPath: FileIO_parent(copy), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: root, toPath: copy)
        return copy
    }

    @Test func exportThenForgetThenExportGivesNothing() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("Mijn klas was onrustig"), NewRecord(.messageOut, Array("Wat werkte al?".utf8))], for: self.alice)
        try await vault.append([VaultFixture.text("Van Bob")], for: self.bob)
        let pseudonym = vault.pseudonym(of: self.alice)
        let records = try await vault.records(for: self.alice)
        let markdown = VaultExport.markdown(records, pseudonym: pseudonym, exportedAt: Date(timeIntervalSince1970: 1_800_000_100))
        #expect(markdown.contains("· message in · Mijn klas was onrustig"))
        #expect(markdown.contains("· message out · Wat werkte al?"))
        let json = try VaultExport.json(records, pseudonym: pseudonym, exportedAt: Date())
        #expect(json.contains("\"text\" : \"Mijn klas was onrustig\""))

        try await vault.forget(self.alice)
        #expect(try await vault.records(for: self.alice).isEmpty)
        #expect(!vault.contains(self.alice))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory(of: pseudonym)))
        #expect(try await vault.records(for: self.bob).count == 1)
        // A new conversation after erasure starts a new journal from 0.
        #expect(try await vault.append([VaultFixture.text("Opnieuw")], for: self.alice) == [0])
        try await vault.close()
    }

    @Test func retentionErasesInactiveCoacheesOnly() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        let longAgo = Date(timeIntervalSinceNow: -400 * 86_400)
        try await vault.append([NewRecord(.messageIn, Array("oud".utf8), time: longAgo)], for: self.alice)
        try await vault.append([NewRecord(.messageIn, Array("oud".utf8), time: longAgo)], for: self.bob)
        try await vault.append([NewRecord(.messageIn, Array("recent".utf8))], for: self.bob)
        let erased = try await vault.eraseInactive(before: Date(timeIntervalSinceNow: -365 * 86_400))
        #expect(erased == 1)
        #expect(!vault.contains(self.alice))
        #expect(try await vault.records(for: self.bob).count == 2)
        try await vault.close()
    }

    @Test func anErasureCutShortAfterTheKeyIsFinishedAtTheNextOpen() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("x")], for: self.alice)
        let pseudonym = vault.pseudonym(of: self.alice)
        try await vault.close()
        try FileManager.default.removeItem(atPath: fixture.directory(of: pseudonym) + "/key")
        let reopened = try fixture.open()
        #expect(!FileManager.default.fileExists(atPath: fixture.directory(of: pseudonym)))
        #expect(try await reopened.records(for: self.alice).isEmpty)
        try await reopened.close()
    }

    @Test func manyWritersAtOnceKeepEveryJournalInOrder() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open(checkpointBytes: 64 << 10)
        let coachees = (0..<40).map { CoacheeID("@teacher\($0):school.example") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for coachee in coachees {
                group.addTask {
                    for index in 0..<25 {
                        try await vault.append([VaultFixture.text("\(coachee.rawValue) \(index)")], for: coachee)
                    }
                }
            }
            try await group.waitForAll()
        }
        for coachee in coachees {
            let records = try await vault.records(for: coachee)
            #expect(records.map(\.sequence) == Array(0..<25))
            #expect(records.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<25).map { "\(coachee.rawValue) \($0)" })
        }
        try await vault.close()
    }

    /// Writers to one coachee at once: batches are sealed while the log syncs the one before,
    /// and checkpoints (every few KiB here) fall between them; every record keeps its own number,
    /// with none missing or doubled, before and after a reopen.
    @Test func writersToOneCoacheeGetEveryNumberOnceThroughCheckpoints() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open(checkpointBytes: 4 << 10)
        let payloads = try await withThrowingTaskGroup(of: [(UInt64, String)].self) { group in
            for writer in 0..<24 {
                group.addTask {
                    var written: [(UInt64, String)] = []
                    for index in 0..<20 {
                        let text = "writer \(writer) record \(index)"
                        let numbers = try await vault.append([VaultFixture.text(text), VaultFixture.text(text + " b")], for: self.alice)
                        written.append((numbers[0], text))
                        #expect(numbers.count == 2 && numbers[1] == numbers[0] + 1)
                    }
                    return written
                }
            }
            return try await group.reduce(into: [UInt64: String]()) { all, written in
                for (number, text) in written { all[number] = text }
            }
        }
        #expect(payloads.count == 24 * 20)
        for reader in [vault, nil] {
            let current: Vault
            if let reader { current = reader } else { current = try fixture.open(checkpointBytes: 4 << 10) }
            let records = try await current.records(for: self.alice)
            #expect(records.map(\.sequence) == Array(0..<UInt64(24 * 20 * 2)))
            for record in records where payloads[record.sequence] != nil {
                #expect(String(decoding: record.payload, as: UTF8.self) == payloads[record.sequence])
            }
            try await current.close()
        }
    }

    /// A new coachee's files are made off the store's queue; first appends of one new coachee
    /// at once make one data key, so every record opens after a reopen.
    @Test func firstAppendsOfOneNewCoacheeAtOnceMakeOneKey() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        let coachees = (0..<8).map { CoacheeID("@new\($0):school.example") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for coachee in coachees {
                for writer in 0..<6 {
                    group.addTask { try await vault.append([VaultFixture.text("first \(writer)")], for: coachee) }
                }
            }
            try await group.waitForAll()
        }
        try await vault.close()
        let reopened = try fixture.open()
        for coachee in coachees {
            let texts = try await reopened.records(for: coachee).map { String(decoding: $0.payload, as: UTF8.self) }
            #expect(texts.sorted() == (0..<6).map { "first \($0)" })
        }
        try await reopened.close()
    }

    /// A steady stream of appends does not hold back reads and erasures: the flush makes way for
    /// them between batches.
    @Test(.timeLimit(.minutes(1))) func operationsGoOnWhileWritersNeverStop() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open(checkpointBytes: 64 << 10)
        final class Flag: Sendable { let isSet = Atomic(false) }
        let stop = Flag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<32 {
                group.addTask {
                    let coachee = CoacheeID("@writer\(writer):school.example")
                    while !stop.isSet.load(ordering: .relaxed) {
                        try await vault.append([VaultFixture.text("a line")], for: coachee)
                    }
                }
            }
            for round in 0..<20 {
                let coachee = CoacheeID("@reader\(round):school.example")
                try await vault.append([VaultFixture.text("round \(round)")], for: coachee)
                #expect(try await vault.records(for: coachee).count == 1)
                try await vault.forget(coachee)
                #expect(try await vault.records(for: coachee).isEmpty)
            }
            stop.isSet.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }
        try await vault.close()
    }

    @Test func aKnownSentenceIsNowhereOnDisk() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open(checkpointBytes: 1 << 30)
        let sentence = "Ik voel me onzeker bij klas 3B sinds het incident van dinsdag"
        try await vault.append([VaultFixture.text(sentence), VaultFixture.text("@alice:school.example")], for: self.alice)
        // While open (the log still holds the records) and after closing.
        for phase in ["open", "closed"] {
            if phase == "closed" { try await vault.close() }
            let forms: [[UInt8]] = [
                Array(sentence.utf8), Array("klas 3B".utf8), Array("alice".utf8),
                Array(sentence.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] },
                Array(sentence.utf16).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] },
                Array(Data(sentence.utf8).base64EncodedString().utf8.prefix(24)),
            ]
            let files = fixture.allFiles()
            // Open: the naming key, the lock and the log (which holds the new journal's key); closed,
            // the journal and its key too.
            #expect(files.count >= (phase == "open" ? 3 : 5))
            #expect(files.contains(fixture.root + "/wal"))
            for file in files {
                let bytes = try fixture.bytes(file)
                for form in forms {
                    #expect(!Self.contains(bytes, form), "\(phase): \(file) holds a form of the sentence")
                }
            }
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

func FileIO_parent(_ path: String) -> String {
    URL(fileURLWithPath: path).deletingLastPathComponent().path
}
