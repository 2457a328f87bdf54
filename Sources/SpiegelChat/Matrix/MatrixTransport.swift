/// Matrix as a ``ChatTransport``: an outbox entry becomes `PUT …/send/{type}/{txnId}` with the
/// entry's key as the transaction id (so the homeserver posts a retried entry once), or a join or
/// leave. In an encrypted room the message is Megolm-encrypted at the moment it is sent (its room
/// key first goes to the members' devices); a join waits until the bot's device keys are on the
/// homeserver. A 429 waits as long as `M_LIMIT_EXCEEDED`'s `retry_after_ms` says.
public struct MatrixTransport: HTTPChatTransport {
    /// The transport's name at the gateway, in metrics and in the outbox's journal.
    public static let name = "matrix"
    public var name: String { Self.name }
    /// A turn is one Matrix message: one notification on a phone, and lists rendered as lists.
    public let combinesReplies = true
    public let api: MatrixClientAPI
    /// `nil` when end-to-end encryption is off.
    public let encryption: MatrixEncryption?

    public init(api: MatrixClientAPI, encryption: MatrixEncryption? = nil) {
        self.api = api
        self.encryption = encryption
    }

    public func request(for entry: OutboxEntry) async throws -> HTTPClientRequest {
        switch entry.action {
        case .join:
            // The device keys first, so the inviter's first room key reaches the bot; a device
            // that cannot start (see the log) does not keep the bot out of rooms for long.
            if let encryption = self.encryption, !encryption.isReady {
                _ = await encryption.waitUntilReady(timeout: .seconds(60))
            }
            return self.api.join(entry.room)
        case .leave:
            return self.api.leave(entry.room)
        case nil:
            if let encryption = self.encryption, try await encryption.isEncrypted(entry.room) {
                let content = try await encryption.encrypt(MatrixClientAPI.messageContent(entry.text), type: "m.room.message", in: entry.room)
                return self.api.send(type: "m.room.encrypted", content: content, to: entry.room, transactionID: entry.key)
            }
            return self.api.send(entry.text, to: entry.room, transactionID: entry.key)
        }
    }

    public func retryDelay(for response: HTTPClientResponse) -> Duration? {
        if let error = MatrixError(response), let milliseconds = error.retryAfterMilliseconds {
            return .milliseconds(milliseconds)
        }
        return retryAfterHeader(of: response)
    }
}
