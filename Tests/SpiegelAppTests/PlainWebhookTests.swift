import Foundation
import Glibc
import HTTPTypes
import Logging
import ServiceLifecycle
import SpiegelApp
import SpiegelChat
import SpiegelCoach
import SpiegelTestKit
import SpiegelVault
import Testing

/// The plain webhook end to end: the real server on loopback, signed requests with the real
/// libcurl client, and a real receiving server for the replies.
@Suite struct PlainWebhookTests {
    static let prompts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Prompts").standardizedFileURL.path
    static let secret = "a-shared-secret-of-the-bridge"

    /// A message of the plain protocol from An's direct chat, signed at the test's now.
    static func signedMessage(id: String, text: String, to baseURL: String) throws -> HTTPClientRequest {
        let body = [UInt8](try JSONSerialization.data(withJSONObject: ["id": id, "user": "@an:school.example", "room": "!an-dm", "text": text, "ts": 1] as [String: Any]))
        let signed = PlainSignature(secret: Array(Self.secret.utf8)).sign(body, at: TestTime.now())
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
        headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
        return HTTPClientRequest(method: .post, url: baseURL + "/hooks/plain", headerFields: headers, body: body)
    }

    struct Bridge {
        let server: SpiegelServerTests.Running
        let receiver: LoopbackHTTPServer
        var baseURL: String { self.server.baseURL }
        var client: CurlHTTPClient { self.server.client }
        let signature = PlainSignature(secret: Array(PlainWebhookTests.secret.utf8))

        /// POSTs a message, signed unless told otherwise.
        func post(
            id: String, user: String = "@an:school.example", room: String = "!an-dm", text: String,
            body: [UInt8]? = nil, contentType: String = "application/json", signedAt: Date = TestTime.now(), sign: Bool = true
        ) async throws -> (status: Int, body: String) {
            let object: [String: Any] = ["id": id, "user": user, "room": room, "text": text, "ts": Int(signedAt.timeIntervalSince1970)]
            let bytes = try body ?? [UInt8](JSONSerialization.data(withJSONObject: object))
            var headers: HTTPFields = [.contentType: contentType]
            let signed = self.signature.sign(bytes, at: signedAt)
            headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
            headers[HTTPField.Name(PlainSignature.signatureHeader)!] = sign ? signed.signature : "v1=" + String(repeating: "0", count: 64)
            let response = try await self.client.execute(HTTPClientRequest(method: .post, url: self.baseURL + "/hooks/plain", headerFields: headers, body: bytes))
            return (Int(response.status.code), String(decoding: response.body, as: UTF8.self))
        }

