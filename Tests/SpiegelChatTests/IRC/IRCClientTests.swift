import Foundation
import Logging
import NIOCore
import NIOPosix
import SpiegelChat
import Testing

/// The IRC client without a server: what it does while there is none.
@Suite struct IRCClientTests {
    /// A loopback port nobody listens on.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }

    @Test func withNoServerItKeepsTryingAndStopsAtOnceWhenAsked() async throws {
        let port = try await Self.closedPort()
        let client = IRCClient(configuration: IRCClientConfiguration(host: "127.0.0.1", port: port, useTLS: false, nick: "spiegel"), logger: Logger(label: "test.irc"))
        let running = Task { await client.run { _, _ in } }
        // Refused, again and again: no session, and a delivery waits in vain (the outbox asks again
        // at once, and waits for the connection again).
        #expect(try await client.waitForSession(timeout: .milliseconds(1500)) == nil)
        let transport = IRCTransport(client: client, connectionWait: .milliseconds(100))
        #expect(await transport.deliver(OutboxEntry(key: "k", room: "an", text: "Hallo"), using: NeverClient()) == .retry(after: .zero))
        // stop() ends a backoff wait (up to minutes) at once.
        let clock = ContinuousClock()
        let stopped = clock.now
        await client.stop()
        await running.value
        #expect(clock.now - stopped < .seconds(5))
    }

    /// An HTTP client IRC never uses.
    struct NeverClient: HTTPClient {
        func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
            Issue.record("IRC made an HTTP request")
            throw CancellationError()
        }
    }
}
