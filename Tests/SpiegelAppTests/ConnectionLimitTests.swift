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

    /// A server with the plain webhook, its connection limit and idle timeout as given.
    func withServer(maxConnections: Int, idleTimeout: Duration, _ body: (SpiegelServerTests.Running, PlainWebhookTests.Bridge, Int) async throws -> Void) async throws {
        let receiver = try await LoopbackHTTPServer.start()
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-limits-\(UUID().uuidString)").path
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        configuration.promptsDirectory = PlainWebhookTests.prompts
        configuration.plain.secret = PlainWebhookTests.secret
        configuration.plain.outboundURL = receiver.url("/inbox")
        configuration.server.maxConnections = maxConnections
        configuration.server.idleTimeout = idleTimeout
        try await SpiegelServerTests.run(configuration) { server in
            let port = try #require(URLComponents(string: server.baseURL)?.port)
            try await body(server, PlainWebhookTests.Bridge(server: server, receiver: receiver), port)
        }
        try await receiver.stop()
    }

    @Test func beyondTheLimitProbesAreAnsweredAndAMessageGetsAClear503() async throws {
        // An idle timeout longer than the test: the held connections stay until the test lets go.
        try await withServer(maxConnections: 20, idleTimeout: .seconds(600)) { server, bridge, port in
            var held: [HalfRequest]? = try (0..<30).map { _ in try HalfRequest(port: port) }
            try await Poll.until("the held connections counted") {
                // A probe beyond the limit comes back closed after its answer: the limit is reached.
                let health = try await server.client.execute(HTTPClientRequest(url: server.baseURL + "/healthz", timeout: .seconds(5)))
                return health.status == .ok && health.headerFields[.connection] == "close"
            }
            // The probes answer at once, a message is refused clearly instead of left to time out.
            #expect(try await server.client.execute(HTTPClientRequest(url: server.baseURL + "/readyz", timeout: .seconds(5))).status == .ok)
            let refused = try await bridge.post(id: "m0", text: "hallo")
            #expect(refused.status == 503)
            #expect(refused.body.contains("too many connections"), "\(refused.body)")
            // Those within the limit stay; those beyond it, with no whole request, are closed soon.
            try await Poll.until("the connections beyond the limit closed") { held?.filter { !$0.isClosedByServer }.count == 20 }
            // The crowd leaves: messages go through again.
            held = nil
            try await Poll.until("a message accepted once the crowd has gone") { try await bridge.post(id: "m1", text: "hallo").status == 200 }
            _ = try await bridge.waitForReceived(1)
        }
    }

    @Test func halfAHeaderAndSilenceIsClosedByTheIdleTimeout() async throws {
        try await withServer(maxConnections: 100, idleTimeout: .seconds(1)) { _, bridge, port in
            let half = try HalfRequest(port: port)
            try await Poll.until("the half request closed by the server", timeout: .seconds(30)) { half.isClosedByServer }
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
        }
    }
}
