import COlm
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An Olm account in libolm's memory, cleared and freed with the object.
final class LibOlmAccount: OlmAccount {
    let raw: OpaquePointer
    private let memory: UnsafeMutableRawPointer

    /// An account object without keys, for `olm_create_account` or `olm_unpickle_account`.
    private init() {
        guard let memory = malloc(olm_account_size()) else { fatalError("out of memory for an Olm account") }
        self.memory = memory
        self.raw = olm_account(memory)
    }

    deinit {
        _ = olm_clear_account(self.raw)
        free(self.memory)
    }

    /// A new account with fresh identity keys.
    static func create() throws(OlmError) -> LibOlmAccount {
        let account = LibOlmAccount()
        let random = OlmBuffer.random(count: olm_create_account_random_length(account.raw))
        guard !failed(olm_create_account(account.raw, random.base, random.count)) else { throw account.lastError }
        return account
    }

    static func unpickle(_ pickle: String, key: [UInt8]) throws(OlmError) -> LibOlmAccount {
        let account = LibOlmAccount()
        guard olmUnpickle(pickle, key: key, { olm_unpickle_account(account.raw, $0, $1, $2, $3) }) else {
            throw account.lastError
        }
        return account
    }

    /// The account's most recent error.
    var lastError: OlmError {
        OlmError(String(cString: olm_account_last_error(self.raw)))
    }

    var identityKeys: IdentityKeys {
        guard
            let json = olmString(length: olm_account_identity_keys_length(self.raw), {
                olm_account_identity_keys(self.raw, $0, $1)
            }),
            let keys = try? JSONDecoder().decode(IdentityKeys.self, from: Data(json.utf8))
        else { preconditionFailure("libolm gave no identity keys: \(self.lastError.code)") }
        return keys
    }

    func sign(_ message: [UInt8]) -> String {
        let message = OlmBuffer(copying: message)
        guard
            let signature = olmString(length: olm_account_signature_length(self.raw), {
                olm_account_sign(self.raw, message.base, message.count, $0, $1)
            })
        else { preconditionFailure("libolm could not sign: \(self.lastError.code)") }
        return signature
    }

    var maxOneTimeKeys: Int {
        olm_account_max_number_of_one_time_keys(self.raw)
    }

    func generateOneTimeKeys(count: Int) throws(OlmError) {
        precondition(count >= 0, "cannot generate a negative number of one-time keys")
        let random = OlmBuffer.random(count: olm_account_generate_one_time_keys_random_length(self.raw, count))
        guard !failed(olm_account_generate_one_time_keys(self.raw, count, random.base, random.count)) else {
            throw self.lastError
        }
    }

    func unpublishedOneTimeKeys() -> [String: String] {
        Self.curve25519Keys(
            olmString(length: olm_account_one_time_keys_length(self.raw), {
                olm_account_one_time_keys(self.raw, $0, $1)
            }),
            what: "one-time keys"
        )
    }

    func generateFallbackKey() throws(OlmError) {
        let random = OlmBuffer.random(count: olm_account_generate_fallback_key_random_length(self.raw))
        guard !failed(olm_account_generate_fallback_key(self.raw, random.base, random.count)) else {
            throw self.lastError
        }
    }

    func unpublishedFallbackKey() -> [String: String] {
        Self.curve25519Keys(
            olmString(length: olm_account_unpublished_fallback_key_length(self.raw), {
                olm_account_unpublished_fallback_key(self.raw, $0, $1)
            }),
            what: "the fallback key"
        )
    }

    func markKeysAsPublished() {
        _ = olm_account_mark_keys_as_published(self.raw)
    }

    func createOutboundSession(theirIdentityKey: String, theirOneTimeKey: String) throws(OlmError) -> any OlmSession {
        let session = LibOlmSession()
        let identityKey = OlmBuffer(copying: theirIdentityKey.utf8)
        let oneTimeKey = OlmBuffer(copying: theirOneTimeKey.utf8)
        let random = OlmBuffer.random(count: olm_create_outbound_session_random_length(session.raw))
        let result = olm_create_outbound_session(
            session.raw, self.raw,
            identityKey.base, identityKey.count,
            oneTimeKey.base, oneTimeKey.count,
            random.base, random.count
        )
        guard !failed(result) else { throw session.lastError }
        return session
    }

    func createInboundSession(theirIdentityKey: String, preKeyMessage: String) throws(OlmError) -> any OlmSession {
        let session = LibOlmSession()
        let identityKey = OlmBuffer(copying: theirIdentityKey.utf8)
        // libolm overwrites the message.
        let message = OlmBuffer(copying: preKeyMessage.utf8)
        let result = olm_create_inbound_session_from(
            session.raw, self.raw,
            identityKey.base, identityKey.count,
            message.base, message.count
        )
        guard !failed(result) else { throw session.lastError }
        return session
    }

    func removeOneTimeKeys(usedBy session: any OlmSession) throws(OlmError) {
        guard let session = session as? LibOlmSession else {
            preconditionFailure("a session from another Olm backend than libolm")
        }
        guard !failed(olm_remove_one_time_keys(self.raw, session.raw)) else { throw self.lastError }
    }

    func pickle(key: [UInt8]) -> String {
        olmPickle(key: key, length: olm_pickle_account_length(self.raw), what: "an account", error: { self.lastError }) {
            olm_pickle_account(self.raw, $0, $1, $2, $3)
        }
    }

    /// The `curve25519` object of libolm's key JSON (`{"curve25519":{"AAAAAQ":"…"}}`).
    private static func curve25519Keys(_ json: String?, what: String) -> [String: String] {
        guard
            let json,
            let keys = try? JSONDecoder().decode([String: [String: String]].self, from: Data(json.utf8))
        else { preconditionFailure("libolm gave no JSON for \(what)") }
        return keys["curve25519"] ?? [:]
    }
}
