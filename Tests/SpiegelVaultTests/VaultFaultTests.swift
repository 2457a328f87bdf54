import Foundation
import Glibc
import Synchronization
import SpiegelVault
import Testing

/// Faults injected at every file call of the vault's work (appends, checkpoints, snapshots, the
/// outbox's compaction, erasure, key rotation): nothing acknowledged is lost, nothing refused is
/// half-written, the files always open again, and a passing fault lets the vault go on.
@Suite struct VaultFaultTests {
    /// A journal of either namespace.
    enum Owner: Hashable {
        case coachee(CoacheeID)
        case system(SystemJournalID)

        func append(_ records: [NewRecord], in vault: Vault) async throws {
            switch self {
            case .coachee(let id): try await vault.append(records, for: id)
            case .system(let id): try await vault.append(records, to: id)
            }
        }

        func erase(in vault: Vault) async throws {
            switch self {
            case .coachee(let id): try await vault.forget(id)
            case .system(let id): try await vault.erase(id)
            }
        }

        func records(in vault: Vault) async throws -> [JournalRecord] {
            switch self {
            case .coachee(let id): try await vault.records(for: id)
            case .system(let id): try await vault.records(of: id)
            }
        }
    }

    let alice = Owner.coachee(CoacheeID("@alice:school.example"))
    let bob = Owner.coachee(CoacheeID("@bob:school.example"))
    let aliceID = CoacheeID("@alice:school.example")
    let bobID = CoacheeID("@bob:school.example")
    /// An outbox: a system journal.
    let outbox = Owner.system(SystemJournalID("outbox.plain"))

    /// Fails the `target`-th call (counting only `calls`) under a directory, once; then, when
    /// `cutBackFails`, the first truncation after it too.
    final class OneFault: Sendable {
        let target: Int
        let calls: Set<FileFaults.Call>
        let cutBackFails: Bool
        private let state = Mutex<(seen: Int, fired: FileFaults.Call?, cutBackRefused: Bool)>((0, nil, false))

        init(at target: Int, of calls: Set<FileFaults.Call>, cutBackFails: Bool = false) {
            self.target = target
            self.calls = calls
            self.cutBackFails = cutBackFails
        }

        /// The call that failed, if the count reached the target.
        var fired: FileFaults.Call? { self.state.withLock { $0.fired } }

        func decide(_ call: FileFaults.Call, _ path: String) -> FileFaults.Fault? {
            self.state.withLock { state -> FileFaults.Fault? in
                if call == .truncate, self.cutBackFails, state.fired == .write, !state.cutBackRefused {
                    state.cutBackRefused = true
                    return .fail(EIO)
                }
                guard self.calls.contains(call), state.fired == nil else { return nil }
                state.seen += 1
                guard state.seen == self.target else { return nil }
                state.fired = call
                switch call {
                case .write: return .short(7, ENOSPC)
                case .open: return .fail(EMFILE)
                case .sync, .truncate, .rename: return .fail(EIO)
                }
            }
        }
    }

    /// What the workload saw: the records each coachee was told are on disk, and those whose
    /// append failed.
    struct Outcome {
        var acknowledged: [Owner: [String]] = [:]
        var refused: [Owner: [String]] = [:]
        var erased: Set<Owner> = []
        var failures = 0
        var healthSeen: [VaultHealth] = []
    }

    /// Appends, snapshots, an outbox that empties (compaction: its journal erased) and an
    /// erasure, with a checkpoint after every write (`checkpointBytes: 1`).
    func workload(_ vault: Vault) async -> Outcome {
        var outcome = Outcome()
        func append(_ texts: [String], for coachee: Owner, type: RecordType = .messageIn) async {
            do {
                try await coachee.append(texts.map { NewRecord(type, Array($0.utf8), time: Date(timeIntervalSince1970: 1_800_000_000)) }, in: vault)
                outcome.acknowledged[coachee, default: []] += texts
            } catch {
                outcome.refused[coachee, default: []] += texts
                outcome.failures += 1
            }
            outcome.healthSeen.append(vault.health)
        }
        func forget(_ coachee: Owner) async {
            do {
                try await coachee.erase(in: vault)
            } catch {
                outcome.failures += 1
            }
            outcome.erased.insert(coachee)
            outcome.acknowledged[coachee] = nil
            outcome.refused[coachee] = nil
            outcome.healthSeen.append(vault.health)
        }
        await append(["a1", "a2"], for: self.alice)
        await append(["b1"], for: self.bob)
        await append(["o1", "o2"], for: self.outbox, type: .outboxQueued)
        await append(["snapshot a"], for: self.alice, type: .snapshot)
        await append(["o1"], for: self.outbox, type: .outboxDelivered)
        await forget(self.outbox)
        await append(["a3"], for: self.alice)
        await forget(self.bob)
        await append(["a4", "a5"], for: self.alice)
        await append(["b2"], for: self.bob)
        await append(["a6"], for: self.alice)
        return outcome
    }

