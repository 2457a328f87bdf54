import Synchronization

/// IRC as a chat for the outbox: an entry becomes one PRIVMSG per line that fits the server's
/// 512 bytes (``IRCLineSplitter``), sent through the client's flood control; a join or leave
/// becomes JOIN or PART.
///
/// IRC acknowledges nothing: a line counts as delivered once it is written to the connection. A
/// connection that drops half-way through an entry leaves the lines not yet written; the retry
/// sends only those, so a teacher never reads a line twice.
public final class IRCTransport: ChatTransport {
    public static let name = "irc"
    public var name: String { Self.name }

    /// The connection the lines go out on.
    public let client: IRCClient
    private let splitter = IRCLineSplitter()
    /// How many lines of an entry (by key) are written already.
    private let progress = Mutex<[String: Int]>([:])
    /// How long a delivery waits for a connection before it hands the entry back to the outbox
    /// (which asks again at once).
    private let connectionWait: Duration

    public init(client: IRCClient, connectionWait: Duration = .seconds(20)) {
        self.client = client
        self.connectionWait = connectionWait
    }

    public func deliver(_ entry: OutboxEntry, using _: any HTTPClient) async -> DeliveryOutcome {
        // Not connected: tried again at once, which waits for the connection again. The outbox's
        // backoff (up to minutes after a long outage) would hold replies back after a reconnect.
        guard let session = try? await self.client.waitForSession(timeout: self.connectionWait) else { return .retry(after: .zero) }
        let messages: [IRCMessage]
        switch entry.action {
        case .join:
            messages = [.join(entry.room)]
        case .leave:
            messages = [IRCMessage(command: "PART", parameters: [entry.room])]
        case nil:
            messages = self.splitter.lines(for: entry.text, target: entry.room, prefixBytes: session.prefixBytes).map { .privmsg(to: entry.room, text: $0) }
        }
        // A room name IRC cannot carry (a space, a line break) never will be.
        for message in messages {
            do {
                _ = try message.serialized()
            } catch {
                return .dropped(reason: "\(error)")
            }
        }
        let done = self.progress.withLock { $0[entry.key] ?? 0 }
        for (index, message) in messages.enumerated().dropFirst(done) {
            do {
                try await self.client.send([message])
            } catch {
                return .retry(after: .zero)
            }
            self.progress.withLock { $0[entry.key] = index + 1 }
        }
        self.progress.withLock { _ = $0.removeValue(forKey: entry.key) }
        return .delivered
    }
}

/// What IRC accepts as names.
public enum IRCIdentifiers {
    /// A nick as RFC 2812 has it (letters, digits, `-[]\`^{}|_`, not starting with a digit or
    /// `-`), up to 30 characters.
    public static func isNick(_ text: String) -> Bool {
        let special = Set("-[]\\`^{}|_")
        guard let first = text.first, text.count <= 30, !first.isNumber, first != "-" else { return false }
        return text.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || special.contains($0) }
    }

    /// A channel name: `#` or `&`, then no space, comma, bell or colon, up to 50 characters.
    public static func isChannel(_ text: String) -> Bool {
        guard text.count >= 2, text.count <= 50, text.first == "#" || text.first == "&" else { return false }
        return !text.contains { $0 == " " || $0 == "," || $0 == "\u{7}" || $0 == ":" || $0 == "\r" || $0 == "\n" || $0 == "\0" }
    }
}
