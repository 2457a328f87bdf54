import COlm

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An Olm session in libolm's memory, cleared and freed with the object.
final class LibOlmSession: OlmSession {
    let raw: OpaquePointer
    private let memory: UnsafeMutableRawPointer

    /// A session object without state, for `LibOlmAccount` to create a session in or for
    /// `olm_unpickle_session`.
    init() {
        guard let memory = malloc(olm_session_size()) else { fatalError("out of memory for an Olm session") }
        self.memory = memory
        self.raw = olm_session(memory)
    }

    deinit {
        _ = olm_clear_session(self.raw)
        free(self.memory)
    }

    static func unpickle(_ pickle: String, key: [UInt8]) throws(OlmError) -> LibOlmSession {
        let session = LibOlmSession()
        guard olmUnpickle(pickle, key: key, { olm_unpickle_session(session.raw, $0, $1, $2, $3) }) else {
            throw session.lastError
        }
        return session
    }

    /// The session's most recent error.
    var lastError: OlmError {
        OlmError(String(cString: olm_session_last_error(self.raw)))
    }

    var sessionID: String {
        guard
            let id = olmString(length: olm_session_id_length(self.raw), { olm_session_id(self.raw, $0, $1) })
        else { preconditionFailure("libolm gave no session ID: \(self.lastError.code)") }
        return id
    }

    func matchesInbound(theirIdentityKey: String, preKeyMessage: String) -> Bool {
        let identityKey = OlmBuffer(copying: theirIdentityKey.utf8)
        // libolm overwrites the message.
        let message = OlmBuffer(copying: preKeyMessage.utf8)
        return olm_matches_inbound_session_from(
            self.raw,
            identityKey.base, identityKey.count,
            message.base, message.count
        ) == 1
    }

    func encrypt(_ plaintext: [UInt8]) throws(OlmError) -> OlmMessage {
        let type = olm_encrypt_message_type(self.raw)
        guard !failed(type) else { throw self.lastError }
        let plaintext = OlmBuffer(copying: plaintext)
        let random = OlmBuffer.random(count: olm_encrypt_random_length(self.raw))
        let body = olmString(length: olm_encrypt_message_length(self.raw, plaintext.count)) {
            olm_encrypt(self.raw, plaintext.base, plaintext.count, random.base, random.count, $0, $1)
        }
        guard let body else { throw self.lastError }
        return OlmMessage(type: type, body: body)
    }

    /// Decrypts `message`; a type other than 0 or 1 throws `BAD_MESSAGE_TYPE`, the one code that
    /// is not libolm's.
    func decrypt(_ message: OlmMessage) throws(OlmError) -> [UInt8] {
        guard message.type == 0 || message.type == 1 else { throw OlmError("BAD_MESSAGE_TYPE") }
        // Both calls overwrite the message they are given: each gets its own copy.
        let probe = OlmBuffer(copying: message.body.utf8)
        let maxLength = olm_decrypt_max_plaintext_length(self.raw, message.type, probe.base, probe.count)
        guard !failed(maxLength) else { throw self.lastError }
        let ciphertext = OlmBuffer(copying: message.body.utf8)
        let plaintext = OlmBuffer(count: maxLength)
        let length = olm_decrypt(
            self.raw, message.type,
            ciphertext.base, ciphertext.count,
            plaintext.base, plaintext.count
        )
        guard !failed(length) else { throw self.lastError }
        return plaintext.bytes(length)
    }

    func pickle(key: [UInt8]) -> String {
        olmPickle(key: key, length: olm_pickle_session_length(self.raw), what: "a session", error: { self.lastError }) {
            olm_pickle_session(self.raw, $0, $1, $2, $3)
        }
    }
}