    /// Runs the workload with one fault at each counted call in turn, until a run passes every
    /// call without reaching the target; checks the vault after each run.
    func campaign(calls: Set<FileFaults.Call>, cutBackFails: Bool = false) async throws -> [FileFaults.Call: Int] {
        var fired: [FileFaults.Call: Int] = [:]
        for target in 1... {
            let fixture = VaultFixture()
            let vault = try fixture.open(checkpointBytes: 1)
            let fault = OneFault(at: target, of: calls, cutBackFails: cutBackFails)
            FileFaults.arm(under: fixture.root) { fault.decide($0, $1) }
            var outcome = await self.workload(vault)
            FileFaults.disarm(under: fixture.root)
            // After the fault, one more write.
            if (try? await self.alice.append([VaultFixture.text("last")], in: vault)) != nil {
                outcome.acknowledged[self.alice, default: []].append("last")
            }
            let health = vault.health
            try? await vault.close()
            guard let call = fault.fired else {
                #expect(outcome.failures == 0)
                #expect(health == .healthy)
                break
            }
            fired[call, default: 0] += 1
            let context = "fault \(target) of \(calls) (\(call)), cut back fails: \(cutBackFails)"
            // Seen: by the writer that got an error, or (a checkpoint after the write was safe in
            // the log) in the vault's health.
            #expect(outcome.failures >= 1 || outcome.healthSeen.contains { $0 != .healthy }, "\(context) went unnoticed")
            if call == .sync {
                // What the disk holds is unknown after a failed sync of a file: the vault stopped.
                // (A directory's failed sync fails the step it belongs to.)
                #expect(health.isFailed || outcome.healthSeen.contains { $0 != .healthy }, "\(context): \(health)")
            } else {
                // A refused write is cut off and the next one goes through.
                #expect(health == .healthy, "\(context): \(health)")
            }
            // The files open again, every record opens, and each coachee has what it was told.
            let reopened = try fixture.open()
            _ = try await reopened.verifyAll()
            for coachee in [self.alice, self.bob, self.outbox] {
                let stored = try await coachee.records(in: reopened).map { String(decoding: $0.payload, as: UTF8.self) }
                let acknowledged = outcome.acknowledged[coachee] ?? []
                if call == .sync {
                    // Unknown outcome for the write whose sync failed: it may be there, in order.
                    #expect(stored.starts(with: acknowledged), "\(context): \(stored) against \(acknowledged)")
                    #expect(stored.count <= acknowledged.count + (outcome.refused[coachee]?.count ?? 0), "\(context): \(coachee) holds \(stored)")
                } else {
                    #expect(stored == acknowledged, "\(context): \(stored) against \(acknowledged)")
                }
            }
            // It takes writes after the restart.
            #expect(try await reopened.append([VaultFixture.text("after")], for: CoacheeID("@alice:school.example")).count == 1)
            try await reopened.close()
        }
        return fired
    }

    @Test func aShortWriteAnywhereIsCutOffAndTheNextWriteGoesThrough() async throws {
        let fired = try await self.campaign(calls: [.write])
        #expect(fired[.write, default: 0] >= 20, "\(fired)")
    }

    @Test func aShortWriteWhoseCutBackFailsTooIsCutBeforeTheNextWrite() async throws {
        let fired = try await self.campaign(calls: [.write], cutBackFails: true)
        #expect(fired[.write, default: 0] >= 20, "\(fired)")
    }

    @Test func aFailedSyncAnywhereStopsTheVaultAndARestartKeepsEveryAcknowledgedRecord() async throws {
        let fired = try await self.campaign(calls: [.sync])
        #expect(fired[.sync, default: 0] >= 20, "\(fired)")
    }

