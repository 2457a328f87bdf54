import COlm

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An outbound Megolm session in libolm's memory, cleared and freed with the object.
final class LibOlmOutboundGroupSession: OutboundGroupSession {
    let raw: OpaquePointer
    private let memory: UnsafeMutableRawPointer

    /// A session object without state, for `olm_init_outbound_group_session` or
    /// `olm_unpickle_outbound_group_session`.
    private init() {
        guard let memory = malloc(olm_outbound_group_session_size()) else {
            fatalError("out of memory for a Megolm session")
        }
        self.memory = memory
        self.raw = olm_outbound_group_session(memory)
    }

    deinit {
        _ = olm_clear_outbound_group_session(self.raw)
        free(self.memory)
    }

    /// A new session at message index 0.
    static func create() throws(OlmError) -> LibOlmOutboundGroupSession {
        let session = LibOlmOutboundGroupSession()
        let random = OlmBuffer.random(count: olm_init_outbound_group_session_random_length(session.raw))
        guard
            !failed(olm_init_outbound_group_session(
                session.raw, random.base.assumingMemoryBound(to: UInt8.self), random.count
            ))
        else { throw session.lastError }
        return session
    }

    static func unpickle(_ pickle: String, key: [UInt8]) throws(OlmError) -> LibOlmOutboundGroupSession {
        let session = LibOlmOutboundGroupSession()
        guard
            olmUnpickle(pickle, key: key, { olm_unpickle_outbound_group_session(session.raw, $0, $1, $2, $3) })
        else { throw session.lastError }
        return session
    }

    /// The session's most recent error.
    var lastError: OlmError {
        OlmError(String(cString: olm_outbound_group_session_last_error(self.raw)))
    }

    var sessionID: String {
        guard
            let id = olmString(length: olm_outbound_group_session_id_length(self.raw), {
                olm_outbound_group_session_id(self.raw, $0.assumingMemoryBound(to: UInt8.self), $1)
            })
        else { preconditionFailure("libolm gave no Megolm session ID: \(self.lastError.code)") }
        return id
    }

    var messageIndex: UInt32 {
        olm_outbound_group_session_message_index(self.raw)
    }

    var sessionKey: String {
        guard
            let key = olmString(length: olm_outbound_group_session_key_length(self.raw), {
                olm_outbound_group_session_key(self.raw, $0.assumingMemoryBound(to: UInt8.self), $1)
            })
        else { preconditionFailure("libolm gave no Megolm session key: \(self.lastError.code)") }
        return key
    }

    func encrypt(_ plaintext: [UInt8]) throws(OlmError) -> String {
        let plaintext = OlmBuffer(copying: plaintext)
        let message = olmString(length: olm_group_encrypt_message_length(self.raw, plaintext.count)) {
            olm_group_encrypt(
                self.raw,
                plaintext.base.assumingMemoryBound(to: UInt8.self), plaintext.count,
                $0.assumingMemoryBound(to: UInt8.self), $1
            )
        }
        guard let message else { throw self.lastError }
        return message
    }

    func pickle(key: [UInt8]) -> String {
        olmPickle(
            key: key,
            length: olm_pickle_outbound_group_session_length(self.raw),
            what: "an outbound Megolm session",
            error: { self.lastError }
        ) { olm_pickle_outbound_group_session(self.raw, $0, $1, $2, $3) }
    }
}

/// An inbound Megolm session in libolm's memory, cleared and freed with the object.
final class LibOlmInboundGroupSession: InboundGroupSession {
    let raw: OpaquePointer
    private let memory: UnsafeMutableRawPointer

    /// A session object without state, for `olm_init_inbound_group_session` or
    /// `olm_unpickle_inbound_group_session`.
    private init() {
        guard let memory = malloc(olm_inbound_group_session_size()) else {
            fatalError("out of memory for a Megolm session")
        }
        self.memory = memory
        self.raw = olm_inbound_group_session(memory)
    }

    deinit {
        _ = olm_clear_inbound_group_session(self.raw)
        free(self.memory)
    }

    /// A session from an outbound session's `sessionKey`.
    static func create(sessionKey: String) throws(OlmError) -> LibOlmInboundGroupSession {
        let session = LibOlmInboundGroupSession()
        let key = OlmBuffer(copying: sessionKey.utf8)
        guard
            !failed(olm_init_inbound_group_session(
                session.raw, key.base.assumingMemoryBound(to: UInt8.self), key.count
            ))
        else { throw session.lastError }
        return session
    }

    static func unpickle(_ pickle: String, key: [UInt8]) throws(OlmError) -> LibOlmInboundGroupSession {
        let session = LibOlmInboundGroupSession()
        guard
            olmUnpickle(pickle, key: key, { olm_unpickle_inbound_group_session(session.raw, $0, $1, $2, $3) })
        else { throw session.lastError }
        return session
    }

    /// The session's most recent error.
    var lastError: OlmError {
        OlmError(String(cString: olm_inbound_group_session_last_error(self.raw)))
    }

    var sessionID: String {
        guard
            let id = olmString(length: olm_inbound_group_session_id_length(self.raw), {
                olm_inbound_group_session_id(self.raw, $0.assumingMemoryBound(to: UInt8.self), $1)
            })
        else { preconditionFailure("libolm gave no Megolm session ID: \(self.lastError.code)") }
        return id
    }

    var firstKnownIndex: UInt32 {
        olm_inbound_group_session_first_known_index(self.raw)
    }

    func decrypt(_ ciphertext: String) throws(OlmError) -> (plaintext: [UInt8], messageIndex: UInt32) {
        // Both calls overwrite the message they are given: each gets its own copy.
        let probe = OlmBuffer(copying: ciphertext.utf8)
        let maxLength = olm_group_decrypt_max_plaintext_length(
            self.raw, probe.base.assumingMemoryBound(to: UInt8.self), probe.count
        )
        guard !failed(maxLength) else { throw self.lastError }
        let message = OlmBuffer(copying: ciphertext.utf8)
        let plaintext = OlmBuffer(count: maxLength)
        var index: UInt32 = 0
        let length = olm_group_decrypt(
            self.raw,
            message.base.assumingMemoryBound(to: UInt8.self), message.count,
            plaintext.base.assumingMemoryBound(to: UInt8.self), plaintext.count,
            &index
        )
        guard !failed(length) else { throw self.lastError }
        return (plaintext.bytes(length), index)
    }

    func pickle(key: [UInt8]) -> String {
        olmPickle(
            key: key,
            length: olm_pickle_inbound_group_session_length(self.raw),
            what: "an inbound Megolm session",
            error: { self.lastError }
        ) { olm_pickle_inbound_group_session(self.raw, $0, $1, $2, $3) }
    }
}
