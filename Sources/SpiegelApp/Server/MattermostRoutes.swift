import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SpiegelChat
import SpiegelCoach
import SpiegelVault

/// `POST /hooks/mattermost`: a Mattermost (or Slack) outgoing webhook's form post (`token`,
/// `user_id`, `user_name`, `channel_id`, `channel_name`, `text`, `post_id`, `timestamp`). The token
/// is compared in constant time before any other field is read. Replies go through the outbox to
/// the incoming webhook as `{"text", "channel": "@<user_name>", "username"}`: the teacher's direct
/// chat with the bot. Nothing is answered in a team channel.
struct MattermostRoutes {
    let token: String
    let gateway: ChatGateway
    let teamChannels: Set<String>
    let botName: String
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        router.post("/hooks/mattermost") { request, _ in
            try await self.handle(request)
        }
    }

    func handle(_ request: Request) async throws -> Response {
        guard let contentType = request.headers[.contentType]?.lowercased(), contentType.hasPrefix("application/x-www-form-urlencoded") else {
            return JSONResponse.refuse(.unsupportedMediaType, transport: "mattermost", reason: "unsupported_media_type", "the content type must be application/x-www-form-urlencoded")
        }
        let body: [UInt8]
        do {
            body = Array(try await request.body.collect(upTo: PlainWebhookRoutes.maxBodySize).readableBytesView)
        } catch {
            return JSONResponse.refuse(.contentTooLarge, transport: "mattermost", reason: "too_large", "the body is over \(PlainWebhookRoutes.maxBodySize) bytes")
        }
        guard let form = FormFields(body) else {
            return JSONResponse.refuse(.badRequest, transport: "mattermost", reason: "invalid_body", "the body is not a form in UTF-8", field: "body")
        }
        guard let given = form["token"], JSONResponse.constantTimeEqual(Array(given.utf8), Array(self.token.utf8)) else {
            return JSONResponse.refuse(.unauthorized, transport: "mattermost", reason: "token", "the token is missing or wrong")
        }
        for field in ["user_id", "user_name", "channel_id", "text"] where form[field] == nil || (field != "text" && form[field]!.isEmpty) {
            return JSONResponse.refuse(.badRequest, transport: "mattermost", reason: "invalid_\(field)", "\(field) is missing", field: field)
        }
        let userName = form["user_name"]!
        if self.teamChannels.contains(form["channel_id"]!) || self.teamChannels.contains(form["channel_name"] ?? "") || userName == self.botName {
            return JSONResponse.json(.ok, #"{"status":"ignored"}"#)
        }
        // Slack sends no post id: its timestamp is unique per channel.
        let id = form["post_id"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(form["channel_id"]!):\(form["timestamp"] ?? "")"
        do {
            // The reply goes to the teacher's direct chat, named by user for the incoming webhook.
            let event = ChatEvent.message(ChatMessage(id: id, user: "mattermost:" + form["user_id"]!, room: "@" + userName, text: form["text"]!))
            let outcome = try await self.gateway.receive(event)
            return JSONResponse.json(.ok, #"{"status":"\#(outcome.rawValue)"}"#)
        } catch let limited as RateLimited {
            // Mattermost does not send it again: the teacher was told to slow down and resend.
            return JSONResponse.tooManyRequests(transport: "mattermost", retryAfter: limited.seconds)
        } catch {
            self.logger.error("spiegel.mattermost.not_accepted", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            return JSONResponse.refuse(.serviceUnavailable, transport: "mattermost", reason: "unavailable", "the message could not be stored; send it again later")
        }
    }

    /// The incoming-webhook POST that delivers an outbox entry.
    static func request(for entry: OutboxEntry, url: String, botName: String) -> HTTPClientRequest {
        let object = ["text": entry.text, "channel": entry.room, "username": botName]
        let body = [UInt8]((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("Idempotency-Key")!] = entry.key
        return HTTPClientRequest(method: .post, url: url, headerFields: headers, body: body, timeout: .seconds(15))
    }
}

/// `application/x-www-form-urlencoded` fields; the first of a repeated name wins.
struct FormFields {
    private var fields: [String: String] = [:]

    init?(_ body: [UInt8]) {
        guard let text = String(validating: body, as: UTF8.self) else { return nil }
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { return nil }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            guard let value else { return nil }
            if self.fields[name] == nil { self.fields[name] = value }
        }
    }

    subscript(name: String) -> String? { self.fields[name] }

    private static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
