import SpiegelChat

/// The try-out chat as a transport: the outbox delivers Spiegel's messages into the page's
/// ``TryoutMailboxes``, like any chat's outbox delivers to its chat server.
struct TryoutTransport: ChatTransport {
    static let name = "tryout"
    /// Try-out coachees are `tryout:<the browser's id>`: never a chat user's id.
    static let userPrefix = "tryout:"

    let mailboxes: TryoutMailboxes

    var name: String { Self.name }
    /// The page shows each message as it comes, and a choice's options as buttons.
    var combinesReplies: Bool { false }

    func deliver(_ entry: OutboxEntry, using client: any HTTPClient) async -> DeliveryOutcome {
        // Nothing but text reaches a browser: there are no rooms to join or leave.
        guard entry.action == nil else { return .delivered }
        do {
            try await self.mailboxes.addSpiegelMessage(entry.text, room: entry.room, queuedAt: entry.queuedAt)
            return .delivered
        } catch {
            // The journal could not be read to fill the page's view: the vault's trouble, for later.
            return .retry(after: nil)
        }
    }
}