    @Test func runningOutOfFileDescriptorsAnywherePassesWithTheFault() async throws {
        let fired = try await self.campaign(calls: [.open, .rename])
        #expect(fired[.open, default: 0] >= 10, "\(fired)")
        #expect(fired[.rename, default: 0] >= 1, "\(fired)")
    }

    @Test func aDegradedVaultRecoversWithoutAWriteWhenAskedToRetry() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("een")], for: self.aliceID)
        // The disk is full for every write for a while.
        let isFull = Atomic<Bool>(true)
        FileFaults.arm(under: fixture.root) { call, _ in
            call == .write && isFull.load(ordering: .relaxed) ? .short(3, ENOSPC) : nil
        }
        defer { FileFaults.disarm(under: fixture.root) }
        await #expect(throws: VaultError.self) { try await vault.append([VaultFixture.text("twee")], for: self.aliceID) }
        guard case .degraded(let reason) = vault.health else {
            Issue.record("expected degraded, got \(vault.health)")
            return
        }
        #expect(reason == "writing the write-ahead log: No space left on device")
        // Asked to retry while the disk is still full: still degraded.
        #expect(await vault.retryIfDegraded() != .healthy)
        isFull.store(false, ordering: .relaxed)
        #expect(await vault.retryIfDegraded() == .healthy)
        try await vault.append([VaultFixture.text("drie")], for: self.aliceID)
        #expect(try await vault.records(for: self.aliceID).map { String(decoding: $0.payload, as: UTF8.self) } == ["een", "drie"])
        try await vault.close()
    }

    @Test func aFailedSyncWakesWhoeverWaitsForFailure() async throws {
        let fixture = VaultFixture()
        let vault = try fixture.open()
        try await vault.append([VaultFixture.text("nul")], for: self.aliceID)
        let waiter = Task { await vault.failure() }
        FileFaults.arm(under: fixture.root) { call, _ in call == .sync ? .fail(EIO) : nil }
        defer { FileFaults.disarm(under: fixture.root) }
        await #expect(throws: VaultError.self) { try await vault.append([VaultFixture.text("een")], for: self.aliceID) }
        #expect(await waiter.value == "syncing the write-ahead log: Input/output error")
        #expect(vault.health.isFailed)
        // Stopped for good: a sync that works again does not bring it back.
        FileFaults.disarm(under: fixture.root)
        let error = await #expect(throws: VaultError.self) { try await vault.append([VaultFixture.text("twee")], for: self.aliceID) }
        #expect(error?.code == .closed)
        // A cancelled wait returns nil.
        let other = try VaultFixture().open()
        let cancelled = Task { await other.failure() }
        cancelled.cancel()
        #expect(await cancelled.value == nil)
        try await other.close()
    }

    @Test func aKeyRotationCutShortByAFaultAnywhereFinishesWhenRunAgain() async throws {
        var fired = 0
        for target in 1... {
            let fixture = VaultFixture()
            let vault = try fixture.open()
            try await vault.append([VaultFixture.text("a")], for: self.aliceID)
            try await vault.append([VaultFixture.text("b")], for: self.bobID)
            try await vault.close()
            let newKey = MasterKey.generate()
            let fault = OneFault(at: target, of: [.write, .sync, .rename, .open])
            FileFaults.arm(under: fixture.root) { fault.decide($0, $1) }
            let failed = (try? KeyRotation.rotate(vault: fixture.root, from: fixture.key, to: newKey)) == nil
            FileFaults.disarm(under: fixture.root)
            guard fault.fired != nil else {
                #expect(!failed)
                break
            }
            fired += 1
            #expect(failed)
            // No temporary key file is left behind, and every key opens with one of the two.
            #expect(!fixture.allFiles().contains { $0.hasSuffix(".tmp") }, "\(fixture.allFiles())")
            let during = try fixture.open(key: newKey, previous: fixture.key)
            #expect(try await during.verifyAll().records == 2)
            try await during.close()
            try KeyRotation.rotate(vault: fixture.root, from: fixture.key, to: newKey)
            let after = try fixture.open(key: newKey)
            #expect(try await after.records(for: self.aliceID).count == 1)
            #expect(try await after.records(for: self.bobID).count == 1)
            try await after.close()
        }
        #expect(fired >= 6)
    }
}

extension VaultHealth {
    var isFailed: Bool { if case .failed = self { true } else { false } }
}
