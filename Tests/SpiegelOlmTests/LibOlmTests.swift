import Foundation
import SpiegelOlm
import Testing

/// LibOlm through the `OlmBackend` protocols only, as the Matrix code uses it.
@Suite struct LibOlmTests {
    let olm: any OlmBackend = LibOlm()
    let pickleKey: [UInt8] = Array(repeating: 0x2A, count: 32)

    /// Alice's outbound session to Bob on one of his one-time keys, her first (pre-key) message
    /// and Bob's inbound session from it.
    struct Pair {
        let alice: any OlmAccount
        let bob: any OlmAccount
        let aliceSession: any OlmSession
        let bobSession: any OlmSession
        let firstMessage: OlmMessage
    }

    func pair() throws -> Pair {
        let alice = try self.olm.makeAccount()
        let bob = try self.olm.makeAccount()
        try bob.generateOneTimeKeys(count: 1)
        let oneTimeKey = try #require(bob.unpublishedOneTimeKeys().values.first)
        bob.markKeysAsPublished()
        let aliceSession = try alice.createOutboundSession(
            theirIdentityKey: bob.identityKeys.curve25519,
            theirOneTimeKey: oneTimeKey
        )
        let first = try aliceSession.encrypt(Array("first".utf8))
        let bobSession = try bob.createInboundSession(
            theirIdentityKey: alice.identityKeys.curve25519,
            preKeyMessage: first.body
        )
        try bob.removeOneTimeKeys(usedBy: bobSession)
        return Pair(alice: alice, bob: bob, aliceSession: aliceSession, bobSession: bobSession, firstMessage: first)
    }

    /// `base64` (unpadded) with one bit of its last byte flipped.
    func tampered(_ base64: String) throws -> String {
        let padded = base64 + String(repeating: "=", count: (4 - base64.count % 4) % 4)
        var bytes = try #require(Data(base64Encoded: padded))
        bytes[bytes.count - 1] ^= 0x01
        return bytes.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    // MARK: Olm

    @Test func aConversationBetweenTwoAccounts() throws {
        let alice = try self.olm.makeAccount()
        let bob = try self.olm.makeAccount()
        #expect(alice.identityKeys != bob.identityKeys)
        try bob.generateOneTimeKeys(count: 2)
        let (keyID, oneTimeKey) = try #require(bob.unpublishedOneTimeKeys().first)

        let aliceSession = try alice.createOutboundSession(
            theirIdentityKey: bob.identityKeys.curve25519,
            theirOneTimeKey: oneTimeKey
        )
        let first = try aliceSession.encrypt(Array("hallo Bob".utf8))
        #expect(first.type == 0)

        let bobSession = try bob.createInboundSession(
            theirIdentityKey: alice.identityKeys.curve25519,
            preKeyMessage: first.body
        )
        #expect(bobSession.sessionID == aliceSession.sessionID)
        #expect(bobSession.matchesInbound(theirIdentityKey: alice.identityKeys.curve25519, preKeyMessage: first.body))
        #expect(!bobSession.matchesInbound(theirIdentityKey: bob.identityKeys.curve25519, preKeyMessage: first.body))
        #expect(try bobSession.decrypt(first) == Array("hallo Bob".utf8))

        // The one-time key is used up: gone from the account, so the message cannot open a second
        // session; the other key is still there.
        try bob.removeOneTimeKeys(usedBy: bobSession)
        #expect(bob.unpublishedOneTimeKeys()[keyID] == nil)
        #expect(bob.unpublishedOneTimeKeys().count == 1)
        #expect(throws: OlmError("BAD_MESSAGE_KEY_ID")) {
            try bob.createInboundSession(theirIdentityKey: alice.identityKeys.curve25519, preKeyMessage: first.body)
        }
        #expect(throws: OlmError("BAD_MESSAGE_KEY_ID")) { try bob.removeOneTimeKeys(usedBy: bobSession) }

        let reply = try bobSession.encrypt(Array("hoi Alice".utf8))
        #expect(reply.type == 1)

        // A tampered message fails and leaves the session as it was.
        let forged = OlmMessage(type: reply.type, body: try self.tampered(reply.body))
        let error = #expect(throws: OlmError.self) { try aliceSession.decrypt(forged) }
        #expect(error?.code == "BAD_MESSAGE_MAC")

        #expect(try aliceSession.decrypt(reply) == Array("hoi Alice".utf8))
        // A replayed message fails (libolm calls that a bad MAC: its message key is gone).
        #expect(throws: OlmError("BAD_MESSAGE_MAC")) { try aliceSession.decrypt(reply) }

        // Once Alice has heard from Bob, she sends normal messages.
        let next = try aliceSession.encrypt(Array("en verder".utf8))
        #expect(next.type == 1)
        #expect(try bobSession.decrypt(next) == Array("en verder".utf8))
        #expect(throws: OlmError("BAD_MESSAGE_MAC")) { try bobSession.decrypt(next) }
    }

