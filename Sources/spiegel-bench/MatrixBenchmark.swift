import ArgumentParser
import Foundation
import HTTPTypes
import Histogram
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SpiegelApp
import SpiegelChat
import SpiegelCoach
import SpiegelTestKit
import SpiegelVault

#if canImport(Glibc)
import Glibc
#endif

/// `spiegel-bench matrix`: the round trip a teacher sees in Matrix, from sending a message to
/// Synapse to the bot's reply arriving in the teacher's `/sync`, for Spiegel as an application
/// service and, in the same run against the same Synapse, for a trivial echo application service
/// (the floor: Synapse's own round trip through an application service).
///
/// The two bots differ in more than the dialogue: the echo sends its reply *before* answering the
/// transaction 200, while Spiegel journals the message, queues the reply in its durable outbox,
/// answers 200 and delivers from the outbox afterwards; Spiegel also sends a read receipt and
/// typing on/off per message. All of that is part of what is measured.
///
/// A third probe is Spiegel in an end-to-end encrypted direct chat, its teacher an encrypting
/// client (matrix-nio with vodozemac, a Python process): its total includes that client's own
/// encryption, decryption and reading, so the comparable figure is Synapse's timestamps from the
/// teacher's message to the bot's reply (the push, Spiegel decrypting, coaching, encrypting and
/// sending).
///
/// The measurements are interleaved in blocks, so noise of the machine hits all alike. Messages go
/// one at a time (the next once the reply is seen).
struct MatrixBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "A teacher's round trip through Synapse to Spiegel (application service) and back, next to a trivial echo bot's."
    )

    @Option(help: "Where to keep the data (a fresh folder is made inside and removed after). Default: the system's temporary directory.")
    var directory: String?

    @Option(help: "The Prompts directory.")
    var prompts = "Prompts"

    @Option(help: "Measured messages per bot.")
    var messages = 500

    @Option(help: "Warm-up messages per bot, not counted.")
    var warmup = 20

    @Option(help: "Messages per block: the bots take turns, a block each.")
    var block = 50

    @Option(help: "Measured messages in the encrypted direct chat (0 leaves the probe out).")
    var encryptedMessages = 200

    static let serverName = "spiegel.test"

    func run() async throws {
        guard self.messages > 0, self.block > 0, self.warmup >= 0 else { throw ValidationError("--messages and --block must be positive, --warmup not negative") }
        let base = URL(fileURLWithPath: self.directory ?? FileManager.default.temporaryDirectory.path)
            .appendingPathComponent("spiegel-bench-matrix-\(getpid())")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let script = try String(contentsOfFile: self.prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8)
        let texts = ["hallo"] + script.split(separator: "\n").filter { $0.hasPrefix("> ") }.map { String($0.dropFirst(2)) }

        let spiegelPort = try SynapseHomeserver.freeLoopbackPort()
        var echoPort = try SynapseHomeserver.freeLoopbackPort()
        while echoPort == spiegelPort { echoPort = try SynapseHomeserver.freeLoopbackPort() }
        let spiegelRegistration = MatrixRegistration.generate(id: "spiegel", url: "http://127.0.0.1:\(spiegelPort)", senderLocalpart: "spiegel")
        let echoRegistration = MatrixRegistration.generate(id: "echo", url: "http://127.0.0.1:\(echoPort)", senderLocalpart: "echo")
        let spiegelFile = base.appendingPathComponent("spiegel-registration.yaml").path
        let echoFile = base.appendingPathComponent("echo-registration.yaml").path
        try spiegelRegistration.yaml(serverName: Self.serverName).write(toFile: spiegelFile, atomically: true, encoding: .utf8)
        try echoRegistration.yaml(serverName: Self.serverName).write(toFile: echoFile, atomically: true, encoding: .utf8)

        let synapse = try SynapseHomeserver(
            directory: base.appendingPathComponent("synapse"), serverName: Self.serverName, appserviceRegistrationFiles: [spiegelFile, echoFile]
        )
        do {
            try await synapse.start()
            var configuration = SpiegelConfiguration()
            configuration.server.port = spiegelPort
            configuration.dataDirectory = base.appendingPathComponent("spiegel").path
            configuration.promptsDirectory = self.prompts
            configuration.vaultMasterKey = MasterKey.generate().base64Encoded
            configuration.coach.rateLimitBurst = 10_000
            configuration.logLevel = .warning
            configuration.tryout.enabled = false
            configuration.matrix.homeserverURL = synapse.baseURL
            configuration.matrix.registrationFile = spiegelFile
            configuration.matrix.userID = synapse.userID("spiegel")
            let echo = EchoBot(
                hsToken: echoRegistration.hsToken,
                userID: synapse.userID("echo"),
                api: MatrixClientAPI(homeserverURL: synapse.baseURL, accessToken: echoRegistration.asToken)
            )
            try await self.measure(synapse: synapse, configuration: configuration, echo: echo, echoPort: echoPort, texts: texts, base: base)
        } catch {
            await synapse.stop()
            throw error
        }
        await synapse.stop()
    }

    /// Runs Spiegel and the echo bot, sets up the rooms, measures and prints.
    private func measure(
        synapse: SynapseHomeserver, configuration: SpiegelConfiguration, echo: EchoBot, echoPort: Int, texts: [String], base: URL
    ) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = SpiegelServer(configuration: configuration, registry: PrometheusCollectorRegistry(), logger: logger)
        let (spiegelPorts, spiegelContinuation) = AsyncStream.makeStream(of: Int.self)
        let services = try server.makeServices { spiegelContinuation.yield($0.port) }.all
        let (echoStarts, echoContinuation) = AsyncStream.makeStream(of: Void.self)
        let echoClient = CurlHTTPClient(logger: logger)
        let echoApplication = echo.application(port: echoPort, client: echoClient, logger: logger) { echoContinuation.yield() }
        // Stopped in reverse: the echo's server, its client, then Spiegel's services.
        let group = ServiceGroup(services: services + [echoClient, echoApplication], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                var ports = spiegelPorts.makeAsyncIterator()
                var starts = echoStarts.makeAsyncIterator()
                guard await ports.next() != nil, await starts.next() != nil else { throw ValidationError("Spiegel or the echo bot did not start") }
                try await self.measure(synapse: synapse, echo: echo, texts: texts, base: base)
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// One bot as the teacher sees it: its direct room, where it is in the texts, what was measured.
    private struct Probe {
        let name: String
        let bot: String
        let room: String
        var next = 0
        var total = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
        /// From the call to send until Synapse answered with the event id.
        var send = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
        /// Synapse's timestamp of the teacher's message to that of the bot's reply (milliseconds):
        /// the homeserver pushing the transaction, the bot, and the bot's send.
        var serverLeg = Histogram<UInt64>(highestTrackableValue: 60_000)

        /// The next text to send, in turn.
        mutating func nextText(of texts: [String]) -> String {
            defer { self.next += 1 }
            return texts[self.next % texts.count]
        }

        mutating func record(_ measured: (total: Duration, send: Duration, serverLeg: Int64)) {
            self.total.record(MatrixBenchmark.nanoseconds(measured.total))
            self.send.record(MatrixBenchmark.nanoseconds(measured.send))
            self.serverLeg.record(UInt64(max(0, measured.serverLeg)))
        }
    }

    private func measure(synapse: SynapseHomeserver, echo: EchoBot, texts: [String], base: URL) async throws {
        let teacher = try await synapse.register("teacher")
        let spiegelID = synapse.userID("spiegel")
        let echoRoom = try await teacher.createRoom(invite: [echo.userID], isDirect: true)
        try await teacher.waitForMembership(of: echo.userID, in: echoRoom)
        let spiegelRoom = try await teacher.createRoom(invite: [spiegelID], isDirect: true)
        try await teacher.waitForMembership(of: spiegelID, in: spiegelRoom)
        _ = try await teacher.waitForMessages(in: spiegelRoom, from: spiegelID, count: 1)
        var probes = [
            Probe(name: "echo (floor)", bot: echo.userID, room: echoRoom),
            Probe(name: "Spiegel", bot: spiegelID, room: spiegelRoom),
        ]
        // The encrypted chat: its teacher encrypts (a Python process with its own store).
        var encrypted: (teacher: E2EETestClient, probe: Probe)?
        if self.encryptedMessages > 0 {
            let account = try await synapse.register("teacher-e2ee")
            let client = try await E2EETestClient.start(homeserver: synapse.baseURL, client: account, store: base.appendingPathComponent("teacher-e2ee"))
            let room = try await client.createDirectChat(with: spiegelID)
            try await client.waitJoined(spiegelID, in: room)
            _ = try await client.waitForMessages(in: room, from: spiegelID, count: 1)
            encrypted = (client, Probe(name: "Spiegel, encrypted", bot: spiegelID, room: room))
        }
        defer {
            if let teacher = encrypted?.teacher { Task { await teacher.stop() } }
        }
        let bots = Set(probes.map(\.bot))
        var position = try await teacher.sync(since: nil, timeoutMilliseconds: 0).nextBatch

        // Warm-up, then the measured messages, the bots taking turns a block at a time.
        for index in probes.indices {
            for _ in 0..<self.warmup {
                _ = try await Self.exchange(teacher, &probes[index], texts: texts, bots: bots, position: &position)
            }
        }
        if let (client, first) = encrypted {
            var probe = first
            for _ in 0..<self.warmup {
                _ = try await Self.exchange(client, &probe, texts: texts)
            }
            encrypted = (client, probe)
        }
        var done = 0
        var encryptedDone = 0
        // The encrypted probe spreads its messages over the same blocks.
        let encryptedPerBlock = Int((Double(self.encryptedMessages) * Double(self.block) / Double(self.messages)).rounded(.up))
        while done < self.messages {
            let count = min(self.block, self.messages - done)
            for index in probes.indices {
                for _ in 0..<count {
                    let measured = try await Self.exchange(teacher, &probes[index], texts: texts, bots: bots, position: &position)
                    probes[index].record(measured)
                }
            }
            if let (client, before) = encrypted {
                var probe = before
                for _ in 0..<min(encryptedPerBlock, self.encryptedMessages - encryptedDone) {
                    let measured = try await Self.exchange(client, &probe, texts: texts)
                    probe.record(measured)
                    encryptedDone += 1
                }
                encrypted = (client, probe)
            }
            done += count
        }
        // Every message got exactly one reply (Spiegel's greeting besides).
        for probe in probes {
            let expected = self.warmup + self.messages + (probe.bot == spiegelID ? 1 : 0)
            let seen = try await teacher.messages(in: probe.room, limit: expected + 10, from: probe.bot).count
            guard seen == expected else { throw ValidationError("\(probe.name) sent \(seen) messages, \(expected) expected") }
        }
        if let (client, probe) = encrypted {
            let expected = self.warmup + encryptedDone + 1
            let seen = try await client.waitForMessages(in: probe.room, from: spiegelID, count: expected)
            guard seen.count == expected, seen.allSatisfy({ $0.encrypted && $0.decrypted }) else {
                throw ValidationError("the encrypted chat got \(seen.count) messages (\(seen.filter(\.decrypted).count) decrypted), \(expected) expected")
            }
            probes.append(probe)
        }
        self.report(probes, synapse: synapse, texts: texts, base: base)
    }

    /// Sends the probe's next text and long-polls `/sync` from `position` until the bot's reply is
    /// seen; moves `position` on.
    /// - Throws: when a bot says more than one thing, or nothing within 30 s.
    private static func exchange(
        _ teacher: MatrixTestClient, _ probe: inout Probe, texts: [String], bots: Set<String>, position: inout String
    ) async throws -> (total: Duration, send: Duration, serverLeg: Int64) {
        let text = probe.nextText(of: texts)
        let clock = ContinuousClock()
        let start = clock.now
        let eventID = try await teacher.send(text, to: probe.room)
        let sent = clock.now
        var sentAt: Int64?
        var replyAt: Int64?
        while replyAt == nil {
            guard clock.now - start < .seconds(30) else {
                throw ValidationError("\(probe.name) did not answer message \(probe.next) within 30 s")
            }
            let batch = try await teacher.sync(since: position, timeoutMilliseconds: 10_000)
            position = batch.nextBatch
            for (room, event) in batch.messages {
                if event.eventID == eventID {
                    sentAt = event.originServerTS
                } else if bots.contains(event.sender) {
                    guard room == probe.room, event.sender == probe.bot, replyAt == nil else {
                        throw ValidationError("an extra message from \(event.sender) after message \(probe.next) to \(probe.name)")
                    }
                    replyAt = event.originServerTS
                }
            }
        }
        let end = clock.now
        return (end - start, sent - start, (replyAt ?? 0) - (sentAt ?? replyAt ?? 0))
    }

    /// Sends the probe's next text from the encrypting client and waits for the bot's decrypted
    /// reply after it.
    private static func exchange(_ teacher: E2EETestClient, _ probe: inout Probe, texts: [String]) async throws -> (total: Duration, send: Duration, serverLeg: Int64) {
        let text = probe.nextText(of: texts)
        let clock = ContinuousClock()
        let start = clock.now
        let eventID = try await teacher.send(text, to: probe.room)
        let sent = clock.now
        let (reply, sentAt) = try await teacher.waitForReply(in: probe.room, from: probe.bot, after: eventID)
        let end = clock.now
        guard reply.encrypted, reply.decrypted else { throw ValidationError("the reply to encrypted message \(probe.next) was not encrypted and decrypted") }
        return (end - start, sent - start, (reply.originServerTS ?? 0) - (sentAt ?? reply.originServerTS ?? 0))
    }

    private func report(_ probes: [Probe], synapse: SynapseHomeserver, texts: [String], base: URL) {
        let milliseconds: (UInt64) -> String = { String(format: "%.2f", Double($0) / 1e6) }
        print("Matrix round trip: a teacher's message sent to Synapse \(Self.synapseVersion()) until the bot's reply is seen in the teacher's /sync")
        print("(long-poll), one message at a time, \(self.messages) per bot after \(self.warmup) warm-up, interleaved in blocks of \(self.block);")
        print("both bots application services on loopback, Spiegel in process (fsync on, data in \(base.path)).")
        print("Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, Linux \(Self.kernelRelease())")
        print("")
        print("| bot | messages | p50 ms | p90 ms | p99 ms | max ms | send answered p50 ms | Synapse ts message→reply p50 / p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for probe in probes {
            print("| \(probe.name) | \(probe.total.totalCount) | \(milliseconds(probe.total.valueAtPercentile(50))) | "
                  + "\(milliseconds(probe.total.valueAtPercentile(90))) | \(milliseconds(probe.total.valueAtPercentile(99))) | "
                  + "\(milliseconds(probe.total.max)) | \(milliseconds(probe.send.valueAtPercentile(50))) | "
                  + "\(probe.serverLeg.valueAtPercentile(50)) / \(probe.serverLeg.valueAtPercentile(99)) |")
        }
        print("")
        print("send answered: until Synapse answered the teacher's PUT with the event id. Synapse ts: the reply's origin_server_ts minus")
        print("the teacher's message's (the push to the bot, the bot, its send; millisecond resolution); the rest is /sync delivery.")
        if probes.count > 2 {
            print("Spiegel, encrypted: the teacher is matrix-nio (Python, vodozemac), whose own encrypting, decrypting and reading are in")
            print("its total; compare its Synapse ts with the others'.")
        }
        guard probes.count >= 2 else { return }
        let (echo, spiegel) = (probes[0].total, probes[1].total)
        func added(_ percentile: Double) -> String {
            let floor = Double(echo.valueAtPercentile(percentile)) / 1e6
            let delta = Double(spiegel.valueAtPercentile(percentile)) / 1e6 - floor
            return String(format: "%+.2f ms (%+.1f%%)", delta, floor > 0 ? 100 * delta / floor : 0)
        }
        print("")
        print("Spiegel adds: p50 \(added(50)), p99 \(added(99)) to the echo's round trip (aim: under 10%).")
    }

    /// Synapse's version from its venv, or "?".
    static func synapseVersion() -> String {
        guard let python = try? SynapseHomeserver.python() else { return "?" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import synapse; print(synapse.__version__)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "?" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let version = String(decoding: data, as: UTF8.self).split(separator: " ").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        return version.isEmpty ? "?" : version
    }

    /// `uname -r`.
    static func kernelRelease() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "?" }
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds)) * 1_000_000_000 + UInt64(max(0, duration.components.attoseconds / 1_000_000_000))
    }
}

