import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore

/// JSON answers of the HTTP routes; a refusal is counted by its reason and never quotes a message.
enum JSONResponse {
    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func refuse(_ status: HTTPResponse.Status, transport: String, reason: String, _ message: String, field: String? = nil) -> Response {
        Counter(label: "spiegel_inbound_rejected_total", dimensions: [("transport", transport), ("reason", reason)]).increment()
        var object: [String: String] = ["error": message]
        if let field { object["field"] = field }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// 429 with `Retry-After`: the message was not kept; send it again after `retryAfter` seconds.
    static func tooManyRequests(transport: String, retryAfter: Int) -> Response {
        Counter(label: "spiegel_inbound_rejected_total", dimensions: [("transport", transport), ("reason", "rate_limited")]).increment()
        let body = #"{"error":"too many messages from this user at once; send this one again after Retry-After seconds","retry_after":\#(retryAfter)}"#
        return Response(
            status: .tooManyRequests, headers: [.contentType: "application/json", .retryAfter: String(retryAfter)],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    /// Whether two secrets are equal, in time that does not depend on where they differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
