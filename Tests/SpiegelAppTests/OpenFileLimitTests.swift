import Foundation
import Glibc
import HTTPTypes
import Logging
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// `spiegel serve` with one file descriptor to spare (the fault campaign's EMFILE episodes, made
/// exact): a message over the rate limit waits for its turn or is refused, the process stays up,
/// and once the limit is given back the conversation goes on.
@Suite struct OpenFileLimitTests {
    /// The descriptors `pid` has open.
    static func openFiles(of pid: Int32) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }

    static func setOpenFileLimit(of pid: Int32, to limit: Int) throws {
        let prlimit = Process()
        prlimit.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        prlimit.arguments = ["--pid", "\(pid)", "--nofile=\(limit):"]
        try prlimit.run()
        prlimit.waitUntilExit()
        #expect(prlimit.terminationStatus == 0)
    }

    @Test func withOneDescriptorToSpareServeStaysUpAndGoesOnAfterwards() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-emfile-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let receiver = try await LoopbackHTTPServer.start()
        let environment = [
            "SPIEGEL_DATA_DIR": directory, "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
            "SPIEGEL_PROMPTS_DIR": PlainWebhookTests.prompts, "SPIEGEL_SERVER_PORT": "0",
            "SPIEGEL_PLAIN_SECRET": PlainWebhookTests.secret, "SPIEGEL_PLAIN_OUTBOUND_URL": receiver.url("/inbox"),
            // One message at once: the next one within a minute waits for its turn (a task sleep).
            "SPIEGEL_COACH_RATE_LIMIT_BURST": "1", "SPIEGEL_COACH_RATE_LIMIT_INTERVAL": "2s",
            // On the real clock, also under `make test-dates`: libfaketime moves the continuous
            // clock too, so the rate limit's wait would end a month later. Nothing here depends
            // on the date.
            "LD_PRELOAD": "",
        ]
        let client = CurlHTTPClient(configuration: .init(), logger: Logger(label: "test"))
        let run = try SpiegelProcessTests.Run(["serve"], environment: environment)
        let port = try await run.listeningPort()
        func post(id: String, text: String) async throws -> Int {
            let body = [UInt8](try JSONSerialization.data(withJSONObject: ["id": id, "user": "@an:school.example", "room": "!an-dm", "text": text, "ts": 1] as [String: Any]))
            let signed = PlainSignature(secret: Array(PlainWebhookTests.secret.utf8)).sign(body, at: Date())
            var headers: HTTPFields = [.contentType: "application/json", .connection: "close"]
            headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
            headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
            let request = HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(port)/hooks/plain", headerFields: headers, body: body)
            return Int(try await client.execute(request).status.code)
        }
        #expect(try await post(id: "m1", text: "hallo") == 200)
        try await Poll.until("the first reply delivered") { receiver.received.count >= 1 }
        // One descriptor left (for the next connection); the journals the message needs are open.
        let pid = run.process.processIdentifier
        try Self.setOpenFileLimit(of: pid, to: try Self.openFiles(of: pid) + 1)
        // Over the rate limit: it waits for its turn, the first sleep of the process's tasks.
        let status = try await post(id: "m2", text: "1")
        #expect([200, 503].contains(status), "\(status)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(run.process.isRunning, "serve crashed: \(run.standardError.suffix(500))")
        // Given back: the limit it inherited from this process.
        var inherited = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &inherited)
        try Self.setOpenFileLimit(of: pid, to: Int(inherited.rlim_cur))
        #expect(try await post(id: "m3", text: "Rust bij de start") == 200)
        kill(pid, SIGTERM)
        #expect(try await run.exitStatus() == 0)
        await client.shutdown()
        try await receiver.stop()
    }

    /// The soft and hard open-file limits of `pid`, from `/proc/<pid>/limits`.
    static func openFileLimits(of pid: Int32) throws -> (soft: String, hard: String) {
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let fields = line.dropFirst("Max open files".count).split(separator: " ")
        return (String(fields[0]), String(fields[1]))
    }

    @Test func serveRaisesItsSoftOpenFileLimitToTheHardOne() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-nofile-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = [
            "SPIEGEL_DATA_DIR": directory, "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
            "SPIEGEL_PROMPTS_DIR": PlainWebhookTests.prompts, "SPIEGEL_SERVER_PORT": "0",
        ]
        // As systemd starts a unit without LimitNOFILE: 1,024 soft, more hard.
        let run = try SpiegelProcessTests.Run(["serve"], environment: environment, wrapper: ["/usr/bin/prlimit", "--nofile=1024:4096", "--"])
        _ = try await run.listeningPort()
        let limits = try Self.openFileLimits(of: run.process.processIdentifier)
        #expect(limits.soft == "4096" && limits.hard == "4096", "\(limits)")
        kill(run.process.processIdentifier, SIGTERM)
        #expect(try await run.exitStatus() == 0)
        #expect(run.standardError.contains("spiegel.open_file_limit.raised"))
    }
}
