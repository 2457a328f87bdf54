import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import SpiegelApp
import SpiegelChat
import Synchronization
import Testing

/// The inbound routes on their own, through Hummingbird's test client (no socket, no vault): what
/// they refuse before anything reaches the gateway, and what they hand it. The end-to-end tests
/// (`PlainWebhookTests`, `MatrixTests`) run the real server.
@Suite struct InboundRouteTests {
    /// Stands in for the gateway: records what it was handed, answers as told.
    final class Inbound: ChatInbound {
        let received = Mutex<[(ChatMessage, String)]>([])
        let answer: @Sendable () throws -> InboundOutcome

        init(answer: @escaping @Sendable () throws -> InboundOutcome = { .accepted }) {
            self.answer = answer
        }

        func receive(_ message: ChatMessage, from transport: String) async throws -> InboundOutcome {
            self.received.withLock { $0.append((message, transport)) }
            return try self.answer()
        }

        var messages: [ChatMessage] { self.received.withLock { $0.map(\.0) } }
    }

    static let secret = "a-shared-secret-of-the-bridge"
    /// The routes' clock: a test states when it is.
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    func withRoutes(_ inbound: Inbound, _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = Router()
        PlainWebhookRoutes(signature: PlainSignature(secret: Array(Self.secret.utf8)), gateway: inbound, logger: Logger(label: "test"), now: { Self.now }).add(to: router)
        MattermostRoutes(token: "mattermost-token-123", gateway: inbound, botName: "spiegel", logger: Logger(label: "test")).add(to: router)
        try await Application(router: router).test(.router) { client in try await test(client) }
    }

    static func signed(_ body: String, at date: Date = Self.now, contentType: String = "application/json") -> HTTPFields {
        let stamp = PlainSignature(secret: Array(Self.secret.utf8)).sign(Array(body.utf8), at: date)
        var headers: HTTPFields = [.contentType: contentType]
        headers[HTTPField.Name(PlainSignature.timestampHeader)!] = stamp.timestamp
        headers[HTTPField.Name(PlainSignature.signatureHeader)!] = stamp.signature
        return headers
    }

    static let message = #"{"id":"m1","user":"@an:school.example","room":"!an-dm","text":"hallo","ts":1800000000}"#

    @Test func thePlainRouteRefusesCheaplyAndInOrder() async throws {
        let inbound = Inbound()
        try await self.withRoutes(inbound) { client in
            let post = { (headers: HTTPFields, body: String) in
                try await client.execute(uri: "/hooks/plain", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            #expect(try await post(Self.signed(Self.message, contentType: "text/plain"), Self.message).status == .unsupportedMediaType)
            let large = String(repeating: "x", count: PlainTransport.maxBodySize + 1)
            #expect(try await post(Self.signed(large), large).status == .contentTooLarge)
            var forged = Self.signed(Self.message)
            forged[HTTPField.Name(PlainSignature.signatureHeader)!] = "v1=" + String(repeating: "0", count: 64)
            #expect(try await post(forged, Self.message).status == .unauthorized)
            // A stale timestamp: 200, so the bridge does not retry it, and ignored.
            let stale = try await post(Self.signed(Self.message, at: Self.now.addingTimeInterval(-3600)), Self.message)
            #expect(stale.status == .ok && String(buffer: stale.body).contains("stale"))
            let wrongID = #"{"id":5,"user":"@an","room":"!r","text":"t","ts":1}"#
            let refused = try await post(Self.signed(wrongID), wrongID)
            #expect(refused.status == .badRequest)
            #expect(String(buffer: refused.body) == #"{"error":"id must be a string","field":"id"}"#)
            let reserved = #"{"id":"x","user":"spiegel:teams","room":"!r","text":"t","ts":1}"#
            #expect(try await post(Self.signed(reserved), reserved).status == .badRequest)
        }
        #expect(inbound.messages.isEmpty, "nothing refused reached the gateway")
    }

    @Test func thePlainRouteHandsTheMessageOnAndAnswersForTheGateway() async throws {
        let limited = Inbound { throw RateLimited(retryAfter: .milliseconds(1500)) }
        try await self.withRoutes(limited) { client in
            let response = try await client.execute(uri: "/hooks/plain", method: .post, headers: Self.signed(Self.message), body: ByteBuffer(string: Self.message))
            #expect(response.status == .tooManyRequests && response.headers[.retryAfter] == "2")
        }
        #expect(limited.messages == [ChatMessage(id: "m1", user: "@an:school.example", room: "!an-dm", text: "hallo")])
        struct DiskFull: Error {}
        let failing = Inbound { throw DiskFull() }
        try await self.withRoutes(failing) { client in
            let response = try await client.execute(uri: "/hooks/plain", method: .post, headers: Self.signed(Self.message), body: ByteBuffer(string: Self.message))
            #expect(response.status == .serviceUnavailable && !String(buffer: response.body).contains("hallo"))
        }
    }

    @Test func theMattermostRouteChecksTheTokenFirstAndNamesTheWriter() async throws {
        let inbound = Inbound()
        try await self.withRoutes(inbound) { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let post = { (headers: HTTPFields, body: String) in
                try await client.execute(uri: "/hooks/mattermost", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            #expect(try await post([.contentType: "application/json"], "{}").status == .unsupportedMediaType)
            #expect(try await post(form, "token=wrong&user_id=u1").status == .unauthorized)
            let missing = try await post(form, "token=mattermost-token-123&user_name=an&channel_id=c1&text=x")
            #expect(missing.status == .badRequest && String(buffer: missing.body).contains(#""field":"user_id""#))
            let own = try await post(form, "token=mattermost-token-123&user_id=b0t&user_name=spiegel&channel_id=c1&text=Hallo")
            #expect(String(buffer: own.body) == #"{"status":"ignored"}"#)
            #expect(inbound.messages.isEmpty)
            let body = "token=mattermost-token-123&user_id=u1x9&user_name=an&channel_id=c1&channel_name=an-dm&text=Mijn+les+was+fijn%21&post_id=p7"
            #expect(String(buffer: try await post(form, body).body) == #"{"status":"accepted"}"#)
        }
        #expect(inbound.messages == [ChatMessage(id: "p7", user: "mattermost:u1x9", room: "c1", text: "Mijn les was fijn!", roomName: "an-dm", replyRoom: "@an")])
    }
}
