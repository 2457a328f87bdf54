import Foundation
import Glibc
import HTTPTypes
import Logging
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// SIGHUP to a running `spiegel serve`: a new coach pairing from the file is in effect, the
/// conversation goes on where it was, and an invalid file is refused with the old one kept.
@Suite struct ReloadTests {
    typealias Run = SpiegelProcessTests.Run
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let secret = "a-shared-secret-of-the-bridge"

    @Test func sighupTakesANewPairingAndRefusesABrokenFile() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let receiver = try await LoopbackHTTPServer.start()
        let config = root.appendingPathComponent("spiegel.yaml").path
        let base = """
            data_dir: \(root.appendingPathComponent("data").path)
            prompts_dir: \(Self.prompts)
            server:
              port: 0
            plain:
              outbound_url: \(receiver.url("/inbox"))

            """
        try base.write(toFile: config, atomically: true, encoding: .utf8)
        let environment = ["SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded, "SPIEGEL_PLAIN_SECRET": Self.secret]
        let serve = try Run(["serve", "--config", config], environment: environment)
        defer { if serve.process.isRunning { serve.process.terminate() } }
        let port = try await serve.listeningPort()
        let client = CurlHTTPClient(logger: Logger(label: "test.reload"))
        let signature = PlainSignature(secret: Array(Self.secret.utf8))
        var id = 0
        func say(_ text: String) async throws -> String {
            id += 1
            let before = receiver.received.count
            let body = [UInt8](try JSONSerialization.data(withJSONObject: ["id": "r\(id)", "user": "@an", "room": "!an-dm", "text": text, "ts": 1] as [String: Any]))
            var headers: HTTPFields = [.contentType: "application/json"]
            let signed = signature.sign(body, at: TestTime.now())
            headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
            headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
            let response = try await client.execute(HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(port)/hooks/plain", headerFields: headers, body: body))
            #expect(response.status == .ok)
            try await serve.settled(port: port, client: client)
            return receiver.received.dropFirst(before).compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: String])?["text"] }.joined(separator: "\n")
        }
        /// Sends SIGHUP and waits until the server logged the outcome (done or refused).
        func reload() async throws {
            let before = serve.standardError.components(separatedBy: "spiegel.reload.").count
            kill(serve.process.processIdentifier, SIGHUP)
            try await Poll.until("the reload logged") { serve.standardError.components(separatedBy: "spiegel.reload.").count > before }
        }

        _ = try await say("hallo")
        #expect(try await say("delen").hasPrefix("Je hebt (nog) geen coach die aanvaard heeft."))
        try (base + "coach:\n  pairings: \"@an=@els\"\n").write(toFile: config, atomically: true, encoding: .utf8)
        try await reload()
        #expect(serve.process.isRunning)
        #expect(serve.standardError.contains("spiegel.reload.done"))
        #expect(try await say("delen").hasPrefix("Aan het eind van een gesprek stel ik een samenvatting"))
        // The conversation went on where it was: the time question is still open.
        #expect(try await say("1").hasPrefix("Wat zou een goede uitkomst van dit gesprek zijn?"))

        // A broken file is refused: the process stays up with what it had.
        try (base + "coach:\n  pairings: not-a-pair\n").write(toFile: config, atomically: true, encoding: .utf8)
        try await reload()
        #expect(serve.process.isRunning)
        #expect(serve.standardError.contains("spiegel.reload.refused"))
        #expect(serve.standardError.contains("coach.pairings"))
        #expect(try await say("delen").hasPrefix("Aan het eind van een gesprek stel ik een samenvatting"))

        serve.process.terminate()
        #expect(try await serve.exitStatus() == 0)
        try await receiver.stop()
    }
}
