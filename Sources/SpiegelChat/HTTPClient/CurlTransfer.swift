internal import CCurl
import HTTPTypes

/// One request on its way through ``CurlMultiLoop``: the easy handle's settings and the response
/// as it arrives.
///
/// - Important: after ``CurlMultiLoop/submit(_:)`` only the loop's thread touches a transfer,
///   except the two flags guarded by the loop's lock; hence `@unchecked Sendable`.
final class CurlTransfer: @unchecked Sendable {
    let request: HTTPClientRequest
    let connectTimeout: Duration
    let timeout: Duration
    let maxResponseSize: Int
    let caBundlePath: String?
    let userAgent: String
    var continuation: CheckedContinuation<HTTPClientResponse, any Error>?

    // Guarded by the loop's lock.
    var isSubmitted = false
    var isCancelledBeforeSubmit = false

    // Loop thread only.
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var responseFields = HTTPFields()
    var responseBody: [UInt8] = []
    var exceededSizeCap = false
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init(request: HTTPClientRequest, defaults: CurlHTTPClient.Configuration) {
        self.request = request
        self.connectTimeout = request.connectTimeout ?? defaults.connectTimeout
        self.timeout = request.timeout ?? defaults.timeout
        self.maxResponseSize = request.maxResponseSize ?? defaults.maxResponseSize
        self.caBundlePath = defaults.caBundlePath
        self.userAgent = defaults.userAgent
        self.errorBuffer.initialize(to: 0)
    }

    deinit {
        if let headerList { curl_slist_free_all(headerList) }
        self.errorBuffer.deallocate()
    }

    /// Applies every option of the request to `easy`; returns the first option curl refused.
    func configure(_ easy: UnsafeMutableRawPointer) -> CURLcode {
        self.easy = easy
        let this = Unmanaged.passUnretained(self).toOpaque()
        var options: [CURLcode] = [
            spiegel_easy_setopt_string(easy, CURLOPT_URL, self.request.url),
            spiegel_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1),
            spiegel_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"),
            spiegel_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
            spiegel_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, self.connectTimeout.curlMilliseconds),
            spiegel_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, self.timeout.curlMilliseconds),
            spiegel_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(self.maxResponseSize)),
            spiegel_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, self.request.maxRedirects > 0 ? 1 : 0),
            spiegel_easy_setopt_long(easy, CURLOPT_MAXREDIRS, self.request.maxRedirects),
            spiegel_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1),
            spiegel_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2),
            spiegel_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1),
            spiegel_easy_setopt_string(easy, CURLOPT_USERAGENT, self.userAgent),
            spiegel_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, self.errorBuffer),
            spiegel_easy_setopt_write_function(easy, CURLOPT_WRITEFUNCTION, curlBodyReceived),
            spiegel_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, this),
            spiegel_easy_setopt_write_function(easy, CURLOPT_HEADERFUNCTION, curlHeaderReceived),
            spiegel_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, this),
        ]
        if let caBundlePath = self.caBundlePath {
            options.append(spiegel_easy_setopt_string(easy, CURLOPT_CAINFO, caBundlePath))
        }
        options.append(contentsOf: self.configureMethodAndBody(easy))
        self.headerList = self.makeHeaderList()
        options.append(spiegel_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, self.headerList))
        return options.first { $0 != CURLE_OK } ?? CURLE_OK
    }

    private func configureMethodAndBody(_ easy: UnsafeMutableRawPointer) -> [CURLcode] {
        switch self.request.method {
        case .get:
            return [spiegel_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)]
        case .head:
            return [spiegel_easy_setopt_long(easy, CURLOPT_NOBODY, 1)]
        default:
            // The body is copied by curl, so the request may go away while the transfer runs.
            var codes = [spiegel_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(self.request.body.count))]
            let bytes = self.request.body.isEmpty ? [0] : self.request.body
            codes.append(bytes.withUnsafeBytes { spiegel_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) })
            if self.request.method != .post {
                codes.append(spiegel_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, self.request.method.rawValue))
            }
            return codes
        }
    }

    /// The caller's header fields, plus blanks that stop curl adding `Expect: 100-continue` (a
    /// round trip lost on every large body) or a form `Content-Type` the caller did not ask for.
    private func makeHeaderList() -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        for field in self.request.headerFields {
            list = curl_slist_append(list, "\(field.name.rawName): \(field.value)")
        }
        if self.request.headerFields[.expect] == nil {
            list = curl_slist_append(list, "Expect:")
        }
        if self.request.headerFields[.contentType] == nil {
            list = curl_slist_append(list, "Content-Type:")
        }
        return list
    }

    /// Takes the easy handle back for reuse and frees what only this transfer needed.
    func detachHandle() -> UnsafeMutableRawPointer? {
        defer { self.easy = nil }
        if let headerList {
            curl_slist_free_all(headerList)
            self.headerList = nil
        }
        return self.easy
    }

    /// The response, once curl reported the transfer done with `code`.
    func result(for code: CURLcode) -> Result<HTTPClientResponse, HTTPClientError> {
        guard code == CURLE_OK, let easy else {
            return .failure(self.error(for: code))
        }
        var status = 0
        _ = spiegel_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        let response = HTTPClientResponse(
            status: HTTPResponse.Status(code: status),
            headerFields: self.responseFields,
            body: self.responseBody
        )
        return .success(response)
    }

    private func error(for code: CURLcode) -> HTTPClientError {
        let detail = self.errorBuffer.pointee == 0 ? String(cString: curl_easy_strerror(code)) : String(cString: self.errorBuffer)
        switch code {
        case CURLE_COULDNT_CONNECT:
            return HTTPClientError(.connectionRefused, message: detail)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return HTTPClientError(.dns, message: detail)
        case CURLE_OPERATION_TIMEDOUT:
            return HTTPClientError(.timeout, message: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_CLIENTCERT:
            return HTTPClientError(.tls, message: detail)
        case CURLE_FILESIZE_EXCEEDED:
            return HTTPClientError(.responseTooLarge, message: "the response is larger than \(self.maxResponseSize) bytes")
        case CURLE_WRITE_ERROR where self.exceededSizeCap:
            return HTTPClientError(.responseTooLarge, message: "the response is larger than \(self.maxResponseSize) bytes")
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return HTTPClientError(.invalidRequest, message: detail)
        default:
            return HTTPClientError(.transport, message: detail)
        }
    }
}