        /// The texts the receiver accepted, after checking each request's signature.
        func receivedTexts() throws -> [String] {
            try self.receiver.received.map { request in
                let verified = self.signature.verify(
                    timestamp: request.headers["x-spiegel-timestamp"], signature: request.headers["x-spiegel-signature"],
                    body: request.body, now: TestTime.now()
                )
                try verified.get()
                let object = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String])
                return object["text"] ?? ""
            }
        }

        /// Waits up to 10 s for the receiver to hold `count` messages.
        func waitForReceived(_ count: Int) async throws -> [String] {
            try await Poll.until("\(count) messages received") { self.receiver.received.count >= count }
            return try self.receivedTexts()
        }
    }

    /// Runs a server with the plain webhook on, on a fresh data directory (or `dataDirectory`).
    func withBridge(
        dataDirectory: String? = nil, key: MasterKey = .generate(), configure: (inout SpiegelConfiguration) -> Void = { _ in },
        _ body: (Bridge) async throws -> Void
    ) async throws {
        let receiver = try await LoopbackHTTPServer.start()
        var configuration = SpiegelConfiguration()
        configuration.dataDirectory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-plain-\(UUID().uuidString)").path
        configuration.vaultMasterKey = key.base64Encoded
        configuration.promptsDirectory = Self.prompts
        configuration.plain.secret = Self.secret
        configuration.plain.outboundURL = receiver.url("/inbox")
        configuration.plain.teamRooms = ["!team"]
        configuration.mattermost.token = "mattermost-token-123"
        configuration.mattermost.incomingWebhookURL = receiver.url("/inbox")
        configuration.mattermost.teamChannels = ["town-square"]
        configuration.mattermost.roomWebhookURLs = ["@bert": receiver.url("/inbox/bert")]
        configuration.coach.rateLimitBurst = 1000
        configure(&configuration)
        try await SpiegelServerTests.run(configuration) { server in
            try await body(Bridge(server: server, receiver: receiver))
        }
        try await receiver.stop()
    }

    @Test func aConversationGoesInAndItsRepliesComeOutSignedAndInOrder() async throws {
        try await withBridge { bridge in
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
            // A turn's replies are one message, paragraphs apart.
            let opening = try await bridge.waitForReceived(1)
            let paragraphs = try #require(opening.first).components(separatedBy: "\n\n")
            #expect(paragraphs.count >= 3, "\(paragraphs.count) paragraphs")
            #expect(paragraphs.first == "Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.")
            #expect(paragraphs.last?.hasPrefix("Hoeveel tijd heb je nu?") == true)
            #expect(try await bridge.post(id: "m2", text: "1").status == 200)
            #expect(try await bridge.waitForReceived(2).last == "Wat zou een goede uitkomst van dit gesprek zijn?")
            // The same message again is answered 200, processed once, and its replies keep their keys.
            let again = try await bridge.post(id: "m2", text: "1")
            #expect(again.status == 200 && again.body.contains("duplicate"))
            try await bridge.server.settled()
            #expect(try bridge.receivedTexts().count == 2)
            let keys = bridge.receiver.received.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: String])?["key"] }
            // `<sender tag>/<message id>#<n>`: one tag for one teacher, never their user id.
            let parts: [(tag: String, rest: String)] = keys.map { key in
                let split = key.split(separator: "/", maxSplits: 1).map(String.init)
                return (split.first ?? "", split.last ?? "")
            }
            #expect(parts.map(\.rest) == ["m1#0", "m2#0"])
            let tags = Set(parts.map(\.tag))
            #expect(tags.count == 1)
            #expect(tags.first?.count == 12)
            #expect(!keys.contains { $0.contains("school.example") })
            // Counted per transport, without a word of the conversation.
            let metrics = String(decoding: try await bridge.client.execute(HTTPClientRequest(url: bridge.baseURL + "/metrics")).body, as: UTF8.self)
            #expect(metrics.contains(#"spiegel_messages_in_total{transport="plain",outcome="processed"}"#) || metrics.contains(#"spiegel_messages_in_total{outcome="processed",transport="plain"}"#))
            for name in ["spiegel_messages_out_total", "spiegel_outbox_depth", "spiegel_outbox_oldest_age_seconds", "spiegel_outbox_delivery_seconds"] {
                #expect(metrics.contains(name), "\(name)")
            }
            #expect(!metrics.contains("uitkomst") && !metrics.contains("an:school"))
        }
    }

    @Test(arguments: [
        ("a forged signature", 401, "signature"),
        ("wrong content type", 415, "content type"),
        ("oversize body", 413, "over"),
        ("invalid JSON", 400, "JSON object"),
        ("invalid UTF-8", 400, "UTF-8"),
        ("a missing field", 400, "\"field\":\"room\""),
        ("an old timestamp", 200, "stale"),
        ("a team room", 200, "team room"),
    ])
    func badRequestsGetTheirStatusAndChangeNothing(what: String, status: Int, says: String) async throws {
        try await withBridge { bridge in
            let result: (status: Int, body: String)
            switch what {
            case "a forged signature": result = try await bridge.post(id: "x", text: "hallo", sign: false)
            case "wrong content type": result = try await bridge.post(id: "x", text: "hallo", contentType: "text/plain")
            case "oversize body": result = try await bridge.post(id: "x", text: String(repeating: "a", count: 70_000))
            case "invalid JSON": result = try await bridge.post(id: "x", text: "", body: Array("{\"id\": ".utf8))
            case "invalid UTF-8": result = try await bridge.post(id: "x", text: "", body: [0x7B, 0xFF, 0xFE, 0x7D])
            case "a missing field": result = try await bridge.post(id: "x", text: "", body: Array(#"{"id":"x","user":"@an:s","text":"hallo","ts":1}"#.utf8))
            case "an old timestamp": result = try await bridge.post(id: "x", text: "hallo", signedAt: TestTime.now().addingTimeInterval(-600))
            default: result = try await bridge.post(id: "x", room: "!team", text: "hallo")
            }
            #expect(result.status == status, "\(what): \(result.body)")
            #expect(result.body.contains(says), "\(what): \(result.body)")
            #expect(!result.body.contains("hallo"), "no message text in a response")
            // Nothing was processed: the next real message still starts the conversation.
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
            #expect(try await bridge.waitForReceived(1).first?.hasPrefix("Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.\n\n") == true)
        }
    }

    /// POSTs a Mattermost outgoing-webhook form.
    func mattermost(_ bridge: Bridge, _ fields: [(String, String)], contentType: String = "application/x-www-form-urlencoded") async throws -> (status: Int, body: String) {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let form = fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        let response = try await bridge.client.execute(HTTPClientRequest(
            method: .post, url: bridge.baseURL + "/hooks/mattermost", headerFields: [.contentType: contentType], body: Array(form.utf8)
        ))
        return (Int(response.status.code), String(decoding: response.body, as: UTF8.self))
    }

    @Test func mattermostOutgoingWebhooksGetRepliesInTheDirectChat() async throws {
        try await withBridge { bridge in
            let post: [(String, String)] = [
                ("token", "mattermost-token-123"), ("team_id", "t1"), ("channel_id", "dm-an"), ("channel_name", "an__spiegel"),
                ("user_id", "u-an"), ("user_name", "an"), ("post_id", "p1"), ("text", "hallo daar & welkom"), ("timestamp", "1800000000000"),
            ]
            #expect(try await mattermost(bridge, post).status == 200)
            try await bridge.server.settled()
            let replies = bridge.receiver.received.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: String] }
            // The turn is one post: one notification.
            #expect(replies.count == 1)
            #expect(replies.allSatisfy { $0["channel"] == "@an" && $0["username"] == "Spiegel" })
            #expect(replies.first?["text"]?.hasPrefix("Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.\n\n") == true)
            #expect(bridge.receiver.received.first?.headers["idempotency-key"]?.hasSuffix("/p1#0") == true)

            let wrongToken = post.map { $0.0 == "token" ? ("token", "mattermost-token-124") : $0 }
            #expect(try await mattermost(bridge, wrongToken).status == 401)
            let teamChannel = post.map { $0.0 == "channel_name" ? ("channel_name", "town-square") : ($0.0 == "post_id" ? ("post_id", "p2") : $0) }
            #expect(try await mattermost(bridge, teamChannel).body.contains("ignored"))
            #expect(try await mattermost(bridge, post, contentType: "application/json").status == 415)
            let noUser = post.filter { $0.0 != "user_id" }
            let missing = try await mattermost(bridge, noUser)
            #expect(missing.status == 400 && missing.body.contains("user_id"))
            try await bridge.server.settled()
            #expect(bridge.receiver.received.count == 1, "nothing more was sent")
            // A room with a webhook of its own gets its replies there.
            let bert = post.map { $0.0 == "user_name" ? ("user_name", "bert") : ($0.0 == "user_id" ? ("user_id", "u-bert") : ($0.0 == "post_id" ? ("post_id", "b1") : $0)) }
            #expect(try await mattermost(bridge, bert).status == 200)
            try await bridge.server.settled()
            #expect(bridge.receiver.received.count == 2)
            #expect(bridge.receiver.received.last?.path == "/inbox/bert")
        }
    }

    @Test func aCoachGetsExactlyTheApprovedPartsAndNothingElse() async throws {
        try await withBridge { bridge in
            let an = "@an:school.example", els = "@els:school.example"
            var id = 0
            func say(_ text: String, as user: String) async throws {
                id += 1
                #expect(try await bridge.post(id: "s\(id)", user: user, room: user == an ? "!an-dm" : "!els-dm", text: text).status == 200)
            }
            try await say("hallo", as: els)
            try await say("mijn coach is \(els)", as: an)
            try await say("aanvaard \(an)", as: els)
            let script = try String(contentsOfFile: Self.prompts + "/conversations/reflectie-volledig.txt", encoding: .utf8)
            let answers = script.split(separator: "\n").filter { $0.hasPrefix("> ") }.map { String($0.dropFirst(2)) }
            try await say("hallo", as: an)
            for answer in answers { try await say(answer, as: an) }
            try await say("Hoe pak jij de eerste minuten aan?", as: an)
            try await say("1 3", as: an)
            try await say("ja", as: an)
            // A coachee cannot point the bot at the team room, or at anyone but an accepted coach.
            try await say("mijn coach is !team", as: an)
            try await say("mijn coach is @bert:school.example", as: an)
            try await say("trek in", as: an)
            // Everything is out; the withdrawal is the last thing Els gets.
            try await bridge.server.settled()

            // Every request the receiver got, with its room.
            let received: [(room: String, text: String)] = bridge.receiver.received.compactMap { request in
                guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String] else { return nil }
                return (object["room"] ?? "", object["text"] ?? "")
            }
            #expect(!received.contains { $0.room == "!team" }, "nothing to the team room")
            #expect(Set(received.map { $0.room }) == ["!an-dm", "!els-dm"])
            let toCoach = received.filter { $0.room == "!els-dm" }.map { $0.text }.joined(separator: "\n")
            let approved = ["Dat de start van mijn lessen rustiger verloopt", "Hoe ik hun aandacht krijg zonder te roepen"]
            for answer in answers + ["Hoe pak jij de eerste minuten aan?"] where answer.count > 3 && toCoach.contains(answer) {
                #expect(approved.contains(answer), "the coach got words the coachee did not approve")
            }
            for answer in approved { #expect(toCoach.contains(answer)) }
            #expect(!toCoach.contains("6 op 10") && !toCoach.contains("je cijfer"), "no score the coachee did not approve")
            #expect(toCoach.components(separatedBy: "Samenvatting van \(an)").count == 2, "one summary")
            // Asking another coach ended the pairing with Els; the withdrawal still reached her.
            #expect(toCoach.contains("\(an) trok de samenvatting van"))
            // Her own opening, the request, her acceptance, the summary, the end, the withdrawal.
            #expect(received.filter { $0.room == "!els-dm" }.count == 6)
        }
    }

    @Test func aMessageOverTheRateLimitGets429WithRetryAfterAndIsNotKept() async throws {
        try await withBridge(configure: {
            $0.coach.rateLimitBurst = 2
            $0.coach.rateLimitInterval = .seconds(30)
            $0.coach.rateLimitMaxWait = .seconds(1)
        }) { bridge in
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
            #expect(try await bridge.post(id: "m2", text: "1").status == 200)
            let replies = try await bridge.waitForReceived(2).count
            // The third within the burst: not kept, and the bridge is told when to send it again.
            let response = try await bridge.client.execute(try Self.signedMessage(id: "m3", text: "Rust", to: bridge.baseURL))
            #expect(response.status.code == 429)
            let retryAfter = try #require(response.headerFields[.retryAfter].flatMap { Int($0) })
            #expect((2...30).contains(retryAfter), "beyond the longest wait, within the interval: \(retryAfter)")
            #expect(String(decoding: response.body, as: UTF8.self).contains(#""retry_after":\#(retryAfter)"#))
            // The teacher hears once why the answer waits; nothing else was sent for it.
            let texts = try await bridge.waitForReceived(replies + 1)
            #expect(texts.last?.hasPrefix("Dat gaat snel!") == true, "\(texts)")
            #expect(try await bridge.post(id: "m3", text: "Rust").status == 429)
            try await Task.sleep(for: .milliseconds(300))
            #expect(bridge.receiver.received.count == replies + 1)
        }
    }

    @Test func theSameMessageIdFromTwoTeachersGetsBothTheirReplies() async throws {
        try await self.withBridge { bridge in
            #expect(try await bridge.post(id: "m1", user: "@an:school.example", room: "!an-dm", text: "hallo").status == 200)
            #expect(try await bridge.post(id: "m1", user: "@bert:school.example", room: "!bert-dm", text: "hallo").status == 200)
            try await bridge.server.settled()
            let rooms = try bridge.receiver.received.map { request in
                try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String])["room"] ?? ""
            }
            #expect(rooms.filter { $0 == "!an-dm" }.count == rooms.filter { $0 == "!bert-dm" }.count)
            #expect(rooms.contains("!bert-dm"), "the second teacher's replies are not taken for the first's")
        }
    }

    @Test func aUserIdInAnyUnicodeFormIsOneTeacher() async throws {
        try await self.withBridge { bridge in
            let composed = "@jos\u{E9}:school.example", decomposed = "@jose\u{301}:school.example"
            #expect(try await bridge.post(id: "m1", user: composed, room: "!jose-dm", text: "hallo").status == 200)
            #expect(try await bridge.post(id: "m2", user: decomposed, room: "!jose-dm", text: "1").status == 200)
            try await bridge.server.settled()
            // The second message answered the first one's question: one conversation, not two.
            let texts = try bridge.receivedTexts()
            #expect(texts.last == "Wat zou een goede uitkomst van dit gesprek zijn?", "\(texts.suffix(2))")
            #expect(texts.filter { $0.hasPrefix("Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.") }.count == 1)
        }
    }

    @Test func aReceiverThatIsDownGetsEveryMessageOnceInOrderWhenItIsBack() async throws {
        try await withBridge { bridge in
            bridge.receiver.inboxStatus = 503
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
            #expect(try await bridge.post(id: "m2", text: "1").status == 200)
            #expect(try await bridge.post(id: "m3", text: "Rust bij de start").status == 200)
            try await Poll.until("the receiver refused a retry too") { bridge.receiver.refusedCount >= 2 }
            #expect(bridge.receiver.received.isEmpty)
            bridge.receiver.inboxStatus = 200
            let texts = try await bridge.waitForReceived(3)
            #expect(texts.count == 3)  // one message a turn
            #expect(Array(texts.suffix(2)) == ["Wat zou een goede uitkomst van dit gesprek zijn?", "Welk moment uit je les blijft je het meest bij?"])
        }
    }

    @Test func whatWasPendingAtShutdownIsDeliveredAfterARestart() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-plain-\(UUID().uuidString)").path
        let key = MasterKey.generate()
        try await withBridge(dataDirectory: dataDirectory, key: key) { (bridge: Bridge) async throws in
            bridge.receiver.inboxStatus = 503
            #expect(try await bridge.post(id: "m1", text: "hallo").status == 200)
        }
        try await withBridge(dataDirectory: dataDirectory, key: key) { bridge in
            let texts = try await bridge.waitForReceived(1)
            #expect(texts.first?.hasPrefix("Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.") == true)
            #expect(texts.count == 1)
        }
    }
}

