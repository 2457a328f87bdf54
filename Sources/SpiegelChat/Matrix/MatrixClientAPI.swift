import Foundation
import HTTPTypes

/// The requests of the Matrix client-server API Spiegel makes, with the bot's access token (the
/// application service's `as_token`, or a bot account's token in `/sync` mode).
public struct MatrixClientAPI: Sendable {
    /// The homeserver's client-server API base, such as `https://matrix.school.example`.
    public var homeserverURL: String
    public var accessToken: String
    /// An application service acting as one of its users' devices: `user_id` and `device_id`
    /// on every request (the end-to-end encryption traffic of the bot's device).
    public var actingAs: (userID: String, deviceID: String)?

    public init(homeserverURL: String, accessToken: String) {
        var url = homeserverURL
        while url.hasSuffix("/") { url.removeLast() }
        self.homeserverURL = url
        self.accessToken = accessToken
    }

    /// The same API acting as `deviceID` of `userID` (application-service mode).
    public func acting(as userID: String, deviceID: String) -> MatrixClientAPI {
        var api = self
        api.actingAs = (userID, deviceID)
        return api
    }

    /// `GET /account/whoami`: the bot's own user id.
    public func whoami() -> HTTPClientRequest {
        self.request(.get, "/_matrix/client/v3/account/whoami")
    }

    /// `POST /rooms/{roomId}/join`: accepts an invite (or joins again; joining twice is harmless).
    public func join(_ room: String) -> HTTPClientRequest {
        self.request(.post, "/_matrix/client/v3/rooms/\(Self.segment(room))/join", json: [:])
    }

    /// `POST /rooms/{roomId}/leave`.
    public func leave(_ room: String) -> HTTPClientRequest {
        self.request(.post, "/_matrix/client/v3/rooms/\(Self.segment(room))/leave", json: [:])
    }

    /// `PUT /rooms/{roomId}/send/m.room.message/{txnId}`: a message with a plain `body`, and an
    /// HTML `formatted_body` where the text has lists or bold. The homeserver takes a repeated
    /// transaction id as the same message, so a retry never posts twice.
    public func send(_ text: String, to room: String, transactionID: String) -> HTTPClientRequest {
        self.send(type: "m.room.message", content: Self.messageContent(text), to: room, transactionID: transactionID)
    }

    /// The content of a text message: a plain `body`, and an HTML `formatted_body` where the text
    /// has lists or bold.
    public static func messageContent(_ text: String) -> JSONValue {
        var content: [String: JSONValue] = ["msgtype": "m.text", "body": .string(text)]
        if let html = MatrixFormatting.html(for: text) {
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = .string(html)
        }
        return .object(content)
    }

    /// `PUT /rooms/{roomId}/typing/{userId}`.
    public func typing(_ isTyping: Bool, in room: String, as user: String, timeoutMilliseconds: Int = 15_000) -> HTTPClientRequest {
        let body: [String: Any] = isTyping ? ["typing": true, "timeout": timeoutMilliseconds] : ["typing": false]
        return self.request(.put, "/_matrix/client/v3/rooms/\(Self.segment(room))/typing/\(Self.segment(user))", json: body)
    }

    /// `POST /rooms/{roomId}/receipt/m.read/{eventId}`.
    public func readReceipt(for event: String, in room: String) -> HTTPClientRequest {
        self.request(.post, "/_matrix/client/v3/rooms/\(Self.segment(room))/receipt/m.read/\(Self.segment(event))", json: [:])
    }

    /// `GET /rooms/{roomId}/joined_members`.
    public func joinedMembers(of room: String) -> HTTPClientRequest {
        self.request(.get, "/_matrix/client/v3/rooms/\(Self.segment(room))/joined_members")
    }

    /// `GET /rooms/{roomId}/state/{eventType}/`: a state event with an empty state key (404 when
    /// the room has none).
    public func state(_ type: String, in room: String) -> HTTPClientRequest {
        self.request(.get, "/_matrix/client/v3/rooms/\(Self.segment(room))/state/\(Self.segment(type))/")
    }

    /// `GET /sync`, long-polling up to `timeoutMilliseconds`, with an inline filter.
    public func sync(since: String?, timeoutMilliseconds: Int, filter: String) -> HTTPClientRequest {
        var query = [("timeout", String(timeoutMilliseconds)), ("filter", filter)]
        if let since { query.append(("since", since)) }
        var request = self.request(.get, "/_matrix/client/v3/sync", query: query)
        request.timeout = .milliseconds(timeoutMilliseconds + 30_000)
        request.maxResponseSize = 32 << 20
        return request
    }

    /// `POST /_matrix/client/v1/appservice/{appserviceId}/ping`: asks the homeserver to ping the
    /// application service, proving both directions work.
    public func pingAppservice(id: String, transactionID: String) -> HTTPClientRequest {
        self.request(.post, "/_matrix/client/v1/appservice/\(Self.segment(id))/ping", json: ["transaction_id": transactionID])
    }

    private func request(_ method: HTTPRequest.Method, _ path: String, query: [(String, String)] = [], json: [String: Any]? = nil) -> HTTPClientRequest {
        let body = json.map { [UInt8]((try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])) ?? Data("{}".utf8)) }
        return self.request(method, path, query: query, body: body)
    }

    /// A request with `body` as its JSON body (none when `nil`).
    func request(_ method: HTTPRequest.Method, _ path: String, query: [(String, String)] = [], body: [UInt8]?) -> HTTPClientRequest {
        var query = query
        if let actingAs = self.actingAs {
            query += [("user_id", actingAs.userID), ("device_id", actingAs.deviceID)]
        }
        var url = self.homeserverURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(Self.queryValue($0.1))" }.joined(separator: "&")
        }
        var headers: HTTPFields = [.authorization: "Bearer " + self.accessToken]
        if let body {
            headers[.contentType] = "application/json"
            return HTTPClientRequest(method: method, url: url, headerFields: headers, body: body, timeout: .seconds(30))
        }
        return HTTPClientRequest(method: method, url: url, headerFields: headers, body: [], timeout: .seconds(30))
    }

    /// A path segment with everything but unreserved characters percent-encoded (room and event
    /// ids carry `!`, `$`, `:` and more).
    public static func segment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? value
    }

    private static func queryValue(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? value
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}

/// A Matrix error body: `{"errcode": "M_…", "error": "…", "retry_after_ms": …}`.
public struct MatrixError: Decodable, Sendable, Error, CustomStringConvertible {
    public var errcode: String
    public var error: String?
    public var retryAfterMilliseconds: Int?

    private enum CodingKeys: String, CodingKey {
        case errcode, error
        case retryAfterMilliseconds = "retry_after_ms"
    }

    public init(errcode: String, error: String? = nil, retryAfterMilliseconds: Int? = nil) {
        self.errcode = errcode
        self.error = error
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    /// The error in `response`'s body, if it carries one.
    public init?(_ response: HTTPClientResponse) {
        guard let decoded = try? JSONDecoder().decode(Self.self, from: Data(response.body)) else { return nil }
        self = decoded
    }

    public var description: String { self.errcode }
}

/// Checks on Matrix identifiers.
public enum MatrixIdentifiers {
    /// Whether `text` looks like a user id: `@localpart:server`.
    public static func isUserID(_ text: String) -> Bool {
        guard text.hasPrefix("@"), let colon = text.firstIndex(of: ":") else { return false }
        return colon > text.index(after: text.startIndex) && text.index(after: colon) < text.endIndex && !text.contains(where: \.isWhitespace)
    }
}
