import Foundation
import HTTPTypes
import SpiegelChat
import Testing

/// The Matrix pieces that need no homeserver: event decoding, HTML formatting, request shapes,
/// and the waits a rate limit asks for.
@Suite struct MatrixProtocolTests {
    @Test func eventsDecodeLenientlyAndRepliesLoseTheirQuotedFallback() throws {
        let json = #"""
            [{"type":"m.room.message","event_id":"$1","room_id":"!r:s","sender":"@an:s","origin_server_ts":5,
              "content":{"msgtype":"m.text","body":"> <@spiegel:s> Hoeveel tijd heb je nu?\n> 1. Tien\n\n2","m.relates_to":{"m.in_reply_to":{"event_id":"$0"}}}},
             {"type":"m.room.message","event_id":"$2","sender":"@an:s","content":{"msgtype":"m.text","body":"* halo","m.relates_to":{"rel_type":"m.replace","event_id":"$1"}}},
             {"no":"type"},
             42,
             {"type":"m.room.member","state_key":"@spiegel:s","sender":"@an:s","content":{"membership":"invite","is_direct":true}},
             {"type":"m.room.message","content":{"body":["not","text"]}}]
            """#
        let events = try JSONDecoder().decode(LenientArray<MatrixEvent>.self, from: Data(json.utf8))
        #expect(events.elements.count == 4 && events.skipped == 2)
        #expect(events.elements[0].messageText == "2" && events.elements[0].content.isReply)
        #expect(events.elements[1].content.relationType == "m.replace" && events.elements[1].messageText == "* halo")
        #expect(events.elements[2].content.membership == "invite" && events.elements[2].content.isDirect == true && events.elements[2].stateKey == "@spiegel:s")
        #expect(events.elements[3].content.body == nil && events.elements[3].messageText == nil)
        // A body that merely starts with a quote, without being a reply, is kept whole.
        let quote = MatrixEvent(eventID: "$3", roomID: nil, sender: "@an:s", type: "m.room.message", content: .init(msgtype: "m.text", body: "> citaat\n\nmijn antwoord"))
        #expect(quote.messageText == "> citaat\n\nmijn antwoord")
    }

    @Test func listsAndBoldBecomeHTMLAndPlainTextStaysPlain() {
        #expect(MatrixFormatting.html(for: "Wat ging er goed in je les?") == nil)
        #expect(MatrixFormatting.html(for: "Hoeveel tijd heb je nu?\n1. Tien minuten of meer\n2. Maar een paar minuten")
            == "Hoeveel tijd heb je nu?<ol><li>Tien minuten of meer</li><li>Maar een paar minuten</li></ol>")
        #expect(MatrixFormatting.html(for: "Dit zei je:\n– je doel: <rust> & orde\n– het moment: start")
            == "Dit zei je:<ul><li>je doel: &lt;rust&gt; &amp; orde</li><li>het moment: start</li></ul>")
        #expect(MatrixFormatting.html(for: "3. derde\n4. vierde") == #"<ol start="3"><li>derde</li><li>vierde</li></ol>"#)
        #expect(MatrixFormatting.html(for: "Dat is **jouw** plan.\n\nKlopt dat?") == "Dat is <strong>jouw</strong> plan.<br><br>Klopt dat?")
        #expect(MatrixFormatting.html(for: "een **open") == "een **open")
    }

    @Test func aTurnIsOneMessageWithListsKeptTogether() {
        #expect(combinedReplies(["Dag!", "Hoeveel tijd heb je nu?", "1. Tien minuten of meer", "2. Maar een paar minuten"])
            == "Dag!\n\nHoeveel tijd heb je nu?\n1. Tien minuten of meer\n2. Maar een paar minuten")
        #expect(combinedReplies(["Alleen dit."]) == "Alleen dit.")
    }

    @Test func outboxEntriesBecomeIdempotentSendsJoinsAndLeaves() async throws {
        let transport = MatrixTransport(api: MatrixClientAPI(homeserverURL: "https://matrix.school.example/", accessToken: "as-token"))
        #expect(transport.combinesReplies)
        let send = try await transport.request(for: OutboxEntry(key: "$ev:school.example#0", room: "!dm:school.example", text: "Hoeveel?\n1. Veel\n2. Weinig"))
        #expect(send.method == .put)
        #expect(send.url == "https://matrix.school.example/_matrix/client/v3/rooms/%21dm%3Aschool.example/send/m.room.message/%24ev%3Aschool.example%230")
        #expect(send.headerFields[.authorization] == "Bearer as-token")
        let content = try #require(try JSONSerialization.jsonObject(with: Data(send.body)) as? [String: String])
        #expect(content["msgtype"] == "m.text" && content["body"] == "Hoeveel?\n1. Veel\n2. Weinig")
        #expect(content["format"] == "org.matrix.custom.html" && content["formatted_body"] == "Hoeveel?<ol><li>Veel</li><li>Weinig</li></ol>")
        let plainRequest = try await transport.request(for: OutboxEntry(key: "k", room: "!r:s", text: "Klopt dat?"))
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(plainRequest.body)) as? [String: String])
        #expect(plain == ["msgtype": "m.text", "body": "Klopt dat?"])
        let join = try await transport.request(for: OutboxEntry(key: "join", room: "!r:s", text: "", isPrivate: false, action: .join))
        #expect(join.method == .post && join.url.hasSuffix("/_matrix/client/v3/rooms/%21r%3As/join"))
        let leave = try await transport.request(for: OutboxEntry(key: "leave", room: "!r:s", text: "", isPrivate: false, action: .leave))
        #expect(leave.method == .post && leave.url.hasSuffix("/rooms/%21r%3As/leave"))
    }

    @Test func aRateLimitWaitsAsLongAsTheHomeserverSays() {
        let transport = MatrixTransport(api: MatrixClientAPI(homeserverURL: "http://hs", accessToken: "t"))
        let limited = HTTPClientResponse(status: .tooManyRequests, body: Array(#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2500}"#.utf8))
        #expect(transport.retryDelay(for: limited) == .milliseconds(2500))
        let header = HTTPClientResponse(status: .tooManyRequests, headerFields: [.retryAfter: "3"], body: Array(#"{"errcode":"M_LIMIT_EXCEEDED"}"#.utf8))
        #expect(transport.retryDelay(for: header) == .seconds(3))
        #expect(transport.retryDelay(for: HTTPClientResponse(status: .tooManyRequests)) == nil)
    }

    @Test func userIDsAreChecked() {
        #expect(MatrixIdentifiers.isUserID("@spiegel:school.example"))
        for bad in ["spiegel:school.example", "@spiegel", "@:school.example", "@spiegel:", "@spie gel:school.example"] {
            #expect(!MatrixIdentifiers.isUserID(bad), "\(bad)")
        }
    }
}

/// Canonical JSON, as Matrix signs it.
@Suite struct CanonicalJSONTests {
    @Test func keysAreSortedWithoutWhitespaceAndOnlyRequiredEscapes() throws {
        let value = try #require(JSONValue.parse(Array(#"{"b": 1, "a": {"z": [true, null, "x/y"], "é": "\u0007\n\"\\"}, "A": -2}"#.utf8)))
        #expect(String(decoding: value.canonical, as: UTF8.self) == #"{"A":-2,"a":{"z":[true,null,"x/y"],"é":"\u0007\n\"\\"},"b":1}"#)
    }

    @Test func aSignatureCoversAllButSignaturesAndUnsigned() throws {
        let keys: JSONValue = [
            "user_id": "@an:school.example", "device_id": "PHONE",
            "keys": ["ed25519:PHONE": "key"],
            "signatures": ["@an:school.example": ["ed25519:PHONE": "sig"]],
            "unsigned": ["device_display_name": "An's phone"],
        ]
        #expect(String(decoding: keys.signedBytes, as: UTF8.self) == #"{"device_id":"PHONE","keys":{"ed25519:PHONE":"key"},"user_id":"@an:school.example"}"#)
        #expect(keys["signatures"]?["@an:school.example"]?["ed25519:PHONE"]?.string == "sig")
    }
}
