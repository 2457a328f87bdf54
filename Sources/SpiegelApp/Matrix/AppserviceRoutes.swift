import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SpiegelChat

/// The application-service API the homeserver calls (`/_matrix/app/v1/…`):
/// - `PUT transactions/{txnId}`: events pushed by the homeserver. Answered 200 only once every
///   event is journalled and every reply is in the outbox; a transaction accepted before (also
///   before a restart: the same id with the same events) is answered 200 without being
///   processed again.
/// - `GET users/{userId}` and `GET rooms/{alias}`: Spiegel creates no users or rooms on demand,
///   so both answer 404 `M_NOT_FOUND`.
/// - `POST ping`: 200 `{}`.
///
/// Every request must carry the `hs_token` (`Authorization: Bearer`, or the older
/// `access_token` query parameter), compared in constant time: none is 401 `M_UNAUTHORIZED`, a
/// wrong one 403 `M_FORBIDDEN`.
struct AppserviceRoutes {
    static let maxBodySize = 8 << 20

    let hsToken: String
    let bot: MatrixBot
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        let group = router.group("/_matrix/app/v1")
        group.put("transactions/:txnId") { request, context in
            try await self.authorized(request) { try await self.transaction(request, id: context.parameters.get("txnId") ?? "") }
        }
        group.get("users/:userId") { request, _ in
            try await self.authorized(request) { Self.error(.notFound, "M_NOT_FOUND", "Spiegel creates no users on demand") }
        }
        group.get("rooms/:alias") { request, _ in
            try await self.authorized(request) { Self.error(.notFound, "M_NOT_FOUND", "Spiegel creates no rooms on demand") }
        }
        group.post("ping") { request, _ in
            try await self.authorized(request) { JSONResponse.json(.ok, "{}") }
        }
    }

    private func authorized(_ request: Request, _ body: () async throws -> Response) async throws -> Response {
        var token: String?
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            token = String(header.dropFirst("bearer ".count))
        } else {
            token = request.uri.queryParameters.get("access_token")
        }
        guard let token else {
            self.reject("missing_token")
            return Self.error(.unauthorized, "M_UNAUTHORIZED", "no hs_token was given")
        }
        guard JSONResponse.constantTimeEqual(Array(token.utf8), Array(self.hsToken.utf8)) else {
            self.reject("forbidden")
            return Self.error(.forbidden, "M_FORBIDDEN", "the hs_token is wrong")
        }
        return try await body()
    }

    private func transaction(_ request: Request, id: String) async throws -> Response {
        guard self.bot.state.isLoaded else {
            return Self.error(.serviceUnavailable, "M_UNKNOWN", "Spiegel is starting; send the transaction again in a moment")
        }
        struct Transaction: Decodable {
            var events: LenientArray<MatrixEvent>?
        }
        let transaction: Transaction
        let devices: MatrixEncryption.DeviceUpdates
        do {
            let body = Data(try await request.body.collect(upTo: Self.maxBodySize).readableBytesView)
            transaction = try JSONDecoder().decode(Transaction.self, from: body)
            devices = self.deviceUpdates(in: try JSONDecoder().decode(JSONValue.self, from: body))
        } catch {
            self.reject("invalid_body")
            return Self.error(.badRequest, "M_NOT_JSON", "the transaction is not the JSON expected")
        }
        let events = transaction.events?.elements ?? []
        let key = Self.transactionKey(id: id, events: events, toDevice: devices.toDevice)
        if self.bot.state.hasAccepted(transaction: key) {
            Counter(label: "spiegel_matrix_transactions_total", dimensions: [("outcome", "duplicate")]).increment()
            return JSONResponse.json(.ok, "{}")
        }
        do {
            try await self.bot.process(events, devices: self.bot.encryption == nil ? nil : devices)
            try await self.bot.state.update { $0.transactions.append(key) }
        } catch {
            // Not answered 200: the homeserver sends the transaction again later.
            self.logger.error("spiegel.matrix.transaction_not_accepted", metadata: ["spiegel.error": "\(Swift.type(of: error))"])
            Counter(label: "spiegel_matrix_transactions_total", dimensions: [("outcome", "failed")]).increment()
            return Self.error(.serviceUnavailable, "M_UNKNOWN", "the events could not be stored; send the transaction again later")
        }
        Counter(label: "spiegel_matrix_transactions_total", dimensions: [("outcome", "accepted")]).increment()
        return JSONResponse.json(.ok, "{}")
    }

    /// What the bot's device is told in a transaction: to-device messages (MSC2409), device list
    /// changes and key counts (MSC3202, for the bot's device only).
    private func deviceUpdates(in transaction: JSONValue) -> MatrixEncryption.DeviceUpdates {
        var updates = MatrixEncryption.DeviceUpdates()
        let toDevice = transaction["de.sorunome.msc2409.to_device"] ?? transaction["to_device"]
        updates.toDevice = (toDevice?.array ?? []).filter { $0["to_user_id"]?.string == self.bot.userID }
        let lists = transaction["org.matrix.msc3202.device_lists"] ?? transaction["device_lists"]
        updates.changedUsers = lists?["changed"]?.array?.compactMap { $0.string } ?? []
        updates.leftUsers = lists?["left"]?.array?.compactMap { $0.string } ?? []
        if let me = self.bot.userID, let device = self.bot.encryption?.readyDeviceID {
            let counts = transaction["org.matrix.msc3202.device_one_time_keys_count"]?[me]?[device]?.object
            updates.oneTimeKeyCounts = counts?.compactMapValues { $0.int.map(Int.init) }
            updates.unusedFallbackKeyTypes = transaction["org.matrix.msc3202.device_unused_fallback_key_types"]?[me]?[device]?.array?.compactMap { $0.string }
        }
        return updates
    }

    /// A transaction is the same when its id, its events' ids and its to-device messages are:
    /// Synapse on SQLite starts its transaction ids again from 1 after a restart, so the id alone
    /// would drop new events.
    static func transactionKey(id: String, events: [MatrixEvent], toDevice: [JSONValue] = []) -> String {
        // FNV-1a over the event ids: stable across processes (Swift's `Hasher` is not).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let parts = events.map { $0.eventID ?? "-" } + toDevice.map { String(decoding: $0.canonical, as: UTF8.self) }
        for byte in parts.joined(separator: "\n").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return id + "/" + String(hash, radix: 16)
    }

    private func reject(_ reason: String) {
        Counter(label: "spiegel_inbound_rejected_total", dimensions: [("transport", "matrix"), ("reason", reason)]).increment()
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let object = ["errcode": code, "error": message]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