    @Test func laterPreKeyMessagesMatchTheirSessionOnly() throws {
        let pair = try self.pair()
        #expect(try pair.bobSession.decrypt(pair.firstMessage) == Array("first".utf8))
        // Alice has not heard from Bob yet: her second message is a pre-key message too.
        let second = try pair.aliceSession.encrypt(Array("second".utf8))
        #expect(second.type == 0)
        let aliceKey = pair.alice.identityKeys.curve25519
        #expect(pair.bobSession.matchesInbound(theirIdentityKey: aliceKey, preKeyMessage: second.body))
        #expect(try pair.bobSession.decrypt(second) == Array("second".utf8))

        // A pre-key message of another session (on another one-time key) does not match.
        try pair.bob.generateOneTimeKeys(count: 1)
        let otherKey = try #require(pair.bob.unpublishedOneTimeKeys().values.first)
        let otherSession = try pair.alice.createOutboundSession(
            theirIdentityKey: pair.bob.identityKeys.curve25519,
            theirOneTimeKey: otherKey
        )
        let other = try otherSession.encrypt(Array("other".utf8))
        #expect(otherSession.sessionID != pair.aliceSession.sessionID)
        #expect(!pair.bobSession.matchesInbound(theirIdentityKey: aliceKey, preKeyMessage: other.body))
        // Garbage is no match either, not a crash.
        #expect(!pair.bobSession.matchesInbound(theirIdentityKey: aliceKey, preKeyMessage: "not a message"))
    }

