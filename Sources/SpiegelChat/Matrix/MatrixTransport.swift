/// Matrix as a ``ChatTransport``: an outbox entry becomes `PUT …/send/m.room.message/{txnId}`
/// with the entry's key as the transaction id (so the homeserver posts a retried entry once), or
/// a join or leave. A 429 waits as long as `M_LIMIT_EXCEEDED`'s `retry_after_ms` says.
public struct MatrixTransport: ChatTransport {
    /// The transport's name at the gateway, in metrics and in the outbox's journal.
    public static let name = "matrix"
    public var name: String { Self.name }
    /// A turn is one Matrix message: one notification on a phone, and lists rendered as lists.
    public let combinesReplies = true
    public let api: MatrixClientAPI

    public init(api: MatrixClientAPI) {
        self.api = api
    }

    public func request(for entry: OutboxEntry) -> HTTPClientRequest {
        switch entry.action {
        case .join: self.api.join(entry.room)
        case .leave: self.api.leave(entry.room)
        case nil: self.api.send(entry.text, to: entry.room, transactionID: entry.key)
        }
    }

    public func retryDelay(for response: HTTPClientResponse) -> Duration? {
        if let error = MatrixError(response), let milliseconds = error.retryAfterMilliseconds {
            return .milliseconds(milliseconds)
        }
        return retryAfterHeader(of: response)
    }
}
