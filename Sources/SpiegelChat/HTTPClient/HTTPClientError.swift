public import HTTPTypes

/// Why an HTTP request got no usable response.
///
/// The message names the host at most, never the path or query of the URL (webhook URLs carry
/// secrets in their path) and never a body.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; callers decide on retries by the code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidRequest = "invalid request"
            case connectionRefused = "connection refused"
            case dns = "DNS resolution failed"
            case timeout = "timed out"
            case tls = "TLS failure"
            case responseTooLarge = "response too large"
            case httpStatus = "HTTP error status"
            case transport = "transport failure"
            case shutDown = "client shut down"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The request could not be built (a malformed URL or an unsupported scheme).
        public static let invalidRequest = Self(.invalidRequest)
        /// Nothing listens at the address, or it could not be reached.
        public static let connectionRefused = Self(.connectionRefused)
        /// The host name did not resolve.
        public static let dns = Self(.dns)
        /// The connect or the whole exchange took longer than allowed.
        public static let timeout = Self(.timeout)
        /// The TLS handshake failed or the certificate did not verify.
        public static let tls = Self(.tls)
        /// The response body is larger than the cap.
        public static let responseTooLarge = Self(.responseTooLarge)
        /// The server answered with a status the caller treats as failure.
        public static let httpStatus = Self(.httpStatus)
        /// The connection failed mid-exchange (reset, malformed response, ...).
        public static let transport = Self(.transport)
        /// The client was shut down before the request completed.
        public static let shutDown = Self(.shutDown)

        public var description: String { self.value.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What failed, for an administrator: host-level detail only.
    public let message: String
    /// The response status, for ``Code/httpStatus``.
    public let status: HTTPResponse.Status?

    /// Creates an error.
    public init(_ code: Code, message: String, status: HTTPResponse.Status? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { "HTTPClientError(\(self.code)): \(self.message)" }
}