    @Test func badInputThrows() throws {
        let pair = try self.pair()
        #expect(throws: OlmError("BAD_MESSAGE_TYPE")) {
            try pair.bobSession.decrypt(OlmMessage(type: 2, body: pair.firstMessage.body))
        }
        let garbage = #expect(throws: OlmError.self) {
            try pair.bobSession.decrypt(OlmMessage(type: 1, body: "!!!"))
        }
        #expect(garbage?.code.isEmpty == false)
        #expect(throws: OlmError.self) {
            try pair.alice.createOutboundSession(theirIdentityKey: "short", theirOneTimeKey: "short")
        }
        #expect(throws: OlmError.self) {
            try pair.bob.createInboundSession(theirIdentityKey: pair.alice.identityKeys.curve25519, preKeyMessage: "AAAA")
        }
        // A pre-key message from someone else than the claimed sender opens no session.
        let carol = try self.olm.makeAccount()
        try pair.bob.generateOneTimeKeys(count: 1)
        let key = try #require(pair.bob.unpublishedOneTimeKeys().values.first)
        let carolSession = try carol.createOutboundSession(
            theirIdentityKey: pair.bob.identityKeys.curve25519,
            theirOneTimeKey: key
        )
        let fromCarol = try carolSession.encrypt(Array("hallo".utf8))
        #expect(throws: OlmError("BAD_MESSAGE_KEY_ID")) {
            try pair.bob.createInboundSession(
                theirIdentityKey: pair.alice.identityKeys.curve25519,
                preKeyMessage: fromCarol.body
            )
        }
    }

    // MARK: One-time and fallback keys

    @Test func oneTimeKeys() throws {
        let account = try self.olm.makeAccount()
        #expect(account.maxOneTimeKeys > 0)
        #expect(account.unpublishedOneTimeKeys().isEmpty)
        try account.generateOneTimeKeys(count: 5)
        let keys = account.unpublishedOneTimeKeys()
        #expect(keys.count == 5)
        #expect(Set(keys.values).count == 5)
        #expect(keys.values.allSatisfy { $0.count == 43 })
        account.markKeysAsPublished()
        #expect(account.unpublishedOneTimeKeys().isEmpty)
        try account.generateOneTimeKeys(count: 2)
        #expect(account.unpublishedOneTimeKeys().count == 2)
        #expect(Set(account.unpublishedOneTimeKeys().keys).isDisjoint(with: keys.keys))
    }

    @Test func thePublishedFallbackKeyStaysUsable() throws {
        let bob = try self.olm.makeAccount()
        #expect(bob.unpublishedFallbackKey().isEmpty)
        try bob.generateFallbackKey()
        let fallback = bob.unpublishedFallbackKey()
        #expect(fallback.count == 1)
        let fallbackKey = try #require(fallback.values.first)
        bob.markKeysAsPublished()
        #expect(bob.unpublishedFallbackKey().isEmpty)

        // Any number of senders can open a session on it; removing "its" key keeps it.
        for text in ["van Alice", "van Carol"] {
            let sender = try self.olm.makeAccount()
            let outbound = try sender.createOutboundSession(
                theirIdentityKey: bob.identityKeys.curve25519,
                theirOneTimeKey: fallbackKey
            )
            let message = try outbound.encrypt(Array(text.utf8))
            #expect(message.type == 0)
            let inbound = try bob.createInboundSession(
                theirIdentityKey: sender.identityKeys.curve25519,
                preKeyMessage: message.body
            )
            #expect(try inbound.decrypt(message) == Array(text.utf8))
            try bob.removeOneTimeKeys(usedBy: inbound)
        }
    }

    @Test func theFallbackKeyBeforeTheLastStaysUsableUntilTheNextIsMade() throws {
        let bob = try self.olm.makeAccount()
        try bob.generateFallbackKey()
        let firstKey = try #require(bob.unpublishedFallbackKey().values.first)
        bob.markKeysAsPublished()
        let alice = try self.olm.makeAccount()

        func open(on key: String) throws(OlmError) -> any OlmSession {
            let outbound = try alice.createOutboundSession(
                theirIdentityKey: bob.identityKeys.curve25519,
                theirOneTimeKey: key
            )
            let message = try outbound.encrypt(Array("hallo".utf8))
            return try bob.createInboundSession(
                theirIdentityKey: alice.identityKeys.curve25519,
                preKeyMessage: message.body
            )
        }

        try bob.generateFallbackKey()
        let secondKey = try #require(bob.unpublishedFallbackKey().values.first)
        #expect(secondKey != firstKey)
        _ = try open(on: firstKey)
        _ = try open(on: secondKey)

        try bob.generateFallbackKey()
        #expect(throws: OlmError("BAD_MESSAGE_KEY_ID")) { try open(on: firstKey) }
        _ = try open(on: secondKey)
    }

    @Test func anUnpublishedFallbackKeyWorksAndIsNeverRemoved() throws {
        let bob = try self.olm.makeAccount()
        try bob.generateFallbackKey()
        let fallback = bob.unpublishedFallbackKey()
        let fallbackKey = try #require(fallback.values.first)
        let alice = try self.olm.makeAccount()
        for _ in 0..<2 {
            let outbound = try alice.createOutboundSession(
                theirIdentityKey: bob.identityKeys.curve25519,
                theirOneTimeKey: fallbackKey
            )
            let message = try outbound.encrypt(Array("te vroeg".utf8))
            let inbound = try bob.createInboundSession(
                theirIdentityKey: alice.identityKeys.curve25519,
                preKeyMessage: message.body
            )
            #expect(try inbound.decrypt(message) == Array("te vroeg".utf8))
            // "Removing" it succeeds and keeps it, unpublished still.
            try bob.removeOneTimeKeys(usedBy: inbound)
            #expect(bob.unpublishedFallbackKey() == fallback)
        }
    }

    // MARK: Pickles

    @Test func anAccountPickleRoundTrips() throws {
        let account = try self.olm.makeAccount()
        try account.generateOneTimeKeys(count: 3)
        try account.generateFallbackKey()
        let pickle = account.pickle(key: self.pickleKey)
        #expect(!pickle.isEmpty)

        let restored = try self.olm.account(fromPickle: pickle, key: self.pickleKey)
        #expect(restored.identityKeys == account.identityKeys)
        #expect(restored.unpublishedOneTimeKeys() == account.unpublishedOneTimeKeys())
        #expect(restored.unpublishedFallbackKey() == account.unpublishedFallbackKey())
        let message = Array("ondertekend".utf8)
        #expect(self.olm.verifyEd25519(
            key: account.identityKeys.ed25519,
            message: message,
            signature: restored.sign(message)
        ))

        var wrongKey = self.pickleKey
        wrongKey[0] ^= 0xFF
        #expect(throws: OlmError("BAD_ACCOUNT_KEY")) { try self.olm.account(fromPickle: pickle, key: wrongKey) }
        #expect(throws: OlmError.self) { try self.olm.account(fromPickle: "not a pickle", key: self.pickleKey) }
        // The failed reads did not spoil the pickle string.
        #expect(try self.olm.account(fromPickle: pickle, key: self.pickleKey).identityKeys == account.identityKeys)
    }

    @Test func aSessionPickleContinuesTheConversation() throws {
        let pair = try self.pair()
        #expect(try pair.bobSession.decrypt(pair.firstMessage) == Array("first".utf8))
        let pickle = pair.bobSession.pickle(key: self.pickleKey)
        let bobSession = try self.olm.session(fromPickle: pickle, key: self.pickleKey)
        #expect(bobSession.sessionID == pair.aliceSession.sessionID)

        let reply = try bobSession.encrypt(Array("terug".utf8))
        #expect(reply.type == 1)
        #expect(try pair.aliceSession.decrypt(reply) == Array("terug".utf8))
        let next = try pair.aliceSession.encrypt(Array("verder".utf8))
        #expect(try bobSession.decrypt(next) == Array("verder".utf8))

        #expect(throws: OlmError("BAD_ACCOUNT_KEY")) { try self.olm.session(fromPickle: pickle, key: [1, 2, 3]) }
    }

    @Test func groupSessionPicklesRoundTrip() throws {
        let outbound = try self.olm.makeOutboundGroupSession()
        let inbound = try self.olm.inboundGroupSession(sessionKey: outbound.sessionKey)
        let first = try outbound.encrypt(Array("een".utf8))

        let outboundPickle = outbound.pickle(key: self.pickleKey)
        let restoredOutbound = try self.olm.outboundGroupSession(fromPickle: outboundPickle, key: self.pickleKey)
        #expect(restoredOutbound.sessionID == outbound.sessionID)
        #expect(restoredOutbound.messageIndex == 1)
        #expect(restoredOutbound.sessionKey == outbound.sessionKey)
        let second = try restoredOutbound.encrypt(Array("twee".utf8))

        let inboundPickle = inbound.pickle(key: self.pickleKey)
        let restoredInbound = try self.olm.inboundGroupSession(fromPickle: inboundPickle, key: self.pickleKey)
        #expect(restoredInbound.sessionID == outbound.sessionID)
        #expect(restoredInbound.firstKnownIndex == 0)
        let decryptedFirst = try restoredInbound.decrypt(first)
        #expect(decryptedFirst.plaintext == Array("een".utf8))
        #expect(decryptedFirst.messageIndex == 0)
        let decryptedSecond = try restoredInbound.decrypt(second)
        #expect(decryptedSecond.plaintext == Array("twee".utf8))
        #expect(decryptedSecond.messageIndex == 1)

        let wrongKey = Array(self.pickleKey.reversed()) + [0]
        #expect(throws: OlmError("BAD_ACCOUNT_KEY")) {
            try self.olm.outboundGroupSession(fromPickle: outboundPickle, key: wrongKey)
        }
        #expect(throws: OlmError("BAD_ACCOUNT_KEY")) {
            try self.olm.inboundGroupSession(fromPickle: inboundPickle, key: wrongKey)
        }
    }

    // MARK: Megolm

    @Test func megolmFromTheStartAndFromLater() throws {
        let outbound = try self.olm.makeOutboundGroupSession()
        #expect(outbound.messageIndex == 0)
        let keyAtZero = outbound.sessionKey
        let texts = ["een", "twee", "drie"]
        var messages: [String] = []
        var keyAtTwo = ""
        for (index, text) in texts.enumerated() {
            if index == 2 { keyAtTwo = outbound.sessionKey }
            messages.append(try outbound.encrypt(Array(text.utf8)))
        }
        #expect(outbound.messageIndex == 3)
        #expect(keyAtTwo != keyAtZero)

        let fromStart = try self.olm.inboundGroupSession(sessionKey: keyAtZero)
        #expect(fromStart.sessionID == outbound.sessionID)
        #expect(fromStart.firstKnownIndex == 0)
        for (index, message) in messages.enumerated() {
            let decrypted = try fromStart.decrypt(message)
            #expect(decrypted.plaintext == Array(texts[index].utf8))
            #expect(decrypted.messageIndex == UInt32(index))
        }
        // Megolm itself does not refuse a replay (the Matrix code must track indexes).
        #expect(try fromStart.decrypt(messages[1]).messageIndex == 1)

        let fromTwo = try self.olm.inboundGroupSession(sessionKey: keyAtTwo)
        #expect(fromTwo.sessionID == outbound.sessionID)
        #expect(fromTwo.firstKnownIndex == 2)
        #expect(throws: OlmError("UNKNOWN_MESSAGE_INDEX")) { try fromTwo.decrypt(messages[0]) }
        let decrypted = try fromTwo.decrypt(messages[2])
        #expect(decrypted.plaintext == Array("drie".utf8))
        #expect(decrypted.messageIndex == 2)
    }

    @Test func megolmRejectsForgeriesAndBadKeys() throws {
        let outbound = try self.olm.makeOutboundGroupSession()
        let inbound = try self.olm.inboundGroupSession(sessionKey: outbound.sessionKey)
        let message = try outbound.encrypt(Array("geheim".utf8))
        // The last bytes are the sender's Ed25519 signature.
        #expect(throws: OlmError("BAD_SIGNATURE")) { try inbound.decrypt(try self.tampered(message)) }
        #expect(throws: OlmError.self) { try inbound.decrypt("!!!") }
        #expect(try inbound.decrypt(message).plaintext == Array("geheim".utf8))

        // Another session's messages do not decrypt.
        let other = try self.olm.makeOutboundGroupSession()
        #expect(other.sessionID != outbound.sessionID)
        #expect(throws: OlmError.self) { try inbound.decrypt(try other.encrypt(Array("x".utf8))) }

        #expect(throws: OlmError.self) { try self.olm.inboundGroupSession(sessionKey: "AAAA") }
        #expect(throws: OlmError.self) { try self.olm.inboundGroupSession(sessionKey: "not base64!") }
    }

    // MARK: Signatures

    @Test func signAndVerify() throws {
        let account = try self.olm.makeAccount()
        let key = account.identityKeys.ed25519
        let message = Array(#"{"algorithms":["m.olm.v1.curve25519-aes-sha2"]}"#.utf8)
        let signature = account.sign(message)
        #expect(signature.count == 86)
        #expect(self.olm.verifyEd25519(key: key, message: message, signature: signature))
        #expect(self.olm.verifyEd25519(key: key, message: [], signature: account.sign([])))

        var altered = message
        altered[3] ^= 0x01
        #expect(!self.olm.verifyEd25519(key: key, message: altered, signature: signature))
        let other = try self.olm.makeAccount()
        #expect(!self.olm.verifyEd25519(key: other.identityKeys.ed25519, message: message, signature: signature))
        #expect(!self.olm.verifyEd25519(key: "garbage", message: message, signature: signature))
        #expect(!self.olm.verifyEd25519(key: "", message: message, signature: signature))
        #expect(!self.olm.verifyEd25519(key: key, message: message, signature: "garbage"))
        #expect(!self.olm.verifyEd25519(key: key, message: message, signature: try self.tampered(signature)))
        // verify does not spoil the signature it is given.
        #expect(self.olm.verifyEd25519(key: key, message: message, signature: signature))
    }
}
