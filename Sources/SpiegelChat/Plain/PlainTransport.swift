public import Foundation
import HTTPTypes

/// The plain webhook protocol (`docs/plain-protocol.md`) as a ``ChatTransport``: a bridge posts
/// signed messages to Spiegel (``PlainInboundMessage``, checked with ``PlainSignature``), and
/// Spiegel posts its replies, signed the same way, to the bridge's URL.
public struct PlainTransport: HTTPChatTransport {
    /// The transport's name at the gateway, in metrics and in the outbox's journal.
    public static let name = "plain"
    public var name: String { Self.name }
    /// A turn is one message: one notification on a phone, and lists kept together (a bridge to
    /// Mattermost or Slack shows them as lists).
    public let combinesReplies = true
    /// The largest body a message may have.
    public static let maxBodySize = 64 * 1024

    public let url: String
    public let signature: PlainSignature
    /// The clock of the signature's timestamp.
    public let now: @Sendable () -> Date

    public init(url: String, signature: PlainSignature, now: @escaping @Sendable () -> Date) {
        self.url = url
        self.signature = signature
        self.now = now
    }

    /// The signed POST that delivers an outbox entry to the bridge.
    public func request(for entry: OutboxEntry) -> HTTPClientRequest {
        let body = Self.body(of: entry)
        let signed = self.signature.sign(body, at: self.now())
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[PlainSignature.timestampField] = signed.timestamp
        headers[PlainSignature.signatureField] = signed.signature
        return HTTPClientRequest(method: .post, url: self.url, headerFields: headers, body: body, timeout: .seconds(15))
    }

    /// What Spiegel posts: `{"key", "reply_to"?, "room", "text"}`.
    static func body(of entry: OutboxEntry) -> [UInt8] {
        var message = JSONObjectWriter(capacity: entry.text.utf8.count + 128)
        message.add("key", entry.key)
        message.add("reply_to", entry.replyTo)
        message.add("room", entry.room)
        message.add("text", entry.text)
        return message.json
    }
}

/// A message of the plain protocol: `{"id", "user", "room", "text", "ts"}`.
public struct PlainInboundMessage: Equatable, Sendable, Decodable {
    public let id: String
    public let user: String
    public let room: String
    public let text: String
    /// When the bridge saw it, in seconds since 1970.
    public let ts: Int64

    /// The first field that is wrong, never quoting its value.
    public struct Problem: Error, Equatable, Sendable {
        public let field: String
        public let message: String
    }

    enum CodingKeys: String, CodingKey {
        case id, user, room, text, ts
    }

    /// The fields in the protocol's order, so the first wrong one is named.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try container.decode(String.self, forKey: .id)
        self.user = try container.decode(String.self, forKey: .user)
        self.room = try container.decode(String.self, forKey: .room)
        self.text = try container.decode(String.self, forKey: .text)
        self.ts = Int64(try container.decode(Double.self, forKey: .ts))
    }

    /// The message, or the first field that is wrong.
    public static func parse(_ body: [UInt8]) -> Result<PlainInboundMessage, Problem> {
        guard String(validating: body, as: UTF8.self) != nil else {
            return .failure(Problem(field: "body", message: "the body is not valid UTF-8"))
        }
        let message: PlainInboundMessage
        do {
            message = try JSONDecoder().decode(PlainInboundMessage.self, from: Data(body))
        } catch let error as DecodingError {
            return .failure(Self.problem(error))
        } catch {
            return .failure(Problem(field: "body", message: "the body is not a JSON object"))
        }
        for (field, value, max, allowEmpty) in [("id", message.id, 200, false), ("user", message.user, 255, false), ("room", message.room, 255, false), ("text", message.text, 60_000, true)] {
            guard allowEmpty || !value.isEmpty else { return .failure(Problem(field: field, message: "\(field) must not be empty")) }
            guard value.utf8.count <= max else { return .failure(Problem(field: field, message: "\(field) is longer than \(max) bytes")) }
        }
        guard !message.user.hasPrefix("spiegel:") else { return .failure(Problem(field: "user", message: "user may not start with spiegel:")) }
        return .success(message)
    }

    /// The field a decoding error is about, and what it must be.
    private static func problem(_ error: DecodingError) -> Problem {
        let path: [any CodingKey]
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context): path = context.codingPath
        case .keyNotFound(let key, let context): path = context.codingPath + [key]
        case .dataCorrupted(let context): path = context.codingPath
        @unknown default: path = []
        }
        guard let field = path.first?.stringValue else {
            return Problem(field: "body", message: "the body is not a JSON object")
        }
        return Problem(field: field, message: field == "ts" ? "ts must be a number of seconds" : "\(field) must be a string")
    }
}
