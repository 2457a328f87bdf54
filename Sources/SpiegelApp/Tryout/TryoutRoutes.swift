import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SpiegelChat

/// The try-out chat in a browser: the page at `/` with its script and style, and its conversation
/// at `/tryout/messages` (GET reads, waiting for what comes; POST sends the teacher's message to
/// the ``ChatGateway``, like any chat's route).
///
/// A browser is one try-out coachee, by a random id in a cookie (`HttpOnly`, `SameSite=Strict`).
/// Every answer says `Cache-Control: no-store`; the page loads nothing from elsewhere (a strict
/// Content-Security-Policy). A message travels in a POST body, never in a URL, and no log line
/// carries it.
struct TryoutRoutes<Context: RequestContext> {
    static var cookieName: String { "spiegel_tryout" }
    /// The longest a reading page waits for news: under the 30 s at which proxies often cut a
    /// request (the server's idle timeout does not apply while a request is in flight).
    static var longestWait: Duration { .seconds(25) }
    /// A message body's limit: a long message is the coaching service's to refuse, kindly.
    static var maxBodySize: Int { 64 * 1024 }

    let gateway: any ChatInbound
    let mailboxes: TryoutMailboxes
    let logger: Logger

    func add(to router: Router<Context>) {
        router.get("/") { request, _ in self.page(request) }
        router.get("/tryout/app.js") { _, _ in Self.asset(PackageResources.app_js, type: "text/javascript; charset=utf-8") }
        router.get("/tryout/app.css") { _, _ in Self.asset(PackageResources.app_css, type: "text/css; charset=utf-8") }
        router.get("/tryout/messages") { request, _ in try await self.read(request) }
        router.post("/tryout/messages") { request, _ in try await self.send(request) }
    }

    // MARK: - The page

