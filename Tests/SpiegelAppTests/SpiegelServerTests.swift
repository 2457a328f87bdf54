import Foundation
import HTTPTypes
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SpiegelApp
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// The server in this process, on a loopback port the kernel picks, spoken to with the real
/// libcurl client.
@Suite struct SpiegelServerTests {
    /// `MetricsSystem` can be bootstrapped once per process: every test shares this registry.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Runs a server on a fresh data directory until `body` returns, then shuts it down gracefully.
    private func withServer(
        _ body: (_ baseURL: String, _ client: CurlHTTPClient, _ dataDirectory: String) async throws -> Void
    ) async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-data-\(UUID().uuidString)").path
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = dataDirectory
        configuration.vaultMasterKey = MasterKey.generate().base64Encoded
        try await Self.run(configuration) { server in try await body(server.baseURL, server.client, dataDirectory) }
    }

    /// A server of this process that a test talks to.
    struct Running {
        let baseURL: String
        let client: CurlHTTPClient
        let services: [any Service]

        /// Waits until every outbox has delivered (or dropped) all it was given: what a test sees
        /// at the receiver then is all the server will send for what it was sent so far.
        func settled() async throws {
            let outboxes = self.services.compactMap { $0 as? Outbox }
            try await Poll.until("every outbox empty") { outboxes.allSatisfy { $0.depth == 0 } }
        }

        /// Waits until the team reminders were checked at the clock's `date` or later.
        func teamRemindersChecked(through date: Date) async throws {
            let reminders = try #require(self.services.compactMap { $0 as? TeamReminderService }.first, "no team reminders run")
            try await Poll.until("team reminders checked through \(date)") { (reminders.checkedThrough ?? .distantPast) >= date }
        }
    }

    /// Runs a server with `configuration` on a port the kernel picks until `body` returns, then
    /// shuts it down gracefully. Its clock is `now`: the run's time unless the test states another.
    static func run(
        _ configuration: SpiegelConfiguration, now: @escaping @Sendable () -> Date = TestTime.now, _ body: (Running) async throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.server.port = 0
        let logger = Logger(label: "test.server")
        let server = SpiegelServer(configuration: configuration, registry: Self.registry, logger: logger, now: now)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let built = try server.makeServices { portContinuation.yield($0.port) }
        let (services, client) = (built.all, built.httpClient)
        let group = ServiceGroup(services: services, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = portStream.makeAsyncIterator()
            let port = try #require(await ports.next())
            try await body(Running(baseURL: "http://127.0.0.1:\(port)", client: client, services: services))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func healthzAnswersWhileTheProcessIsAlive() async throws {
        try await withServer { baseURL, client, _ in
            let response = try await client.execute(HTTPClientRequest(url: "\(baseURL)/healthz"))
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "application/json")
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"status":"ok"}"#)
        }
    }

    @Test func theDataDirectoryIsCreatedForTheOwnerAlone() async throws {
        try await withServer { _, _, dataDirectory in
            let attributes = try FileManager.default.attributesOfItem(atPath: dataDirectory)
            #expect(attributes[.posixPermissions] as? Int == 0o700)
        }
    }

    @Test func aDataDirectoryOfANewerFormatIsRefusedAndAnOlderOneIsRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-format-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Made before formats were marked (format 1): read, and marked as this format.
        try DataDirectory(path: path).prepare()
        #expect(try String(contentsOfFile: path + "/format", encoding: .utf8) == "spiegel data format 2\n")
        // Marked 1: read, and marked 2 (an older Spiegel must refuse it from now on).
        try "spiegel data format 1\n".write(toFile: path + "/format", atomically: true, encoding: .utf8)
        try DataDirectory(path: path).prepare()
        #expect(try String(contentsOfFile: path + "/format", encoding: .utf8) == "spiegel data format 2\n")
        try "spiegel data format 3\n".write(toFile: path + "/format", atomically: true, encoding: .utf8)
        #expect {
            try DataDirectory(path: path).prepare()
        } throws: { error in
            "\(error)".contains("was written by a newer Spiegel (data format 3; this Spiegel reads up to 2)")
        }
        #expect(try String(contentsOfFile: path + "/format", encoding: .utf8) == "spiegel data format 3\n", "nothing touched")
    }

    @Test func readyzFailsWhenTheDataDirectoryCannotBeWritten() async throws {
        try await withServer { baseURL, client, dataDirectory in
            let ready = try await client.execute(HTTPClientRequest(url: "\(baseURL)/readyz"))
            #expect(ready.status == .ok)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dataDirectory).sorted() == ["format", "vault"])

            try FileManager.default.removeItem(atPath: dataDirectory)
            let unready = try await client.execute(HTTPClientRequest(url: "\(baseURL)/readyz"))
            #expect(unready.status == .serviceUnavailable)
            #expect(String(decoding: unready.body, as: UTF8.self).contains("the data directory takes no writes"))
        }
    }

    @Test func metricsAreInPrometheusTextFormat() async throws {
        try await withServer { baseURL, client, _ in
            _ = try await client.execute(HTTPClientRequest(url: "\(baseURL)/healthz"))
            _ = try await client.execute(HTTPClientRequest(url: "\(baseURL)/no/such/route/private-words"))
            let response = try await client.execute(HTTPClientRequest(url: "\(baseURL)/metrics"))
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.contains("# TYPE hb_requests counter"))
            #expect(text.contains(#"http_route="/healthz""#))
            // Unknown paths are not recorded by what was typed into them.
            #expect(!text.contains("private-words"))
        }
    }

    @Test func anUnknownRouteIs404() async throws {
        try await withServer { baseURL, client, _ in
            let response = try await client.execute(HTTPClientRequest(url: "\(baseURL)/nothing-here"))
            #expect(response.status == .notFound)
        }
    }
}