/// `spiegel serve` with the plain webhook, killed with SIGKILL mid-conversation while the receiver
/// is down: after the restart the outbox delivers what was pending, in order, and the conversation
/// goes on.
@Suite(.serialized) struct PlainWebhookCrashTests {
    @Test func aKilledBotDeliversItsOutboxAfterTheRestartAndContinues() async throws {
        let receiver = try await LoopbackHTTPServer.start()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-plain-crash-\(UUID().uuidString)").path
        let environment = [
            "SPIEGEL_DATA_DIR": data, "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
            "SPIEGEL_PROMPTS_DIR": PlainWebhookTests.prompts, "SPIEGEL_SERVER_PORT": "0",
            "SPIEGEL_PLAIN_SECRET": PlainWebhookTests.secret, "SPIEGEL_PLAIN_OUTBOUND_URL": receiver.url("/inbox"),
        ]
        let client = CurlHTTPClient(configuration: .init(), logger: Logger(label: "test"))
        func post(_ port: Int, id: String, text: String) async throws -> Int {
            Int(try await client.execute(try PlainWebhookTests.signedMessage(id: id, text: text, to: "http://127.0.0.1:\(port)")).status.code)
        }

        receiver.inboxStatus = 503
        let first = try SpiegelProcessTests.Run(["serve"], environment: environment)
        let port = try await first.listeningPort()
        #expect(try await post(port, id: "m1", text: "hallo") == 200)
        #expect(try await post(port, id: "m2", text: "1") == 200)
        kill(first.process.processIdentifier, SIGKILL)
        while first.process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(receiver.received.isEmpty)

        receiver.inboxStatus = 200
        let second = try SpiegelProcessTests.Run(["serve"], environment: environment)
        let again = try await second.listeningPort()
        try await Poll.until("the pending replies delivered after the restart") { receiver.received.count >= 2 }
        #expect(try await post(again, id: "m3", text: "Rust bij de start") == 200)
        try await Poll.until("the reply to the next message") { receiver.received.count >= 3 }
        // Exactly once in effect: a receiver that keeps the first of each key sees each reply once, in order.
        var seen = Set<String>()
        let texts = receiver.received.compactMap { request -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String],
                  let key = object["key"], seen.insert(key).inserted else { return nil }
            return object["text"]
        }
        #expect(texts.count == 3, "\(texts)")
        #expect(texts.first?.hasPrefix("Dag! Fijn dat je na je les even de tijd neemt om terug te blikken.\n\n") == true)
        #expect(Array(texts.suffix(2)) == ["Wat zou een goede uitkomst van dit gesprek zijn?", "Welk moment uit je les blijft je het meest bij?"])
        second.process.terminate()
        _ = try await second.exitStatus()
        await client.shutdown()
        try await receiver.stop()
    }
}
