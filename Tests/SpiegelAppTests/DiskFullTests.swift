import Foundation
import Glibc
import HTTPTypes
import Logging
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// `spiegel serve` on a real, small tmpfs that fills up: messages get 503 (never 200 for what was
/// not kept), `/readyz` says why, the process stays up, and once space is freed it goes on by
/// itself; a restart afterwards replays cleanly and the conversation goes on.
///
/// The tmpfs is mounted in a mount namespace of its own (`unshare -m`, held by a `sleep`), so
/// nothing is left mounted if the test dies; `spiegel` runs in it through `nsenter`, and the test
/// fills and frees it through `/proc/<holder>/root`. Needs root, as `make test` runs in CI.
@Suite(.serialized) struct DiskFullTests {
    /// A 4 MiB tmpfs in a mount namespace held by a sleeping process.
    final class SmallDisk {
        let holder = Process()
        let mountPoint: String

        init() throws {
            self.mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-small-disk-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: self.mountPoint, withIntermediateDirectories: true)
            let ready = Pipe()
            self.holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
            self.holder.arguments = ["-m", "sh", "-c", #"mount -t tmpfs -o size=4m,mode=0700 tmpfs "$1" && echo mounted && exec sleep 3600"#, "sh", self.mountPoint]
            self.holder.standardOutput = ready
            try self.holder.run()
            let line = String(decoding: ready.fileHandleForReading.readData(ofLength: 8), as: UTF8.self)
            guard line.hasPrefix("mounted") else {
                throw SpiegelProcessTests.ProcessTestError(message: "cannot mount a tmpfs in a mount namespace (run as root): \(line)")
            }
        }

        /// The mount point as the test sees it: through the holder's root.
        var fromOutside: String { "/proc/\(self.holder.processIdentifier)/root\(self.mountPoint)" }
        /// Runs a command inside the namespace.
        var wrapper: [String] { ["/usr/bin/nsenter", "-t", "\(self.holder.processIdentifier)", "-m", "--"] }

        /// Writes a file until the disk refuses: the disk is full.
        func fill() throws {
            let path = self.fromOutside + "/filler"
            let descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw SpiegelProcessTests.ProcessTestError(message: "cannot create the filler") }
            defer { close(descriptor) }
            let block = [UInt8](repeating: 0x2e, count: 4096)
            while block.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == block.count {}
            #expect(errno == ENOSPC)
        }

        func free() {
            unlink(self.fromOutside + "/filler")
        }

        func unmount() {
            self.holder.terminate()
            self.holder.waitUntilExit()
            try? FileManager.default.removeItem(atPath: self.mountPoint)
        }
    }

    @Test func aFullDiskGets503AndReadyzSaysWhyThenServiceResumesByItselfAndARestartIsClean() async throws {
        let disk = try SmallDisk()
        defer { disk.unmount() }
        let receiver = try await LoopbackHTTPServer.start()
        let environment = [
            "SPIEGEL_DATA_DIR": disk.mountPoint + "/data", "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
            "SPIEGEL_PROMPTS_DIR": PlainWebhookTests.prompts, "SPIEGEL_SERVER_PORT": "0",
            "SPIEGEL_PLAIN_SECRET": PlainWebhookTests.secret, "SPIEGEL_PLAIN_OUTBOUND_URL": receiver.url("/inbox"),
        ]
        let client = CurlHTTPClient(configuration: .init(), logger: Logger(label: "test"))
        func post(_ port: Int, id: String, text: String) async throws -> Int {
            Int(try await client.execute(try PlainWebhookTests.signedMessage(id: id, text: text, to: "http://127.0.0.1:\(port)")).status.code)
        }
        func get(_ port: Int, _ path: String) async throws -> (status: Int, body: String) {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"))
            return (Int(response.status.code), String(decoding: response.body, as: UTF8.self))
        }
        /// The distinct replies the receiver got (it keeps the first of each key), in order.
        func replies() -> [String] {
            var seen = Set<String>()
            return receiver.received.compactMap { request -> String? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String],
                    let key = object["key"], seen.insert(key).inserted
                else { return nil }
                return object["text"]
            }
        }

        // A long message, as a teacher may well send when the disk is full; under
        // `coach.max_message_length`, or it is refused as too long whatever the disk.
        let m2 = "Rust bij de start. " + String(repeating: "Ze kwamen binnen terwijl ik nog aan de deur stond en mijn materiaal niet klaarlag. ", count: 45)
        #expect(m2.count < 4_000)
        let first = try SpiegelProcessTests.Run(["serve"], environment: environment, wrapper: disk.wrapper)
        let port = try await first.listeningPort()
        #expect(try await post(port, id: "m1", text: "hallo") == 200)
        try await Poll.until("the first reply") { replies().count >= 1 }
        let before = replies().count
        // Once everything is delivered the outbox erases its journal (listing it as erased), and
        // nothing more is written until the next message. On a loaded machine that erasure came
        // after the disk was filled: the disk is filled once it is done.
        try await Poll.until("the outbox's journal erased") {
            (try? String(contentsOfFile: disk.fromOutside + "/data/vault/erased", encoding: .utf8))?.isEmpty == false
        }

        // The receiver goes down (the outbox grows), then the disk fills.
        receiver.inboxStatus = 503
        try disk.fill()
        #expect(try await post(port, id: "m2", text: m2) == 503)
        let ready = try await get(port, "/readyz")
        #expect(ready.status == 503)
        #expect(ready.body.contains("No space left on device") || ready.body.contains("takes no writes"), "\(ready.body)")
        #expect(try await get(port, "/healthz").status == 200)
        #expect(first.process.isRunning)
        // Still refused, and still up, however often the chat tries again.
        for _ in 0..<3 { #expect(try await post(port, id: "m2", text: m2) == 503) }

        // Space comes back: ready again without a restart, and the message goes through.
        disk.free()
        receiver.inboxStatus = 200
        try await Poll.until("ready again after the disk has room") { try await get(port, "/readyz").status == 200 }
        #expect(try await post(port, id: "m2", text: m2) == 200)
        try await Poll.until("the reply to the message refused while the disk was full") { replies().count > before }
        try await first.settled(port: port, client: client)
        kill(first.process.processIdentifier, SIGTERM)
        #expect(try await first.exitStatus() == 0)

        // The restart replays cleanly and the conversation goes on where it was.
        let second = try SpiegelProcessTests.Run(["serve"], environment: environment, wrapper: disk.wrapper)
        let again = try await second.listeningPort()
        let beforeRestart = replies().count
        #expect(try await post(again, id: "m3", text: "Ze luisterden beter") == 200)
        try await Poll.until("a reply after the restart") { replies().count > beforeRestart }
        kill(second.process.processIdentifier, SIGTERM)
        #expect(try await second.exitStatus() == 0)
        for log in [first.standardError, second.standardError] {
            #expect(!log.contains("replay_failed") && !log.contains("does not open") && !log.contains("corrupt"), "\(log.suffix(2000))")
        }
        #expect(first.standardError.contains("spiegel.vault.degraded"))
        #expect(first.standardError.contains("spiegel.vault.recovered"))
        // Never a word of the conversation in the logs.
        for log in [first.standardError, second.standardError] {
            #expect(!log.contains("Rust bij de start") && !log.contains("hallo"))
        }
        await client.shutdown()
        try await receiver.stop()
    }
}