/// `CURLOPT_WRITEFUNCTION`: appends a piece of the body, or stops the transfer past the size cap.
private let curlBodyReceived: curl_write_callback = { data, size, count, userData in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userData!).takeUnretainedValue()
    let length = size * count
    guard transfer.responseBody.count + length <= transfer.maxResponseSize else {
        transfer.exceededSizeCap = true
        return 0
    }
    transfer.responseBody.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// `CURLOPT_HEADERFUNCTION`: collects the header fields of the last response (a status line starts
/// a new set, so the fields of a 100 Continue or a followed redirect are dropped).
private let curlHeaderReceived: curl_write_callback = { data, size, count, userData in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userData!).takeUnretainedValue()
    let length = size * count
    // Read as bytes: a header line is ASCII where it matters (the name, the colon, the blanks).
    let line = UnsafeRawBufferPointer(start: data, count: length).bindMemory(to: UInt8.self)
    if line.starts(with: "HTTP/".utf8) {
        transfer.responseFields = HTTPFields()
    } else if let colon = line.firstIndex(of: UInt8(ascii: ":")),
        let name = HTTPField.Name(String(decoding: line[..<colon].trimmingHTTPWhitespace(), as: UTF8.self))
    {
        let value = String(decoding: line[(colon + 1)...].trimmingHTTPWhitespace(), as: UTF8.self)
        transfer.responseFields.append(HTTPField(name: name, value: value))
    }
    return length
}

extension Slice<UnsafeBufferPointer<UInt8>> {
    /// Without the spaces, tabs and line ends around it.
    fileprivate func trimmingHTTPWhitespace() -> Slice<UnsafeBufferPointer<UInt8>> {
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) }) else {
            return self[self.startIndex..<self.startIndex]
        }
        return self[first...last]
    }
}

extension Duration {
    /// Whole milliseconds for a curl timeout option, at least 1 (0 would mean "no timeout").
    var curlMilliseconds: Int {
        let (seconds, attoseconds) = self.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
