import Foundation
import HTTPTypes
import SpiegelChat
import Testing

@Suite struct PlainSignatureTests {
    static let secret = Array("0123456789abcdef0123456789abcdef".utf8)
    static let body = Array(#"{"id":"m1","user":"@an:school.example","room":"!dm","text":"Dag","ts":1800000000}"#.utf8)
    static let sentAt = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aKnownAnswer() {
        // Computed independently with Python's hmac module.
        let signed = PlainSignature(secret: Self.secret).sign(Self.body, at: Self.sentAt)
        #expect(signed.timestamp == "1800000000")
        #expect(signed.signature == "v1=76c0983183650c249f7d534a0233c2f506b5966c5b70fc5fde870ae83b010ecc")
    }

    /// A reply goes out as JSON any bridge reads, its text exact whatever it holds, signed over
    /// the bytes sent.
    @Test func aReplyIsPostedAsSignedJSONWithItsTextExact() throws {
        let signature = PlainSignature(secret: Self.secret)
        let transport = PlainTransport(url: "http://bridge.example/in", signature: signature, now: { Self.sentAt })
        for (text, replyTo) in [("Ze zei: \"stop\" \\ en\nging\tweg\u{1}\u{1f} 👩‍🏫\u{2028}</script>", "m\"1\""), ("", nil), ("Één ∑ 𝄞 / \u{7f}", "é")] as [(String, String?)] {
            let request = transport.request(for: OutboxEntry(key: "a1b2c3/\(replyTo ?? "-")#0", room: "!dm:school.example", text: text, replyTo: replyTo))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String])
            #expect(object == ["key": "a1b2c3/\(replyTo ?? "-")#0", "room": "!dm:school.example", "text": text].merging(replyTo.map { ["reply_to": $0] } ?? [:]) { a, _ in a })
            let verified = signature.verify(
                timestamp: request.headerFields[HTTPField.Name(PlainSignature.timestampHeader)!],
                signature: request.headerFields[HTTPField.Name(PlainSignature.signatureHeader)!], body: request.body, now: Self.sentAt
            )
            #expect((try? verified.get()) != nil)
        }
    }

    @Test func whatIsSignedVerifiesWithinTheWindow() {
        let signature = PlainSignature(secret: Self.secret)
        let signed = signature.sign(Self.body, at: Self.sentAt)
        for delay in [0.0, 299, -299] {
            let result = signature.verify(timestamp: signed.timestamp, signature: signed.signature, body: Self.body, now: Self.sentAt.addingTimeInterval(delay))
            #expect((try? result.get()) != nil, "delay \(delay)")
        }
        let uppercase = "v1=" + signed.signature.dropFirst(3).uppercased()
        #expect((try? signature.verify(timestamp: signed.timestamp, signature: uppercase, body: Self.body, now: Self.sentAt).get()) != nil)
    }

    @Test(arguments: [
        ("a changed body", "1800000000", nil, Array(#"{"id":"m1","text":"Hallo"}"#.utf8), 0.0, PlainSignature.Rejection.mismatch),
        ("another timestamp", "1800000001", nil, PlainSignatureTests.body, 0, .mismatch),
        ("an old request", "1800000000", nil, PlainSignatureTests.body, 301, .stale),
        ("a request from the future", "1800000000", nil, PlainSignatureTests.body, -301, .stale),
        ("no timestamp", nil, nil, PlainSignatureTests.body, 0, .malformed),
        ("a timestamp that is no number", "gisteren", nil, PlainSignatureTests.body, 0, .malformed),
        ("no v1 prefix", "1800000000", "76c0983183650c249f7d534a0233c2f506b5966c5b70fc5fde870ae83b010ecc", PlainSignatureTests.body, 0, .malformed),
        ("a short signature", "1800000000", "v1=76c0", PlainSignatureTests.body, 0, .malformed),
        ("a signature that is no hex", "1800000000", "v1=" + String(repeating: "zz", count: 32), PlainSignatureTests.body, 0, .malformed),
    ] as [(String, String?, String?, [UInt8], Double, PlainSignature.Rejection)])
    func aRequestIsRefusedWithItsReason(what: String, timestamp: String?, signature: String?, body: [UInt8], delay: Double, reason: PlainSignature.Rejection) {
        let verifier = PlainSignature(secret: Self.secret)
        let header = signature ?? verifier.sign(Self.body, at: Self.sentAt).signature
        let result = verifier.verify(timestamp: timestamp, signature: header, body: body, now: Self.sentAt.addingTimeInterval(delay))
        #expect(throws: reason, "\(what)") { try result.get() }
    }

    @Test func anotherSecretDoesNotVerify() {
        let signed = PlainSignature(secret: Array("another secret of sixteen+".utf8)).sign(Self.body, at: Self.sentAt)
        let result = PlainSignature(secret: Self.secret).verify(timestamp: signed.timestamp, signature: signed.signature, body: Self.body, now: Self.sentAt)
        #expect(throws: PlainSignature.Rejection.mismatch) { try result.get() }
    }

    @Test func theReferenceClientSignsWhatSpiegelVerifies() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/spiegel-plain-send.py").standardizedFileURL.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--dry-run", "--id", "m1", "--timestamp", "1800000000", "http://127.0.0.1:1/hooks/plain", "@an:school.example", "!dm", "Dag, één vraag"]
        process.environment = ["SPIEGEL_PLAIN_SECRET": String(decoding: Self.secret, as: UTF8.self), "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // Not waitUntilExit: the test threads are shared; the output is far below a pipe's buffer.
        while process.isRunning {
            try await Task.sleep(for: .milliseconds(10))
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        #expect(process.terminationStatus == 0)
        let text = String(decoding: data, as: UTF8.self)
        let parts = text.components(separatedBy: "\n\n")
        try #require(parts.count == 2, "\(text)")
        let headers = Dictionary(uniqueKeysWithValues: parts[0].split(separator: "\n").map { line -> (String, String) in
            let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return (pair[0], pair.count > 1 ? pair[1] : "")
        })
        let body = Array(parts[1].dropLast().utf8)
        let message = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        #expect(message?["text"] as? String == "Dag, één vraag")
        #expect(message?["id"] as? String == "m1")
        let result = PlainSignature(secret: Self.secret).verify(
            timestamp: headers[PlainSignature.timestampHeader], signature: headers[PlainSignature.signatureHeader], body: body, now: Self.sentAt
        )
        #expect((try? result.get()) != nil, "\(headers)")
    }
}
