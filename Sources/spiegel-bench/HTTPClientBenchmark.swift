import ArgumentParser
import Foundation
import HTTPTypes
import Histogram
import Logging
import SpiegelChat
import SpiegelTestKit
import Synchronization

/// `spiegel-bench http-client`: the libcurl client against a loopback sink, next to the `curl`
/// command-line tool (the same libcurl) sending the same load to the same sink in the same run.
struct HTTPClientBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-client",
        abstract: "Requests per second and latency of Spiegel's HTTP client, next to curl --parallel."
    )

    @Option(help: "POSTs per run.")
    var requests = 10_000

    @Option(help: "Request body size in bytes.")
    var bodySize = 1024

    @Option(help: "Comma-separated concurrency levels.")
    var concurrency = "1,8,64"

    @Option(help: "Runs per tool and level; the median run by requests per second is reported.")
    var rounds = 5

    @Option(help: "The curl command-line tool.")
    var curl = "/usr/bin/curl"

    @Flag(help: "Measure the client alone (the leak check uses this: it is about the client's memory).")
    var withoutCurl = false

    func run() async throws {
        let levels = self.concurrency.split(separator: ",").compactMap { Int($0) }
        let server = try await LoopbackHTTPServer.start(threads: 1)
        let body = [UInt8](repeating: 0x7A, count: self.bodySize)
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-bench-body-\(getpid())")
        try Data(body).write(to: bodyFile)
        defer { try? FileManager.default.removeItem(at: bodyFile) }

        print("Spiegel HTTP client vs the curl tool: \(self.requests) POSTs of \(self.bodySize) B to a loopback sink, median of \(self.rounds) runs")
        print("\(CurlHTTPClient.libcurlVersion)")
        print("")
        print("| concurrency | client req/s | curl req/s | client/curl | client p50 / p99 / p99.9 | curl p50 / p99 / p99.9 |")
        print("|---:|---:|---:|---:|---|---|")
        for level in levels {
            var clientRuns: [Measurement] = []
            var curlRuns: [Measurement] = []
            for _ in 0..<self.rounds {
                clientRuns.append(try await self.measureClient(server: server, body: body, concurrency: level))
                if !self.withoutCurl {
                    curlRuns.append(try self.measureCurl(server: server, bodyFile: bodyFile, concurrency: level))
                }
            }
            let client = Measurement.median(clientRuns)
            guard !curlRuns.isEmpty else {
                print("| \(level) | \(client.rate) | - | - | \(client.percentiles) | - |")
                continue
            }
            let curl = Measurement.median(curlRuns)
            let ratio = String(format: "%.0f%%", 100 * client.requestsPerSecond / curl.requestsPerSecond)
            print("| \(level) | \(client.rate) | \(curl.rate) | \(ratio) | \(client.percentiles) | \(curl.percentiles) |")
        }
        print("")
        print("TCP connections accepted by the sink: \(server.acceptedConnections)")
        try await server.stop()
    }

    private func measureClient(server: LoopbackHTTPServer, body: [UInt8], concurrency: Int) async throws -> Measurement {
        let client = CurlHTTPClient(
            configuration: .init(maxConnectionsPerHost: concurrency),
            logger: Logger(label: "spiegel-bench")
        )
        var fields = HTTPFields()
        fields[.contentType] = "application/octet-stream"
        let request = HTTPClientRequest(method: .post, url: server.url("/sink"), headerFields: fields, body: body)
        // Warm up: open the connections and fill the handle pool.
        try await self.drive(client, request, total: concurrency * 20, concurrency: concurrency)
        let start = ContinuousClock.now
        let histogram = try await self.drive(client, request, total: self.requests, concurrency: concurrency)
        let elapsed = ContinuousClock.now - start
        await client.shutdown()
        return Measurement(requests: self.requests, elapsed: elapsed, latencies: histogram)
    }

    @discardableResult
    private func drive(_ client: CurlHTTPClient, _ request: HTTPClientRequest, total: Int, concurrency: Int) async throws -> Histogram<UInt64> {
        let issued = Counter()
        return try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
                    while issued.next() < total {
                        let start = ContinuousClock.now
                        let response = try await client.execute(request)
                        guard response.status == .ok else { throw BenchmarkError(message: "sink answered \(response.status.code)") }
                        latencies.record((ContinuousClock.now - start).nanoseconds)
                    }
                    return latencies
                }
            }
            var all = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
            for try await part in group { all.add(part) }
            return all
        }
    }

    private func measureCurl(server: LoopbackHTTPServer, bodyFile: URL, concurrency: Int) throws -> Measurement {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.curl)
        process.arguments = [
            "--silent", "--no-progress-meter", "--fail",
            "--parallel", "--parallel-immediate", "--parallel-max", String(concurrency),
            "--header", "Content-Type: application/octet-stream",
            "--data-binary", "@\(bodyFile.path)",
            "--write-out", "%{time_total}\\n",
            server.url("/sink?n=[1-\(self.requests)]"),
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let start = ContinuousClock.now
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        guard process.terminationStatus == 0 else {
            throw BenchmarkError(message: "curl exited with \(process.terminationStatus)")
        }
        var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
        var count = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let seconds = Double(line) else { continue }
            latencies.record(UInt64(seconds * 1e9))
            count += 1
        }
        guard count == self.requests else {
            throw BenchmarkError(message: "curl reported \(count) transfers, expected \(self.requests)")
        }
        return Measurement(requests: count, elapsed: elapsed, latencies: latencies)
    }
}

/// One run: throughput and the latency distribution.
struct Measurement {
    let requests: Int
    let elapsed: Duration
    let latencies: Histogram<UInt64>

    var requestsPerSecond: Double {
        Double(self.requests) / (Double(self.elapsed.nanoseconds) / 1e9)
    }

    var rate: String { String(format: "%.0f", self.requestsPerSecond) }

    var percentiles: String {
        [50.0, 99.0, 99.9].map { String(format: "%.3f", Double(self.latencies.valueAtPercentile($0)) / 1e6) }
            .joined(separator: " / ") + " ms"
    }

    static func median(_ runs: [Measurement]) -> Measurement {
        runs.sorted { $0.requestsPerSecond < $1.requestsPerSecond }[runs.count / 2]
    }
}

/// Hands out request numbers to the worker tasks.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    /// The number before this call (0, 1, 2, ...).
    func next() -> Int { self.value.add(1, ordering: .relaxed).oldValue }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let message: String
    var description: String { self.message }
}

extension Duration {
    var nanoseconds: UInt64 {
        UInt64(self.components.seconds) * 1_000_000_000 + UInt64(self.components.attoseconds / 1_000_000_000)
    }
}
