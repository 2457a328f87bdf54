import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SpiegelChat

/// `POST /hooks/plain`: messages from a bridge in the plain webhook protocol
/// (`docs/plain-protocol.md`, parsed and verified by SpiegelChat's ``PlainTransport`` types),
/// checked in this order: content type (415), size (413), signature (401; a stale timestamp is
/// answered 200 and ignored), fields (400 naming the field). A message is answered 200 only once
/// the gateway has it journalled and its replies in the outbox, so the bridge's retry after a
/// crash is safe. No response or log carries message text.
struct PlainWebhookRoutes<Context: RequestContext> {
    let signature: PlainSignature
    let gateway: any ChatInbound
    let logger: Logger
    let now: @Sendable () -> Date

    func add(to router: Router<Context>) {
        router.post("/hooks/plain") { request, _ in
            try await self.handle(request)
        }
    }

    func handle(_ request: Request) async throws -> Response {
        guard let contentType = request.headers[.contentType]?.lowercased(), contentType.hasPrefix("application/json") else {
            return self.refuse(.unsupportedMediaType, "unsupported_media_type", "the content type must be application/json")
        }
        let body: [UInt8]
        do {
            body = Array(try await request.body.collect(upTo: PlainTransport.maxBodySize).readableBytesView)
        } catch {
            return self.refuse(.contentTooLarge, "too_large", "the body is over \(PlainTransport.maxBodySize) bytes")
        }
        let verified = self.signature.verify(
            timestamp: request.headers[PlainSignature.timestampField],
            signature: request.headers[PlainSignature.signatureField],
            body: body, now: self.now()
        )
        switch verified {
        case .success:
            break
        case .failure(.stale):
            Counter(label: "spiegel_inbound_rejected_total", dimensions: [("transport", "plain"), ("reason", "stale")]).increment()
            return JSONResponse.json(.ok, #"{"status":"ignored","reason":"stale timestamp"}"#)
        case .failure(let rejection):
            return self.refuse(.unauthorized, "signature_\(rejection.rawValue)", "the signature is \(rejection == .malformed ? "missing or malformed" : "wrong")")
        }
        let message: PlainInboundMessage
        switch PlainInboundMessage.parse(body) {
        case .success(let parsed): message = parsed
        case .failure(let problem): return self.refuse(.badRequest, "invalid_\(problem.field)", problem.message, field: problem.field)
        }
        do {
            let chatMessage = ChatMessage(id: message.id, user: message.user, room: message.room, text: message.text)
            switch try await self.gateway.receive(chatMessage, from: PlainTransport.name) {
            case .accepted: return JSONResponse.json(.ok, #"{"status":"accepted"}"#)
            case .duplicate: return JSONResponse.json(.ok, #"{"status":"duplicate"}"#)
            case .ignored: return JSONResponse.json(.ok, #"{"status":"ignored","reason":"team room"}"#)
            }
        } catch let limited as RateLimited {
            return JSONResponse.tooManyRequests(transport: "plain", retryAfter: limited.seconds)
        } catch {
            self.logger.error("spiegel.plain.not_accepted", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            return self.refuse(.serviceUnavailable, "unavailable", "the message could not be stored; send it again later")
        }
    }

    private func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String, field: String? = nil) -> Response {
        JSONResponse.refuse(status, transport: "plain", reason: reason, message, field: field)
    }
}
