internal import CCurl

/// Process-wide libcurl set-up, done once on first use.
enum CurlGlobal {
    /// `curl_global_init` has run and SIGPIPE is ignored; evaluated once, thread-safely.
    static let isInitialized: Bool = {
        spiegel_ignore_sigpipe()
        return spiegel_global_init() == CURLE_OK
    }()

    /// libcurl's version line, for example `libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13`.
    static var versionDescription: String {
        String(cString: curl_version())
    }
}

extension CurlGlobal {
    /// Whether this libcurl was built with TLS, so `https` URLs work.
    static var supportsTLS: Bool {
        spiegel_supports_tls() != 0
    }
}
