import ArgumentParser
import Foundation
import HTTPTypes
import Histogram
import Logging
import ServiceLifecycle
import SpiegelApp
import SpiegelChat
import SpiegelCoach
import Prometheus
import SpiegelTestKit
import SpiegelVault

/// `spiegel-bench webhook`: signed plain-webhook messages from many teachers through the whole
/// path (verify, journal, dialogue step, reply journalled and queued, reply POSTed to a loopback
/// sink), end to end: from the start of the inbound request to the first reply at the sink.
struct WebhookBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Signed inbound messages from 1,000 teachers through the whole path to a loopback sink."
    )

    @Option(help: "Where to keep the data (a fresh folder is made inside and removed after). Default: the system's temporary directory.")
    var directory: String?

    @Option(help: "The Prompts directory.")
    var prompts = "Prompts"

    @Option(help: "Teachers sending at once.")
    var teachers = 1000

    @Option(help: "Messages per teacher (the first lines of the golden reflection).")
    var messages = 8

    func run() async throws {
        let base = (self.directory ?? FileManager.default.temporaryDirectory.path) + "/spiegel-bench-webhook-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let script = try String(contentsOfFile: self.prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8)
        let lines = Array((["hallo"] + script.split(separator: "\n").filter { $0.hasPrefix("> ") }.map { String($0.dropFirst(2)) }).prefix(self.messages))
        let sink = try await LoopbackHTTPServer.start()
        let secret = "benchmark-secret-of-the-bridge"
        var configuration = SpiegelConfiguration()
        configuration.server.port = 0
        configuration.dataDirectory = base
        configuration.promptsDirectory = self.prompts
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.plain.secret = secret
        configuration.plain.outboundURL = sink.url("/inbox")
        configuration.coach.rateLimitBurst = 10_000
        configuration.coach.maxActiveSessions = self.teachers
        configuration.httpClient.maxConnectionsPerHost = 64
        configuration.logLevel = .warning
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = SpiegelServer(configuration: configuration, registry: .init(), logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let services = try server.makeServices { _, port in portContinuation.yield(port) }.all
        let group = ServiceGroup(services: services, logger: logger)
        var clientConfiguration = CurlHTTPClient.Configuration()
        clientConfiguration.maxConnectionsPerHost = 256
        let client = CurlHTTPClient(configuration: clientConfiguration, logger: logger)
        let signature = PlainSignature(secret: Array(secret.utf8))

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ValidationError("the server did not start") }
            let url = "http://127.0.0.1:\(port)/hooks/plain"
            let clock = ContinuousClock()
            let start = clock.now
            let sent = try await withThrowingTaskGroup(of: [(String, ContinuousClock.Instant)].self) { senders in
                for teacher in 0..<self.teachers {
                    senders.addTask {
                        var times: [(String, ContinuousClock.Instant)] = []
                        for (index, line) in lines.enumerated() {
                            let id = "t\(teacher)-\(index)"
                            let body = [UInt8](try JSONSerialization.data(withJSONObject: [
                                "id": id, "user": "@teacher\(teacher):school.example", "room": "!dm-\(teacher)", "text": line, "ts": 1,
                            ] as [String: Any]))
                            let signed = signature.sign(body, at: Date())
                            var headers: HTTPFields = [.contentType: "application/json"]
                            headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
                            headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
                            let before = clock.now
                            let response = try await client.execute(HTTPClientRequest(method: .post, url: url, headerFields: headers, body: body, timeout: .seconds(120)))
                            guard response.status == .ok else { throw ValidationError("HTTP \(response.status.code)") }
                            times.append((id, before))
                        }
                        return times
                    }
                }
                var all: [String: ContinuousClock.Instant] = [:]
                for try await times in senders { for (id, at) in times { all[id] = at } }
                return all
            }
            // Wait for every message's first reply at the sink.
            let expected = sent.count
            for _ in 0..<6000 {
                let firsts = sink.received.filter { Self.key(of: $0)?.hasSuffix("#0") == true }.count
                if firsts >= expected { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let received = sink.received
            let end = received.map(\.receivedAt).max() ?? clock.now
            var latencies = Histogram<UInt64>(highestTrackableValue: 600_000_000_000)
            var matched = 0
            for request in received {
                guard let key = Self.key(of: request), key.hasSuffix("#0"), let started = sent[String(key.dropLast(2))] else { continue }
                latencies.record(Self.nanoseconds(request.receivedAt - started))
                matched += 1
            }
            let seconds = Double((end - start) / .milliseconds(1)) / 1000
            let milliseconds: (UInt64) -> String = { String(format: "%.2f ms", Double($0) / 1e6) }
            print("Plain webhook end to end: \(self.teachers) teachers at once, \(lines.count) messages each, fsync on, in \(base)")
            print("")
            print("| messages | replied | messages/s | p50 | p99 | p99.9 |")
            print("|---:|---:|---:|---:|---:|---:|")
            print("| \(expected) | \(matched) | \(String(format: "%.0f", Double(matched) / seconds)) | \(milliseconds(latencies.valueAtPercentile(50))) | "
                  + "\(milliseconds(latencies.valueAtPercentile(99))) | \(milliseconds(latencies.valueAtPercentile(99.9))) |")
            await group.triggerGracefulShutdown()
            await client.shutdown()
            try await tasks.waitForAll()
        }
        try await sink.stop()
    }

    /// The reply's key without its sender tag: `<message id>#<n>` (the outbox keys are
    /// `<tag>/<message id>#<n>`).
    static func key(of request: LoopbackHTTPServer.ReceivedRequest) -> String? {
        guard let key = (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String])?["key"] else { return nil }
        return key.split(separator: "/", maxSplits: 1).last.map(String.init)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds)) * 1_000_000_000 + UInt64(max(0, duration.components.attoseconds / 1_000_000_000))
    }
}
