public import HTTPTypes

/// One outbound HTTP request.
///
/// Limits left `nil` take the client's ``CurlHTTPClient/Configuration``.
public struct HTTPClientRequest: Sendable {
    /// The request method.
    public var method: HTTPRequest.Method
    /// An absolute `http` or `https` URL.
    public var url: String
    /// Header fields, sent as given.
    public var headerFields: HTTPFields
    /// The request body; sent with a `Content-Length` for any method other than GET and HEAD.
    public var body: [UInt8]
    /// The longest the TCP and TLS connect may take.
    public var connectTimeout: Duration?
    /// The longest the whole exchange may take, connect included.
    public var timeout: Duration?
    /// The largest response body accepted.
    public var maxResponseSize: Int?
    /// How many redirects to follow; 0 (the default) returns the 3xx response itself.
    public var maxRedirects: Int

    /// Creates a request.
    /// - Parameters:
    ///   - method: the request method, GET unless given.
    ///   - url: an absolute `http` or `https` URL.
    ///   - headerFields: header fields sent as given.
    ///   - body: the request body.
    public init(
        method: HTTPRequest.Method = .get,
        url: String,
        headerFields: HTTPFields = [:],
        body: [UInt8] = [],
        connectTimeout: Duration? = nil,
        timeout: Duration? = nil,
        maxResponseSize: Int? = nil,
        maxRedirects: Int = 0
    ) {
        self.method = method
        self.url = url
        self.headerFields = headerFields
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maxResponseSize = maxResponseSize
        self.maxRedirects = maxRedirects
    }
}