/// The floor of ``MatrixBenchmark``: a trivial application service that accepts every invite of
/// its user and echoes every message (not its own) back into the room, both done before the
/// transaction is answered 200. Messages are not logged.
struct EchoBot: Sendable {
    /// The homeserver's token towards the bot.
    let hsToken: String
    /// The bot's user id (the registration's `sender_localpart`).
    let userID: String
    /// Requests with the registration's `as_token`.
    let api: MatrixClientAPI

    /// A transaction as the homeserver pushes it.
    private struct Transaction: Decodable {
        var events: LenientArray<MatrixEvent>?
    }

    /// The answer to an accepted transaction: `{}`.
    private struct Accepted: ResponseEncodable {}

    /// The bot's HTTP server on 127.0.0.1:`port`: `PUT /_matrix/app/v1/transactions/:txnId`.
    func application(
        port: Int, client: CurlHTTPClient, logger: Logger, onRunning: @escaping @Sendable () -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.put("/_matrix/app/v1/transactions/:txnId") { request, context -> Response in
            guard request.headers[.authorization] == "Bearer " + self.hsToken else {
                return Response(status: .forbidden)
            }
            let transaction = try await request.decode(as: Transaction.self, context: context)
            for event in transaction.events?.elements ?? [] {
                guard let room = event.roomID else { continue }
                let call: HTTPClientRequest
                if event.type == "m.room.member", event.stateKey == self.userID, event.content.membership == "invite" {
                    call = self.api.join(room)
                } else if event.type == "m.room.message", event.sender != self.userID, let text = event.content.body, let id = event.eventID {
                    call = self.api.send(text, to: room, transactionID: "echo-" + id)
                } else {
                    continue
                }
                let response = try await client.execute(call)
                guard response.status.kind == .successful else {
                    // Not answered 200: the homeserver sends the transaction again.
                    logger.error("bench.echo.request_failed", metadata: ["bench.status": "\(response.status.code)"])
                    return Response(status: .serviceUnavailable)
                }
            }
            return try Accepted().response(from: request, context: context)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "echo"),
            onServerRunning: { _ in onRunning() },
            logger: logger
        )
    }
}