    /// The page, and a new id for a browser that has none.
    func page(_ request: Request) -> Response {
        var response = Self.asset(PackageResources.index_html, type: "text/html; charset=utf-8")
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        if Self.browserID(request) == nil {
            response.setCookie(Cookie(name: Self.cookieName, value: Self.newBrowserID(), path: "/", httpOnly: true, sameSite: .strict))
        }
        return response
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Self.secured(Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes))))
    }

    /// Headers every try-out answer carries: nothing kept by a cache, no sniffing, no framing,
    /// no referrer.
    static func secured(_ response: Response) -> Response {
        var response = response
        response.headers[.cacheControl] = "no-store"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return response
    }

    /// 22 characters of base64url: 128 random bits from the system's generator.
    static func newBrowserID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The browser's id from its cookie, when it is one Spiegel could have made.
    static func browserID(_ request: Request) -> String? {
        guard let value = request.cookies[Self.cookieName]?.value, value.utf8.count == 22,
            value.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return nil }
        return value
    }

    // MARK: - The conversation

    /// `GET /tryout/messages?after=N&epoch=E&reloads=R&wait=S`: the lines after `N`, waiting up
    /// to `S` seconds (at most 25) for one to come, or for a reload of the Prompts after the
    /// page's `R`; all of them when the page's epoch is not the conversation's.
    func read(_ request: Request) async throws -> Response {
        guard let room = Self.browserID(request) else { return self.noBrowserID() }
        let query = request.uri.queryParameters
        let after = max(0, query.get("after", as: Int.self) ?? 0)
        let waitSeconds = max(0, query.get("wait", as: Int.self) ?? 0)
        let wait = min(Self.longestWait, Duration.seconds(Int64(waitSeconds)))
        do {
            let page = try await self.mailboxes.page(
                room: room, after: after, epoch: query.get("epoch").map { String($0) }, reloads: query.get("reloads", as: Int.self), wait: wait
            )
            let body = Conversation(
                epoch: page.epoch, reset: page.reset, next: page.next, reloads: page.reloads,
                messages: page.items.map { Conversation.Line(n: $0.sequence, from: $0.author.rawValue, text: $0.text, id: $0.messageID) },
                problem: page.problem
            )
            let data = try JSONEncoder().encode(body)
            return Self.secured(Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data))))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            self.logger.error("spiegel.tryout.unreadable", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            return self.refuse(.serviceUnavailable, "unavailable", "the conversation cannot be read now; try again in a moment")
        }
    }

    /// `POST /tryout/messages` with `{"id": "…", "text": "…"}`: 200 once the message is kept and
    /// Spiegel's replies are on their way to the page.
    func send(_ request: Request) async throws -> Response {
        guard let contentType = request.headers[.contentType]?.lowercased(), contentType.hasPrefix("application/json") else {
            return self.refuse(.unsupportedMediaType, "unsupported_media_type", "the content type must be application/json")
        }
        // Only the page itself sends: a browser names the origin of a script's POST.
        if let origin = request.headers[.origin], let host = request.head.authority, origin != "http://\(host)" && origin != "https://\(host)" {
            return self.refuse(.forbidden, "foreign_origin", "messages are taken from the try-out page only")
        }
        guard let room = Self.browserID(request) else { return self.noBrowserID() }
        let body: Data
        do {
            body = Data(try await request.body.collect(upTo: Self.maxBodySize).readableBytesView)
        } catch {
            return self.refuse(.contentTooLarge, "too_large", "the message is over \(Self.maxBodySize) bytes")
        }
        guard let message = try? JSONDecoder().decode(Outgoing.self, from: body) else {
            return self.refuse(.badRequest, "invalid_body", "expected {\"id\": \"…\", \"text\": \"…\"}")
        }
        guard !message.id.isEmpty, message.id.utf8.count <= 64 else {
            return self.refuse(.badRequest, "invalid_id", "the id must be 1 to 64 characters", field: "id")
        }
        let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            return self.refuse(.badRequest, "invalid_text", "the message is empty", field: "text")
        }
        let added: Bool
        do {
            added = try await self.mailboxes.addTeacherMessage(text, id: message.id, room: room)
        } catch {
            self.logger.error("spiegel.tryout.unreadable", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            return self.refuse(.serviceUnavailable, "unavailable", "the message could not be kept; send it again in a moment")
        }
        do {
            let chatMessage = ChatMessage(id: message.id, user: TryoutTransport.userPrefix + room, room: room, text: text)
            let outcome = try await self.gateway.receive(chatMessage, from: TryoutTransport.name)
            return Self.secured(JSONResponse.json(.ok, #"{"status":"\#(outcome == .duplicate ? "duplicate" : "accepted")"}"#))
        } catch let limited as RateLimited {
            if added { self.mailboxes.removeTeacherMessage(id: message.id, room: room) }
            return Self.secured(JSONResponse.tooManyRequests(transport: TryoutTransport.name, retryAfter: limited.seconds))
        } catch {
            if added { self.mailboxes.removeTeacherMessage(id: message.id, room: room) }
            self.logger.error("spiegel.tryout.not_accepted", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            return self.refuse(.serviceUnavailable, "unavailable", "the message could not be kept; send it again in a moment")
        }
    }

    private func noBrowserID() -> Response {
        self.refuse(.unauthorized, "no_browser_id", "no try-out id: open the page at / first")
    }

    private func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String, field: String? = nil) -> Response {
        Self.secured(JSONResponse.refuse(status, transport: TryoutTransport.name, reason: reason, message, field: field))
    }

    /// What the page reads.
    struct Conversation: Codable {
        struct Line: Codable {
            var n: Int
            var from: String
            var text: String
            var id: String?
        }

        var epoch: String
        var reset: Bool
        var next: Int
        var reloads: Int
        var messages: [Line]
        /// Why the Prompts in effect are not the ones on disk, when a reload was refused.
        var problem: String?
    }

    /// What the page sends.
    struct Outgoing: Codable {
        var id: String
        var text: String
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
