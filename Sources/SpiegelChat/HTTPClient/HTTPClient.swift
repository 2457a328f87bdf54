/// Sends HTTP requests to chat servers and webhooks.
///
/// The role the outbox and the transports depend on; ``CurlHTTPClient`` is the implementation.
public protocol HTTPClient: Sendable {
    /// Sends `request` and returns the response, whatever its status.
    ///
    /// - Throws: ``HTTPClientError`` when no response could be had (connection refused, DNS,
    ///   timeout, TLS, a body over the size cap), `CancellationError` when the task was cancelled.
    func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse
}
