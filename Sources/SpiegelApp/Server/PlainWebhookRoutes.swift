import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SpiegelChat
import SpiegelCoach
import SpiegelVault

/// `POST /hooks/plain`: messages from a bridge in the plain webhook protocol
/// (`docs/plain-protocol.md`), checked in this order: content type (415), size (413), signature
/// (401; a stale timestamp is answered 200 and ignored), fields (400 naming the field). A message
/// is answered 200 only once it is journalled and its replies are in the outbox, so the bridge's
/// retry after a crash is safe. No response or log carries message text.
struct PlainWebhookRoutes {
    static let maxBodySize = 64 * 1024

    let signature: PlainSignature
    let gateway: ChatGateway
    let logger: Logger
    let now: @Sendable () -> Date

    func add(to router: Router<BasicRequestContext>) {
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
            body = Array(try await request.body.collect(upTo: Self.maxBodySize).readableBytesView)
        } catch {
            return self.refuse(.contentTooLarge, "too_large", "the body is over \(Self.maxBodySize) bytes")
        }
        let verified = self.signature.verify(
            timestamp: request.headers[HTTPField.Name(PlainSignature.timestampHeader)!],
            signature: request.headers[HTTPField.Name(PlainSignature.signatureHeader)!],
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
            let event = ChatEvent.message(ChatMessage(id: message.id, user: message.user, room: message.room, text: message.text))
            switch try await self.gateway.receive(event) {
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

    /// The signed POST that delivers an outbox entry to the bridge.
    static func request(for entry: OutboxEntry, url: String, signature: PlainSignature, now: Date) -> HTTPClientRequest {
        var object: [String: String] = ["room": entry.room, "text": entry.text, "key": entry.key]
        if let replyTo = entry.replyTo { object["reply_to"] = replyTo }
        let body = [UInt8]((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
        let signed = signature.sign(body, at: now)
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
        headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
        return HTTPClientRequest(method: .post, url: url, headerFields: headers, body: body, timeout: .seconds(15))
    }
}

/// A message of the plain protocol: `{"id", "user", "room", "text", "ts"}`.
struct PlainInboundMessage: Equatable {
    let id: String
    let user: String
    let room: String
    let text: String
    let ts: Int64

    struct Problem: Error, Equatable {
        let field: String
        let message: String
    }

    /// The message, or the first field that is wrong (never quoting its value).
    static func parse(_ body: [UInt8]) -> Result<PlainInboundMessage, Problem> {
        guard String(validating: body, as: UTF8.self) != nil else {
            return .failure(Problem(field: "body", message: "the body is not valid UTF-8"))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return .failure(Problem(field: "body", message: "the body is not a JSON object"))
        }
        func string(_ name: String, max: Int, allowEmpty: Bool = false) -> Result<String, Problem> {
            guard let value = object[name] as? String else { return .failure(Problem(field: name, message: "\(name) must be a string")) }
            guard allowEmpty || !value.isEmpty else { return .failure(Problem(field: name, message: "\(name) must not be empty")) }
            guard value.utf8.count <= max else { return .failure(Problem(field: name, message: "\(name) is longer than \(max) bytes")) }
            return .success(value)
        }
        do {
            let id = try string("id", max: 200).get()
            let user = try string("user", max: 255).get()
            guard !user.hasPrefix("spiegel:") else { return .failure(Problem(field: "user", message: "user may not start with spiegel:")) }
            let room = try string("room", max: 255).get()
            let text = try string("text", max: 60_000, allowEmpty: true).get()
            guard let ts = (object["ts"] as? NSNumber)?.int64Value else {
                return .failure(Problem(field: "ts", message: "ts must be a number of seconds"))
            }
            return .success(PlainInboundMessage(id: id, user: user, room: room, text: text, ts: ts))
        } catch {
            return .failure(error)
        }
    }
}
