import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SpiegelChat

/// `POST /hooks/mattermost`: a Mattermost (or Slack) outgoing webhook's form post, decoded with
/// Hummingbird's `URLEncodedFormDecoder` into SpiegelChat's ``MattermostOutgoingWebhook``. The
/// token is compared in constant time before any field is checked; the bot's own posts are
/// ignored; everything else goes to the gateway, which ignores a team channel and answers in the
/// writer's direct chat.
struct MattermostRoutes<Context: RequestContext> {
    let token: String
    let gateway: any ChatInbound
    let botName: String
    let logger: Logger

    func add(to router: Router<Context>) {
        router.post("/hooks/mattermost") { request, _ in
            try await self.handle(request)
        }
    }

    func handle(_ request: Request) async throws -> Response {
        guard let contentType = request.headers[.contentType]?.lowercased(), contentType.hasPrefix("application/x-www-form-urlencoded") else {
            return self.refuse(.unsupportedMediaType, "unsupported_media_type", "the content type must be application/x-www-form-urlencoded")
        }
        let body: [UInt8]
        do {
            body = Array(try await request.body.collect(upTo: PlainTransport.maxBodySize).readableBytesView)
        } catch {
            return self.refuse(.contentTooLarge, "too_large", "the body is over \(PlainTransport.maxBodySize) bytes")
        }
        guard let text = String(validating: body, as: UTF8.self),
            let form = try? URLEncodedFormDecoder().decode(MattermostOutgoingWebhook.self, from: text)
        else {
            return self.refuse(.badRequest, "invalid_body", "the body is not a form in UTF-8", field: "body")
        }
        guard let given = form.token, JSONResponse.constantTimeEqual(Array(given.utf8), Array(self.token.utf8)) else {
            return self.refuse(.unauthorized, "token", "the token is missing or wrong")
        }
        let message: ChatMessage
        switch form.message() {
        case .success(let decoded): message = decoded
        case .failure(let missing): return self.refuse(.badRequest, "invalid_\(missing.name)", "\(missing.name) is missing", field: missing.name)
        }
        if form.userName == self.botName {
            return JSONResponse.json(.ok, #"{"status":"ignored"}"#)
        }
        do {
            let outcome = try await self.gateway.receive(message, from: MattermostTransport.name)
            return JSONResponse.json(.ok, #"{"status":"\#(outcome.rawValue)"}"#)
        } catch let limited as RateLimited {
            // Mattermost does not send it again: the teacher was told to slow down and resend.
            return JSONResponse.tooManyRequests(transport: "mattermost", retryAfter: limited.seconds)
        } catch {
            self.logger.error("spiegel.mattermost.not_accepted", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            return self.refuse(.serviceUnavailable, "unavailable", "the message could not be stored; send it again later")
        }
    }

    private func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String, field: String? = nil) -> Response {
        JSONResponse.refuse(status, transport: "mattermost", reason: reason, message, field: field)
    }
}
