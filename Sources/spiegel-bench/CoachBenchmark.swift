import ArgumentParser
import Foundation
import Histogram
import Logging
import SpiegelCoach
import SpiegelDialogue
import SpiegelVault

/// `spiegel-bench coach`: messages per second through the coaching service (a dialogue step plus a
/// durable journal write) with many coachees at once, their latency, and the memory of 10,000
/// coachees on disk of which 500 are active.
struct CoachBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coach",
        abstract: "Messages per second through the coaching service with 1,000 coachees in parallel; memory with 10,000 on disk, 500 active."
    )

    @Option(help: "Where to write (a fresh folder is made inside and removed after). Default: the system's temporary directory.")
    var directory: String?

    @Option(help: "The Prompts directory.")
    var prompts = "Prompts"

    @Option(help: "Coachees talking at once, one table row each (comma-separated).")
    var coachees = "1,16,1000"

    @Option(help: "Messages per row at least: fresh groups of coachees follow each other until there were this many.")
    var messages = 4_000

    @Option(help: "Coachees on disk for the memory measurement.")
    var onDisk = 10_000

    @Option(help: "Of those, how many are active at once.")
    var active = 500

    func run() async throws {
        let base = (self.directory ?? FileManager.default.temporaryDirectory.path) + "/spiegel-bench-coach-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let library = try DialogueLoader.loadLibrary(directory: self.prompts)
        // A whole reflection: the teacher's lines of the golden transcript.
        let script = try String(contentsOfFile: self.prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8)
        let answers = ["hallo"] + script.split(separator: "\n").filter { $0.hasPrefix("> ") }.map { String($0.dropFirst(2)) }
        let loads = self.coachees.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let most = loads.max() ?? 1
        var configuration = CoachConfiguration()
        configuration.rateLimitBurst = 10_000
        configuration.maxActiveSessions = max(most, self.active)
        let logger = Logger(label: "bench")

        let vault = try Vault(configuration: VaultConfiguration(directory: base + "/vault"), masterKey: .generate(), logger: logger)
        let service = CoachingService(library: library, vault: vault, configuration: configuration, logger: logger)
        // Memory first, before the load tests leave their garbage: everyone on disk, then only
        // `active` of them in memory.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slice in 0..<50 {
                group.addTask {
                    for index in stride(from: slice, to: self.onDisk, by: 50) {
                        _ = try await service.handle(InboundMessage(coachee: CoacheeID("memory-\(index)"), text: "hallo"))
                    }
                }
            }
            try await group.waitForAll()
        }
        service.evictIdle(olderThan: .zero)
        let before = Self.residentMegabytes()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<self.active {
                group.addTask { _ = try await service.handle(InboundMessage(coachee: CoacheeID("memory-\(index * (self.onDisk / self.active))"), text: "1")) }
            }
            try await group.waitForAll()
        }
        print("Coaching service with \(library.graphs.count) graphs, in \(base)")
        print("Coachees in the vault: \(try vault.coacheeCount()); in memory: \(service.activeSessionCount)")
        print("Resident memory: \(String(format: "%.1f", before)) MiB with none in memory, \(String(format: "%.1f", Self.residentMegabytes())) MiB with \(service.activeSessionCount) active")
        service.evictIdle(olderThan: .zero)
        print("")
        print("Each coachee a whole reflection of \(answers.count) messages (a dialogue step and a durable journal write each):")
        print("")
        print("| coachees at once | messages | messages/s | p50 | p99 | p99.9 | p99 of first messages | p99 of the rest |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        var first = 0
        for load in loads {
            let clock = ContinuousClock()
            let start = clock.now
            let rounds = max(1, (self.messages + load * answers.count - 1) / (load * answers.count))
            // Every message, and apart: a coachee's first (it waits for the coachee's files to be
            // made) and the rest.
            typealias Latencies = (all: Histogram<UInt64>, first: Histogram<UInt64>, rest: Histogram<UInt64>)
            func empty() -> Latencies {
                (Histogram(highestTrackableValue: 60_000_000_000), Histogram(highestTrackableValue: 60_000_000_000), Histogram(highestTrackableValue: 60_000_000_000))
            }
            var latencies = empty()
            for _ in 0..<rounds {
                let offset = first
                let round = try await withThrowingTaskGroup(of: Latencies.self) { group in
                    for index in 0..<load {
                        group.addTask {
                            var latencies = empty()
                            let coachee = CoacheeID("bench-\(offset + index)")
                            for (number, answer) in answers.enumerated() {
                                let before = clock.now
                                let reply = try await service.handle(InboundMessage(coachee: coachee, text: answer))
                                precondition(reply.outcome == .processed && !reply.texts.isEmpty, "every message gets a reply")
                                let elapsed = Self.nanoseconds(clock.now - before)
                                latencies.all.record(elapsed)
                                if number == 0 { latencies.first.record(elapsed) } else { latencies.rest.record(elapsed) }
                            }
                            return latencies
                        }
                    }
                    var all = empty()
                    for try await latencies in group {
                        all.all.add(latencies.all)
                        all.first.add(latencies.first)
                        all.rest.add(latencies.rest)
                    }
                    return all
                }
                latencies.all.add(round.all)
                latencies.first.add(round.first)
                latencies.rest.add(round.rest)
                first += load
            }
            let elapsed = Double((clock.now - start) / .milliseconds(1)) / 1000
            let total = rounds * load * answers.count
            let milliseconds: (UInt64) -> String = { String(format: "%.2f ms", Double($0) / 1e6) }
            print("| \(load) | \(total) | \(String(format: "%.0f", Double(total) / elapsed)) | \(milliseconds(latencies.all.valueAtPercentile(50))) | "
                  + "\(milliseconds(latencies.all.valueAtPercentile(99))) | \(milliseconds(latencies.all.valueAtPercentile(99.9))) | "
                  + "\(milliseconds(latencies.first.valueAtPercentile(99))) | \(milliseconds(latencies.rest.valueAtPercentile(99))) |")
        }

        try await vault.close()
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(duration.components.seconds) * 1_000_000_000 + UInt64(duration.components.attoseconds / 1_000_000_000)
    }

    /// VmRSS of this process, from /proc.
    static func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return kilobytes / 1024
    }
}
