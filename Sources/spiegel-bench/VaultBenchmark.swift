import ArgumentParser
import Foundation
import Histogram
import Logging
import SpiegelVault

/// `spiegel-bench vault`: durable appends per second with 1, 16 and 256 writers, next to the raw
/// `write`+`fdatasync` rate of the same disk; bytes per record; opening a 10,000-record journal.
struct VaultBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Durable appends per second with 1, 16 and 256 writers, against the disk's raw fsync rate."
    )

    @Option(help: "Where to write (a fresh folder is made inside and removed after). Default: the system's temporary directory.")
    var directory: String?

    @Option(help: "Seconds per measurement.")
    var seconds = 3.0

    func run() async throws {
        let base = (self.directory ?? FileManager.default.temporaryDirectory.path) + "/spiegel-bench-vault-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let payload = [UInt8](repeating: 0x6D, count: 200)

        let raw = try self.rawSyncRate(path: base + "/raw", size: payload.count + 41)
        print("Vault: durable appends of 200-byte records, \(self.seconds) s per run, in \(base)")
        print("Raw write+fdatasync of one \(payload.count + 41)-byte record: \(String(format: "%.0f", raw)) per second")
        print("")
        print("| writers | appends/s | × raw fsync rate | p50 | p99 |")
        print("|---:|---:|---:|---:|---:|")
        let key = MasterKey.generate()
        for writers in [1, 16, 256] {
            let vault = try Vault(configuration: VaultConfiguration(directory: base + "/vault-\(writers)"), masterKey: key, logger: Logger(label: "bench"))
            let (rate, latencies) = try await self.appendRate(vault, writers: writers, payload: payload)
            try await vault.close()
            let milliseconds: (UInt64) -> String = { String(format: "%.2f ms", Double($0) / 1e6) }
            print("| \(writers) | \(String(format: "%.0f", rate)) | \(String(format: "%.1f", rate / raw)) | "
                  + "\(milliseconds(latencies.valueAtPercentile(50))) | \(milliseconds(latencies.valueAtPercentile(99))) |")
        }
        print("")
        try await self.sizeAndOpenTime(base: base + "/vault-open", key: key, payload: payload)
    }

    private func rawSyncRate(path: String, size: Int) throws -> Double {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw ValidationError("cannot open \(path)") }
        defer { close(descriptor) }
        let record = [UInt8](repeating: 1, count: size)
        let clock = ContinuousClock()
        let end = clock.now + .seconds(self.seconds)
        var count = 0
        let start = clock.now
        while clock.now < end {
            _ = record.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            fdatasync(descriptor)
            count += 1
        }
        return Double(count) / Self.seconds(clock.now - start)
    }

    private func appendRate(_ vault: Vault, writers: Int, payload: [UInt8]) async throws -> (Double, Histogram<UInt64>) {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .seconds(self.seconds)
        let (count, histogram) = try await withThrowingTaskGroup(of: (Int, Histogram<UInt64>).self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let coachee = CoacheeID("bench-\(writer)")
                    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                    var count = 0
                    while clock.now < end {
                        let before = clock.now
                        try await vault.append([NewRecord(.messageIn, payload)], for: coachee)
                        let elapsed = clock.now - before
                        latencies.record(UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000))
                        count += 1
                    }
                    return (count, latencies)
                }
            }
            var total = 0
            var all = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
            for try await (count, latencies) in group {
                total += count
                all.add(latencies)
            }
            return (total, all)
        }
        return (Double(count) / Self.seconds(clock.now - start), histogram)
    }

    private func sizeAndOpenTime(base: String, key: MasterKey, payload: [UInt8]) async throws {
        let coachee = CoacheeID("bench-history")
        let configuration = VaultConfiguration(directory: base)
        let vault = try Vault(configuration: configuration, masterKey: key, logger: Logger(label: "bench"))
        for batch in 0..<100 {
            var records = (0..<100).map { _ in NewRecord(.messageIn, payload) }
            if batch == 99 { records[50] = NewRecord(.snapshot, payload) }
            try await vault.append(records, for: coachee)
        }
        let journal = base + "/coachees/\(vault.pseudonym(of: coachee).hex)/journal"
        try await vault.close()
        let size = (try FileManager.default.attributesOfItem(atPath: journal)[.size] as? Int) ?? 0
        let perRecord = Double(size - 4) / 10_000
        print("Bytes on disk per record of \(payload.count) bytes: \(String(format: "%.1f", perRecord)) (\(String(format: "%.1f", perRecord - Double(payload.count))) overhead)")

        let clock = ContinuousClock()
        var full: [Double] = []
        var fromSnapshot: [Double] = []
        for _ in 0..<5 {
            let reopened = try Vault(configuration: configuration, masterKey: key, logger: Logger(label: "bench"))
            var start = clock.now
            let all = try await reopened.records(for: coachee)
            full.append(Self.seconds(clock.now - start) * 1000)
            start = clock.now
            let recent = try await reopened.records(for: coachee, fromLatestSnapshot: true)
            fromSnapshot.append(Self.seconds(clock.now - start) * 1000)
            guard all.count == 10_000, recent.count == 50 else { throw ValidationError("read \(all.count) and \(recent.count) records") }
            try await reopened.close()
        }
        print(String(format: "Open a coachee with 10,000 records (median of 5): all records %.1f ms; from the latest snapshot %.1f ms",
                     full.sorted()[2], fromSnapshot.sorted()[2]))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
