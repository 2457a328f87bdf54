public import Logging
public import ServiceLifecycle

/// An ``HTTPClient`` on libcurl's multi interface.
///
/// One thread drives every transfer with `curl_multi_poll`, so a hundred requests in flight cost
/// one thread, and connections to a host are pooled and reused (at most
/// ``Configuration/maxConnectionsPerHost`` at once; further requests wait in line). TLS peers are
/// always verified; only `http` and `https` are allowed, redirects included.
///
/// Run it in a `ServiceGroup`, or call ``shutdown()`` when done. Shutdown is graceful: requests in
/// flight finish (each within its timeout), new ones fail with ``HTTPClientError/Code/shutDown``.
public final class CurlHTTPClient: HTTPClient, Service {
    /// Defaults for every request, and the connection pool's limits.
    public struct Configuration: Sendable {
        /// The longest a connect may take, TLS included.
        public var connectTimeout: Duration
        /// The longest a whole exchange may take.
        public var timeout: Duration
        /// The largest response body accepted, in bytes.
        public var maxResponseSize: Int
        /// A PEM file of certificate authorities to trust instead of the system's, for private CAs.
        public var caBundlePath: String?
        /// How many connections to one host may be open at once.
        public var maxConnectionsPerHost: Int
        /// The `User-Agent` header sent unless a request sets its own.
        public var userAgent: String

        /// Creates a configuration; every argument has a default fit for a chat bot.
        public init(
            connectTimeout: Duration = .seconds(5),
            timeout: Duration = .seconds(30),
            maxResponseSize: Int = 1 << 20,
            caBundlePath: String? = nil,
            maxConnectionsPerHost: Int = 16,
            userAgent: String = "Spiegel"
        ) {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maxResponseSize = maxResponseSize
            self.caBundlePath = caBundlePath
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.userAgent = userAgent
        }
    }

    /// The configuration this client was made with.
    public let configuration: Configuration
    private let loop: CurlMultiLoop
    private let logger: Logger

    /// Creates a client and starts its transfer thread.
    /// - Parameters:
    ///   - configuration: request defaults and pool limits.
    ///   - logger: where start and stop are logged; requests are not logged.
    public init(configuration: Configuration = .init(), logger: Logger) {
        precondition(CurlGlobal.isInitialized, "curl_global_init failed")
        self.configuration = configuration
        self.logger = logger
        self.loop = CurlMultiLoop(maxConnectionsPerHost: configuration.maxConnectionsPerHost)
    }

    deinit {
        self.loop.requestStop()
    }

    /// libcurl's version line, for example `libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13`.
    public static var libcurlVersion: String { CurlGlobal.versionDescription }

    /// Whether the libcurl in use was built with TLS, so `https` URLs work.
    public static var libcurlSupportsTLS: Bool { CurlGlobal.supportsTLS }

    public func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let transfer = CurlTransfer(request: request, defaults: self.configuration)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.continuation = continuation
                do {
                    try self.loop.submit(transfer)
                } catch {
                    transfer.continuation = nil
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            self.loop.cancel(transfer)
        }
    }

    /// Stops taking requests, lets those in flight finish, and releases every curl handle.
    public func shutdown() async {
        await self.loop.stop()
        self.logger.debug("spiegel.http_client.stopped")
    }

    /// Runs until graceful shutdown of the service group, then shuts the client down.
    public func run() async throws {
        self.logger.debug("spiegel.http_client.started", metadata: ["spiegel.libcurl": "\(Self.libcurlVersion)"])
        try? await gracefulShutdown()
        await self.shutdown()
    }
}
