import Foundation
import HTTPTypes
import Logging
import SpiegelChat

/// Why a harness call failed: Synapse missing or not starting, an error status, a wait that
/// timed out. Never carries message bodies.
public struct SynapseHarnessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}

/// The HTTP side of the harness: one libcurl client for the whole process, JSON in and out.
enum SynapseHTTP {
    /// Shared by every homeserver and client of the process; never shut down.
    static let client = CurlHTTPClient(
        configuration: .init(
            connectTimeout: .seconds(5),
            timeout: .seconds(60),
            maxResponseSize: 64 << 20,
            maxConnectionsPerHost: 64,
            userAgent: "SpiegelTestKit"
        ),
        logger: Logger(label: "spiegel.testkit.synapse")
    )

    /// A raw answer: its status and body.
    static func send(
        _ method: HTTPRequest.Method,
        _ url: String,
        accessToken: String? = nil,
        json: [String: Any]? = nil,
        timeout: Duration? = nil
    ) async throws -> HTTPClientResponse {
        var fields = HTTPFields()
        if let accessToken { fields[.authorization] = "Bearer \(accessToken)" }
        var body: [UInt8] = []
        if let json {
            fields[.contentType] = "application/json"
            body = Array(try JSONSerialization.data(withJSONObject: json))
        } else if method != .get && method != .head {
            fields[.contentType] = "application/json"
            body = Array("{}".utf8)
        }
        let request = HTTPClientRequest(method: method, url: url, headerFields: fields, body: body, timeout: timeout)
        return try await Self.client.execute(request)
    }

    /// Sends a request and returns the JSON object of a 2xx answer.
    /// - Throws: ``SynapseHarnessError`` naming the method, path, status and Matrix error code
    ///   otherwise.
    static func request(
        _ method: HTTPRequest.Method,
        _ baseURL: String,
        _ path: String,
        query: [(String, String)] = [],
        accessToken: String? = nil,
        json: [String: Any]? = nil,
        timeout: Duration? = nil
    ) async throws -> [String: Any] {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
        }
        let response = try await Self.send(method, url, accessToken: accessToken, json: json, timeout: timeout)
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard response.status.kind == .successful else {
            let code = object?["errcode"] as? String ?? "-"
            let reason = object?["error"] as? String ?? ""
            throw SynapseHarnessError("\(method.rawValue) \(path) answered \(response.status.code) \(code): \(reason)")
        }
        guard let object else {
            throw SynapseHarnessError("\(method.rawValue) \(path) answered \(response.status.code) without a JSON object")
        }
        return object
    }

    /// `text` with every byte but the unreserved ones (RFC 3986) percent-encoded: for path
    /// segments and query values (`!room:server`, `@user:server`, JSON filters).
    static func percentEncoded(_ text: String) -> String {
        let digits = Array("0123456789ABCDEF".unicodeScalars)
        var result = String.UnicodeScalarView()
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.append(Unicode.Scalar(byte))
            default:
                result.append("%")
                result.append(digits[Int(byte >> 4)])
                result.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(result)
    }

    /// Random lowercase hex of `bytes` random bytes, for secrets and passwords.
    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return hex((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// `bytes` as lowercase hex.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".unicodeScalars)
        var result = String.UnicodeScalarView()
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0F)])
        }
        return String(result)
    }
}
