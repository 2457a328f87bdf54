public import HTTPTypes

/// The response to an ``HTTPClientRequest``.
public struct HTTPClientResponse: Sendable {
    /// The status of the final response (after any redirects followed).
    public var status: HTTPResponse.Status
    /// The header fields of the final response.
    public var headerFields: HTTPFields
    /// The response body, at most the request's size cap.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.status = status
        self.headerFields = headerFields
        self.body = body
    }

    /// Returns `self` when the status is 2xx, otherwise throws ``HTTPClientError`` with code
    /// ``HTTPClientError/Code/httpStatus``.
    public func requireSuccess() throws(HTTPClientError) -> Self {
        guard self.status.kind == .successful else {
            throw HTTPClientError(.httpStatus, message: "the server answered \(self.status.code)", status: self.status)
        }
        return self
    }
}
