import Foundation
import Glibc
import HTTPTypes
import SpiegelApp
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// Connections that send half a header and hold on (slowloris), beyond the server's connection
/// limit: probes still answer, a message gets a clear 503 with `Retry-After` instead of a timeout,
/// and the idle timeout frees the held connections, after which messages go through again.
@Suite struct ConnectionLimitTests {
    /// A TCP connection to 127.0.0.1 that has sent the start of a request and nothing more.
    final class HalfRequest {
        let descriptor: Int32

        init(port: Int) throws {
            self.descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw SpiegelProcessTests.ProcessTestError(message: "cannot connect: \(errno)") }
            let start = Array("POST /hooks/plain HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ".utf8)
            _ = start.withUnsafeBytes { send(self.descriptor, $0.baseAddress, $0.count, 0) }
        }

        /// Whether the server closed it (a read returns end of file or an error, without waiting).
        var isClosedByServer: Bool {
            var byte: UInt8 = 0
            let count = recv(self.descriptor, &byte, 1, Int32(MSG_DONTWAIT))
            return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }

        deinit { close(self.descriptor) }
    }

    @Test func halfHeadersBeyondTheLimitGetProbesAnsweredAClear503AndAreClosedByTheIdleTimeout() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-limits-\(UUID().uuidString)").path
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.promptsDirectory = PlainWebhookTests.prompts
        configuration.plain.secret = PlainWebhookTests.secret
        configuration.plain.outboundURL = receiver.url("/inbox")
        configuration.server.maxConnections = 20
        configuration.server.idleTimeout = .seconds(2)
        try await SpiegelServerTests.run(configuration) { server in
            let bridge = PlainWebhookTests.Bridge(server: server, receiver: receiver)
            let port = try #require(URLComponents(string: server.baseURL)?.port)
            // More half requests than the limit.
            let held = try (0..<30).map { _ in try HalfRequest(port: port) }
            try await Task.sleep(for: .milliseconds(200))
            // The probes answer at once.
            let health = try await server.client.execute(HTTPClientRequest(url: server.baseURL + "/healthz", timeout: .seconds(2)))
            #expect(health.status == .ok)
            // A message is refused clearly, not left to time out.
            let refused = try await bridge.post(id: "m0", text: "hallo")
            #expect(refused.status == 503)
            #expect(refused.body.contains("too many connections"), "\(refused.body)")
            // The idle timeout closes every held connection; then messages go through again.
            try await Poll.until("the held connections closed") { held.allSatisfy(\.isClosedByServer) }
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
            _ = try await bridge.waitForReceived(1)
        }
        try await receiver.stop()
    }
}
