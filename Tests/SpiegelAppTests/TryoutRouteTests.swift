import Foundation
import HTTPTypes
import Logging
import SpiegelApp
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// The try-out chat's HTTP side against a real `spiegel serve`: where it is offered (the built-in
/// defaults; a configuration file only when it says so; a non-loopback address only when allowed),
/// what every answer carries, and the refusals a browser's page never causes.
@Suite struct TryoutRouteTests {
    typealias Run = SpiegelProcessTests.Run
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path

    /// A `serve` with `environment` (and the Prompts, a key, a free port) and, when given, a file.
    private func serve(file: String? = nil, environment: [String: String] = [:]) throws -> (Run, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-tryout-routes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        var arguments = ["serve"]
        if let file {
            let path = root.appendingPathComponent("spiegel.yaml")
            try file.write(to: path, atomically: true, encoding: .utf8)
            arguments += ["--config", path.path]
        }
        let base = [
            "SPIEGEL_DATA_DIR": root.appendingPathComponent("data").path, "SPIEGEL_PROMPTS_DIR": Self.prompts,
            "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded, "SPIEGEL_SERVER_PORT": "0",
        ]
        return (try Run(arguments, environment: base.merging(environment) { $1 }), root)
    }

    @Test func theBuiltInDefaultsOfferThePageWithItsHeadersAndCookie() async throws {
        let (serve, root) = try self.serve()
        defer { serve.process.terminate(); try? FileManager.default.removeItem(at: root) }
        let port = try await serve.listeningPort()
        #expect(serve.standardOutput.contains("Try it out: open http://127.0.0.1:\(port)/ in a browser."))
        let client = CurlHTTPClient(logger: Logger(label: "test.tryout"))
        let page = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
        #expect(page.status == .ok)
        #expect(page.headerFields[.contentType] == "text/html; charset=utf-8")
        #expect(page.headerFields[.cacheControl] == "no-store")
        let policy = try #require(page.headerFields[.contentSecurityPolicy])
        #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"))
        #expect(!policy.contains("unsafe-inline") && !policy.contains("http"))
        let cookie = try #require(page.headerFields[.setCookie])
        #expect(cookie.hasPrefix("spiegel_tryout="))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
        // The page names no asset elsewhere.
        let html = String(decoding: page.body, as: UTF8.self)
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"))
        for asset in ["/tryout/app.js", "/tryout/app.css"] {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(asset)"))
            #expect(response.status == .ok)
            #expect(response.headerFields[.cacheControl] == "no-store")
            #expect(!String(decoding: response.body, as: UTF8.self).contains("https://"))
        }

        // What only a foreign page or a broken client sends is refused, saying why.
        let id = String(cookie.dropFirst("spiegel_tryout=".count).prefix { $0 != ";" })
        func post(_ body: String, contentType: String = "application/json", cookie: String? = id, origin: String? = nil) async throws -> HTTPClientResponse {
            var headers: HTTPFields = [.contentType: contentType]
            if let cookie { headers[.cookie] = "spiegel_tryout=\(cookie)" }
            if let origin { headers[.origin] = origin }
            return try await client.execute(HTTPClientRequest(
                method: .post, url: "http://127.0.0.1:\(port)/tryout/messages", headerFields: headers, body: Array(body.utf8)
            ))
        }
        #expect(try await post(#"{"id":"a","text":"hallo"}"#, cookie: nil).status == .unauthorized)
        #expect(try await post(#"{"id":"a","text":"hallo"}"#, cookie: "not-one-of-ours").status == .unauthorized)
        #expect(try await post("id=a&text=hallo", contentType: "application/x-www-form-urlencoded").status == .unsupportedMediaType)
        #expect(try await post(#"{"id":"a","text":"hallo"}"#, origin: "http://elders.example").status == .forbidden)
        #expect(try await post(#"{"id":"a"}"#).status == .badRequest)
        #expect(try await post(#"{"id":"a","text":"   "}"#).status == .badRequest)
        #expect(try await post(#"{"id":"a","text":"Mijn les liep mis."}"#, origin: "http://127.0.0.1:\(port)").status == .ok)
        let read = try await client.execute(HTTPClientRequest(
            url: "http://127.0.0.1:\(port)/tryout/messages?after=0", headerFields: [.cookie: "spiegel_tryout=\(id)"]
        ))
        #expect(read.status == .ok)
        #expect(read.headerFields[.cacheControl] == "no-store")
        let conversation = try #require(try JSONSerialization.jsonObject(with: Data(read.body)) as? [String: Any])
        let messages = try #require(conversation["messages"] as? [[String: Any]])
        #expect(messages.first?["text"] as? String == "Mijn les liep mis.")
        #expect(messages.dropFirst().contains { $0["from"] as? String == "spiegel" })
        serve.process.terminate()
        #expect(try await serve.exitStatus() == 0)
        #expect(!serve.standardError.contains("Mijn les liep mis"))
    }

    @Test func aConfigurationFileOffersItOnlyWhenItSaysSo() async throws {
        let (quiet, quietRoot) = try self.serve(file: "log:\n  level: info\n")
        defer { quiet.process.terminate(); try? FileManager.default.removeItem(at: quietRoot) }
        let port = try await quiet.listeningPort()
        let client = CurlHTTPClient(logger: Logger(label: "test.tryout"))
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/")).status == .notFound)
        #expect(!quiet.standardOutput.contains("Try it out"))

        let (asked, askedRoot) = try self.serve(file: "tryout:\n  enabled: true\n")
        defer { asked.process.terminate(); try? FileManager.default.removeItem(at: askedRoot) }
        let askedPort = try await asked.listeningPort()
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(askedPort)/")).status == .ok)
    }

    @Test func aNonLoopbackAddressOffersItOnlyWhenAllowed() async throws {
        let (open, root) = try self.serve(environment: ["SPIEGEL_SERVER_HOST": "0.0.0.0"])
        defer { open.process.terminate(); try? FileManager.default.removeItem(at: root) }
        let port = try await open.listeningPort()
        let client = CurlHTTPClient(logger: Logger(label: "test.tryout"))
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/")).status == .notFound)
        #expect(open.standardError.contains("spiegel.tryout.not_offered"))

        let (allowed, allowedRoot) = try self.serve(environment: ["SPIEGEL_SERVER_HOST": "0.0.0.0", "SPIEGEL_TRYOUT_ALLOW_REMOTE": "true"])
        defer { allowed.process.terminate(); try? FileManager.default.removeItem(at: allowedRoot) }
        let allowedPort = try await allowed.listeningPort()
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(allowedPort)/")).status == .ok)
    }

    @Test func theLoaderTurnsItOffForAFileAndTheEnvironmentCanTurnItOn() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-tryout-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("spiegel.yaml").path
        try "log:\n  level: info\n".write(toFile: file, atomically: true, encoding: .utf8)
        let missing = directory.appendingPathComponent("absent.yaml").path
        #expect(try ConfigurationLoader.load(file: nil, environment: [:], defaultFile: missing).configuration.offersTryout)
        #expect(try !ConfigurationLoader.load(file: file, environment: [:]).configuration.tryout.enabled)
        #expect(try ConfigurationLoader.load(file: file, environment: ["SPIEGEL_TRYOUT_ENABLED": "true"]).configuration.offersTryout)
        var configuration = SpiegelConfiguration()
        configuration.server.host = "0.0.0.0"
        #expect(!configuration.offersTryout)
        configuration.tryout.allowRemote = true
        #expect(configuration.offersTryout)
        configuration.server.host = "::1"
        configuration.tryout.allowRemote = false
        #expect(configuration.offersTryout)
    }
}
