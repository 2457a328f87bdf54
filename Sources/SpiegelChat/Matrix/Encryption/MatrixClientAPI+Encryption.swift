import HTTPTypes

/// The client-server requests of end-to-end encryption.
extension MatrixClientAPI {
    /// `POST /login` of type `m.login.application_service`: makes (or takes again) the device
    /// `deviceID` of the application service's user `userID`.
    public func loginAsApplicationService(userID: String, deviceID: String) -> HTTPClientRequest {
        let body: JSONValue = [
            "type": "m.login.application_service",
            "identifier": ["type": "m.id.user", "user": .string(userID)],
            "device_id": .string(deviceID),
            "initial_device_display_name": "Spiegel",
        ]
        var api = self
        api.actingAs = nil
        return api.request(.post, "/_matrix/client/v3/login", body: body.canonical)
    }

    /// `POST /keys/upload`: device keys, one-time keys and fallback keys (any may be absent).
    public func uploadKeys(_ body: JSONValue) -> HTTPClientRequest {
        self.request(.post, "/_matrix/client/v3/keys/upload", body: body.canonical)
    }

    /// `POST /keys/query`: every device of `users`.
    public func queryKeys(of users: [String]) -> HTTPClientRequest {
        let body: JSONValue = ["device_keys": .object(Dictionary(uniqueKeysWithValues: users.map { ($0, JSONValue.array([])) })), "timeout": 10_000]
        return self.request(.post, "/_matrix/client/v3/keys/query", body: body.canonical)
    }

    /// `POST /keys/claim`: one `signed_curve25519` one-time key of each device.
    public func claimKeys(_ devices: [String: [String]]) -> HTTPClientRequest {
        var keys: [String: JSONValue] = [:]
        for (user, ids) in devices {
            keys[user] = .object(Dictionary(uniqueKeysWithValues: ids.map { ($0, JSONValue.string("signed_curve25519")) }))
        }
        let body: JSONValue = ["one_time_keys": .object(keys), "timeout": 10_000]
        return self.request(.post, "/_matrix/client/v3/keys/claim", body: body.canonical)
    }

    /// `PUT /sendToDevice/{eventType}/{txnId}`: `messages` is user → device → content.
    public func sendToDevice(type: String, messages: JSONValue, transactionID: String) -> HTTPClientRequest {
        let body: JSONValue = ["messages": messages]
        return self.request(.put, "/_matrix/client/v3/sendToDevice/\(Self.segment(type))/\(Self.segment(transactionID))", body: body.canonical)
    }

    /// `PUT /rooms/{roomId}/send/{eventType}/{txnId}` with `content` as it is.
    public func send(type: String, content: JSONValue, to room: String, transactionID: String) -> HTTPClientRequest {
        self.request(.put, "/_matrix/client/v3/rooms/\(Self.segment(room))/send/\(Self.segment(type))/\(Self.segment(transactionID))", body: content.canonical)
    }
}
