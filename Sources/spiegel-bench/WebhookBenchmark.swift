import ArgumentParser
import Foundation
import HTTPTypes
import Hummingbird
import struct Histogram.Histogram
import Logging
import Metrics
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
///
/// In the same run and under the same load generator, the ceiling: a bare Hummingbird route that
/// verifies the signature, appends the message as one fsynced record to the teacher's journal in
/// the vault and answers 200. Spiegel's messages per second are reported as a share of it.
struct WebhookBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Signed inbound messages from many teachers through the whole path to a loopback sink, next to a bare route's ceiling."
    )

    @Option(help: "Where to keep the data (a fresh folder is made inside and removed after). Default: the system's temporary directory.")
    var directory: String?

    @Option(help: "The Prompts directory.")
    var prompts = "Prompts"

    @Option(help: "Teachers sending at once (comma-separated: one row each).")
    var teachers = "16,1000"

    @Option(help: "Messages per teacher (the first lines of the golden reflection).")
    var messages = 8

    @Flag(help: "Leave out the ceiling (the bare route).")
    var withoutCeiling = false

    @Option(help: "Messages per row at least: each teacher's place is taken by a new teacher, round after round, until there were this many.")
    var minimumMessages = 2_000

    @Option(help: "Also write an SVG plot of messages/s and p99 against teachers at once to this file.")
    var plot: String?

    @Option(help: "How often to run every row, interleaved (the ceilings, then Spiegel, then all again): the shares of each pass and their median follow the table. The plot takes the first pass.")
    var repeats = 1

    static let secret = "benchmark-secret-of-the-bridge"
    /// The registry `/metrics` would read, as in `spiegel serve`.
    static let registry = PrometheusCollectorRegistry()

    func run() async throws {
        // Spiegel's metrics go where `spiegel serve` sends them, so each message pays for them.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: Self.registry))
        let loads = self.teachers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !loads.isEmpty, loads.allSatisfy({ $0 > 0 }), self.messages > 0, self.repeats > 0 else {
            throw ValidationError("--teachers, --messages and --repeats must be positive")
        }
        let script = try String(contentsOfFile: self.prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8)
        let lines = Array((["hallo"] + script.split(separator: "\n").filter { $0.hasPrefix("> ") }.map { String($0.dropFirst(2)) }).prefix(self.messages))
        let root = (self.directory ?? FileManager.default.temporaryDirectory.path) + "/spiegel-bench-webhook-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        print("Plain webhook end to end: signed messages, \(lines.count) a teacher, one at a time per teacher, fsync on, in \(root)")
        print("Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, Linux \(MatrixBenchmark.kernelRelease())")
        print("")
        print("| route | teachers at once | messages | replied | messages/s | share of the ceiling | share of the ceiling with a reply | p50 | p99 | p99.9 | p99 of first messages | p99 of the rest | processor per message |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        var ceilingPoints: [ScalingPlot.Point] = [], replyingPoints: [ScalingPlot.Point] = []
        var spiegelPoints: [ScalingPlot.Point] = []
        // Each load's shares of the ceiling and of the ceiling with a reply, pass by pass.
        var shares: [Int: [(bare: Double, replying: Double)]] = [:]
        // The rows' data stays until the end: a file freed during the run would make the next
        // rows' new files slower (ext4 without a journal skips inodes freed in the last minutes).
        for pass in 0..<self.repeats {
            for teachers in loads {
                var ceiling: Double?, ceilingWithReply: Double?
                if !self.withoutCeiling {
                    let result = try await self.ceiling(teachers: teachers, lines: lines, base: root + "/ceiling-\(teachers)-\(pass)", replying: false)
                    ceiling = result.rate
                    Self.printRow(Self.ceilingRoute, teachers, result)
                    let replying = try await self.ceiling(teachers: teachers, lines: lines, base: root + "/ceiling-reply-\(teachers)-\(pass)", replying: true)
                    ceilingWithReply = replying.rate
                    Self.printRow(Self.replyingCeilingRoute, teachers, replying)
                    if pass == 0 {
                        ceilingPoints.append(.init(load: teachers, rate: result.rate, p99Milliseconds: Double(result.latencies.valueAtPercentile(99)) / 1e6))
                        replyingPoints.append(.init(load: teachers, rate: replying.rate, p99Milliseconds: Double(replying.latencies.valueAtPercentile(99)) / 1e6))
                    }
                }
                let (result, answered) = try await self.spiegel(teachers: teachers, lines: lines, base: root + "/spiegel-\(teachers)-\(pass)")
                Self.printRow("Spiegel, to the first reply", teachers, result, share: ceiling.map { result.rate / $0 }, shareWithReply: ceilingWithReply.map { result.rate / $0 })
                Self.printRow("Spiegel, to the 200", teachers, answered)
                if pass == 0 {
                    spiegelPoints.append(.init(load: teachers, rate: result.rate, p99Milliseconds: Double(result.latencies.valueAtPercentile(99)) / 1e6))
                }
                if let ceiling, let ceilingWithReply {
                    shares[teachers, default: []].append((bare: result.rate / ceiling, replying: result.rate / ceilingWithReply))
                }
            }
        }
        print("")
        print("Latency: from the start of a message's POST to its first reply at the sink (Spiegel and the ceiling with a reply), or to the 200")
        print("(the ceiling, and Spiegel's second row: the message journalled and its replies queued; the difference is the outbox's delivery).")
        print("The ceiling with a reply does the I/O Spiegel does for a turn (one message, the reply POSTed through the same HTTP client to the same")
        print("sink, after the 200), without the coaching, the outbox's journal and its order per room: Spiegel's share of it is what those cost.")
        print("A teacher's first message makes the teacher's journal: its key goes into the vault's log with the records, its files come at a checkpoint.")
        if self.repeats > 1 && !shares.isEmpty {
            print("")
            print("| teachers at once | share of the ceiling, pass by pass | median | share of the ceiling with a reply, pass by pass | median |")
            print("|---:|---|---:|---|---:|")
            let percent: (Double) -> String = { String(format: "%.0f %%", 100 * $0) }
            for teachers in loads {
                guard let passes = shares[teachers] else { continue }
                let bare = passes.map(\.bare), replying = passes.map(\.replying)
                print("| \(teachers) | \(bare.map(percent).joined(separator: ", ")) | \(percent(bare.median)) | \(replying.map(percent).joined(separator: ", ")) | \(percent(replying.median)) |")
            }
        }
        if let plot = self.plot {
            var series = [(name: "Spiegel, to the first reply", points: spiegelPoints)]
            if !ceilingPoints.isEmpty {
                series.append((name: Self.ceilingRoute, points: ceilingPoints))
                series.append((name: Self.replyingCeilingRoute, points: replyingPoints))
            }
            let chart = ScalingPlot(title: "Plain webhook: messages/s and p99 against teachers at once", loadLabel: "teachers at once (each one message at a time)", series: series)
            try chart.svg().write(toFile: plot, atomically: true, encoding: .utf8)
            print("Plot: \(plot)")
        }
    }

    /// What one load measured.
    struct Result {
        var messages: Int
        var replied: Int
        var rate: Double
        var latencies: Histogram<UInt64>
        /// The same, apart: each teacher's first message, and the rest.
        var firstLatencies: Histogram<UInt64>
        var restLatencies: Histogram<UInt64>
        /// Processor time of the whole process (load generator, sink and route) per message, in
        /// seconds.
        var processorPerMessage: Double
    }

    /// Whether a message id (`t<teacher>-<line>`) is the teacher's first message.
    static func isFirst(_ id: Substring) -> Bool { id.hasSuffix("-0") }

    static let ceilingRoute = "ceiling: verify, one fsynced record"
    static let replyingCeilingRoute = "ceiling with a reply: the same, then one signed reply posted"

    static func printRow(_ route: String, _ teachers: Int, _ result: Result, share: Double? = nil, shareWithReply: Double? = nil) {
        let milliseconds: (UInt64) -> String = { String(format: "%.2f ms", Double($0) / 1e6) }
        let shareText = [share, shareWithReply].map { $0.map { String(format: "%.0f %%", 100 * $0) } ?? "" }.joined(separator: " | ")
        let latencies = ([50, 99, 99.9].map { milliseconds(result.latencies.valueAtPercentile($0)) }
            + [milliseconds(result.firstLatencies.valueAtPercentile(99)), milliseconds(result.restLatencies.valueAtPercentile(99))]).joined(separator: " | ")
        let processor = String(format: "%.0f µs", result.processorPerMessage * 1e6)
        print("| \(route) | \(teachers) | \(result.messages) | \(result.replied) | \(String(format: "%.0f", result.rate)) | \(shareText) | \(latencies) | \(processor) |")
    }

    /// Spiegel on its plain webhook, replies to a loopback sink: measured to each message's first
    /// reply at the sink, and to its 200.
    private func spiegel(teachers: Int, lines: [String], base: String) async throws -> (toFirstReply: Result, toAnswer: Result) {
        let sink = try await LoopbackHTTPServer.start()
        var configuration = SpiegelConfiguration()
        configuration.server.port = 0
        configuration.dataDirectory = base
        configuration.promptsDirectory = self.prompts
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.plain.secret = Self.secret
        configuration.plain.outboundURL = sink.url("/inbox")
        configuration.coach.rateLimitBurst = 10_000
        // Sessions in memory as shipped (2,000): limiting them to the teachers at once evicted
        // teachers between their messages once others took the places of those who were done.
        configuration.coach.maxActiveSessions = max(CoachConfiguration().maxActiveSessions, teachers)
        configuration.httpClient.maxConnectionsPerHost = 64
        configuration.logLevel = .warning
        configuration.tryout.enabled = false
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = SpiegelServer(configuration: configuration, registry: Self.registry, logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let services = try server.makeServices { portContinuation.yield($0.port) }.all
        let group = ServiceGroup(services: services, logger: logger)
        let result = try await withThrowingTaskGroup(of: (Result, Result)?.self) { tasks in
            tasks.addTask { try await group.run(); return nil }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ValidationError("the server did not start") }
            let clock = ContinuousClock()
            let start = clock.now
            let processorStart = ProcessorTime.now()
            let sent = try await Self.drive(url: "http://127.0.0.1:\(port)/hooks/plain", teachers: teachers, lines: lines, rounds: self.rounds(teachers, lines))
            // Wait for every message's first reply at the sink.
            let replies = try await Self.measureReplies(at: sink, to: sent, since: start, processorStart: processorStart)
            await group.triggerGracefulShutdown()
            while try await tasks.next() != nil {}
            var answered = replies
            (answered.latencies, answered.firstLatencies, answered.restLatencies) = (sent.answered, sent.answeredFirst, sent.answeredRest)
            return (replies, answered)
        }
        try await sink.stop()
        return result
    }

    /// Waits for every message's first reply at `sink` (key `…/<message id>#0`), and measures
    /// each from the start of its message's POST; the rate counts to the last reply's arrival.
    static func measureReplies(
        at sink: LoopbackHTTPServer, to sent: Sent, since start: ContinuousClock.Instant, processorStart: Double
    ) async throws -> Result {
        let expected = sent.starts.count
        // Counted as they come (each body parsed once), so the wait takes no processor time
        // from the replies still on their way.
        var firsts = 0, looked = 0
        for _ in 0..<6000 {
            let received = sink.received
            firsts += received[looked...].filter { Self.key(of: $0)?.hasSuffix("#0") == true }.count
            looked = received.count
            if firsts >= expected { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let processorTime = ProcessorTime.now() - processorStart
        let received = sink.received
        let end = received.map(\.receivedAt).max() ?? start
        var latencies = Histogram<UInt64>(highestTrackableValue: 600_000_000_000)
        var firstLatencies = latencies, restLatencies = latencies
        var matched = 0
        for request in received {
            guard let key = Self.key(of: request), key.hasSuffix("#0"), let started = sent.starts[String(key.dropLast(2))] else { continue }
            let elapsed = Self.nanoseconds(request.receivedAt - started)
            latencies.record(elapsed)
            if Self.isFirst(key.dropLast(2)) { firstLatencies.record(elapsed) } else { restLatencies.record(elapsed) }
            matched += 1
        }
        return Result(
            messages: expected, replied: matched, rate: Double(matched) / Self.seconds(end - start), latencies: latencies,
            firstLatencies: firstLatencies, restLatencies: restLatencies, processorPerMessage: processorTime / Double(max(1, expected))
        )
    }

    /// The ceiling: Hummingbird, the signature checked, one record appended (fsynced, group
    /// commit) to the teacher's journal in a vault, 200. `replying`: then one reply, signed and
    /// POSTed by Spiegel's HTTP client to a loopback sink (measured to its arrival there).
    private func ceiling(teachers: Int, lines: [String], base: String, replying: Bool) async throws -> Result {
        var logger = Logger(label: "bench.ceiling")
        logger.logLevel = .warning
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let vault = try Vault(configuration: VaultConfiguration(directory: base + "/vault"), masterKey: MasterKey.generate(), logger: logger)
        let signature = PlainSignature(secret: Array(Self.secret.utf8))
        // The reply's way out, as Spiegel's: its HTTP client and the plain transport's signed JSON.
        let sink = replying ? try await LoopbackHTTPServer.start() : nil
        let replies = sink.map { sink in
            var clientConfiguration = CurlHTTPClient.Configuration()
            clientConfiguration.maxConnectionsPerHost = 64
            return (
                client: CurlHTTPClient(configuration: clientConfiguration, logger: logger),
                transport: PlainTransport(url: sink.url("/inbox"), signature: signature, now: { Date() })
            )
        }
        let router = Router()
        router.post("/hooks/plain") { request, _ -> Response in
            let body = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
            guard case .success = signature.verify(
                timestamp: request.headers[PlainSignature.timestampField],
                signature: request.headers[PlainSignature.signatureField], body: body, now: Date()
            ) else { return Response(status: .unauthorized) }
            let message = try JSONDecoder().decode(PlainInboundMessage.self, from: Data(body))
            try await vault.append([NewRecord(.messageIn, Array(message.text.utf8))], for: CoacheeID(message.user))
            if let replies {
                let reply = OutboxEntry(key: "ceiling/\(message.id)#0", room: message.room, text: "Wat zou een goede uitkomst van dit gesprek zijn?", replyTo: message.id)
                Task { _ = try? await replies.client.execute(replies.transport.request(for: reply)) }
            }
            return Response(status: .ok)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "ceiling"),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }, logger: logger
        )
        let group = ServiceGroup(services: [application], logger: logger)
        let result = try await withThrowingTaskGroup(of: Result?.self) { tasks in
            tasks.addTask { try await group.run(); return nil }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ValidationError("the ceiling did not start") }
            let clock = ContinuousClock()
            let start = clock.now
            let processorStart = ProcessorTime.now()
            let sent = try await Self.drive(url: "http://127.0.0.1:\(port)/hooks/plain", teachers: teachers, lines: lines, rounds: self.rounds(teachers, lines))
            let elapsed = clock.now - start
            var result = Result(
                messages: sent.starts.count, replied: sent.starts.count, rate: Double(sent.starts.count) / Self.seconds(elapsed), latencies: sent.answered,
                firstLatencies: sent.answeredFirst, restLatencies: sent.answeredRest,
                processorPerMessage: (ProcessorTime.now() - processorStart) / Double(max(1, sent.starts.count))
            )
            if let sink {
                result = try await Self.measureReplies(at: sink, to: sent, since: start, processorStart: processorStart)
            }
            await group.triggerGracefulShutdown()
            while try await tasks.next() != nil {}
            return result
        }
        await replies?.client.shutdown()
        try await sink?.stop()
        try await vault.close()
        return result
    }

    /// What the load generator sent: when each message started, by id, and how long each POST
    /// took to its answer (all, teachers' first messages, the rest).
    struct Sent {
        var starts: [String: ContinuousClock.Instant]
        var answered: Histogram<UInt64>
        var answeredFirst: Histogram<UInt64>
        var answeredRest: Histogram<UInt64>
    }

    /// How many teachers take each place in turn, for at least `minimumMessages` in a row.
    private func rounds(_ teachers: Int, _ lines: [String]) -> Int {
        max(1, (self.minimumMessages + teachers * lines.count - 1) / (teachers * lines.count))
    }

    /// The load generator: `teachers` at once, each sending its lines one at a time (the next once
    /// the previous was answered 200). Returns when each message started, by id, and how long
    /// each POST took (all, teachers' first messages, the rest).
    static func drive(url: String, teachers: Int, lines: [String], rounds: Int) async throws -> Sent {
        var clientConfiguration = CurlHTTPClient.Configuration()
        clientConfiguration.maxConnectionsPerHost = 256
        var logger = Logger(label: "bench.load")
        logger.logLevel = .warning
        let client = CurlHTTPClient(configuration: clientConfiguration, logger: logger)
        let signature = PlainSignature(secret: Array(Self.secret.utf8))
        let clock = ContinuousClock()
        defer { Task { await client.shutdown() } }
        return try await withThrowingTaskGroup(of: [(String, ContinuousClock.Instant, Duration)].self) { senders in
            for teacher in 0..<teachers {
                senders.addTask {
                    var times: [(String, ContinuousClock.Instant, Duration)] = []
                    for round in 0..<rounds {
                        let user = round * teachers + teacher
                        for (index, line) in lines.enumerated() {
                            let id = "t\(user)-\(index)"
                            let body = [UInt8](try JSONSerialization.data(withJSONObject: [
                                "id": id, "user": "@teacher\(user):school.example", "room": "!dm-\(user)", "text": line, "ts": 1,
                            ] as [String: Any]))
                            let signed = signature.sign(body, at: Date())
                            var headers: HTTPFields = [.contentType: "application/json"]
                            headers[PlainSignature.timestampField] = signed.timestamp
                            headers[PlainSignature.signatureField] = signed.signature
                            let before = clock.now
                            let response = try await client.execute(HTTPClientRequest(method: .post, url: url, headerFields: headers, body: body, timeout: .seconds(120)))
                            guard response.status == .ok else { throw ValidationError("HTTP \(response.status.code)") }
                            times.append((id, before, clock.now - before))
                        }
                    }
                    return times
                }
            }
            var starts: [String: ContinuousClock.Instant] = [:]
            var answered = Histogram<UInt64>(highestTrackableValue: 600_000_000_000)
            var answeredFirst = answered, answeredRest = answered
            for try await times in senders {
                for (id, at, took) in times {
                    starts[id] = at
                    answered.record(Self.nanoseconds(took))
                    if Self.isFirst(id[...]) { answeredFirst.record(Self.nanoseconds(took)) } else { answeredRest.record(Self.nanoseconds(took)) }
                }
            }
            return Sent(starts: starts, answered: answered, answeredFirst: answeredFirst, answeredRest: answeredRest)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration / .milliseconds(1)) / 1000
    }

    /// The reply's key without its sender tag: `<message id>#<n>` (the outbox keys are
    /// `<tag>/<message id>#<n>`).
    /// Read by scanning for `"key":"`, so that counting the replies takes little of the processor
    /// time being measured; a key with an escape in it is read by a JSON parser.
    static func key(of request: LoopbackHTTPServer.ReceivedRequest) -> String? {
        let marker = Array(#""key":""#.utf8)
        let body = request.body
        var key: String?
        if let start = body.indices.first(where: { body[$0...].starts(with: marker) }).map({ $0 + marker.count }),
           let end = body[start...].firstIndex(of: UInt8(ascii: "\"")), !body[start..<end].contains(UInt8(ascii: "\\")) {
            key = String(decoding: body[start..<end], as: UTF8.self)
        } else {
            key = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: String])?["key"]
        }
        return key?.split(separator: "/", maxSplits: 1).last.map(String.init)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds)) * 1_000_000_000 + UInt64(max(0, duration.components.attoseconds / 1_000_000_000))
    }
}
