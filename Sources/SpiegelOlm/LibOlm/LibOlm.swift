import COlm

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `OlmBackend` on libolm 3.2 (the C library, through `COlm`).
///
/// Stateless: every object it makes owns its libolm memory and clears it when freed. Randomness
/// comes from the system's secure generator; random bytes, copies of keys and plaintexts handed
/// to libolm are wiped after use. An `OlmError`'s code is libolm's error name, such as
/// `BAD_MESSAGE_MAC`, except `BAD_MESSAGE_TYPE` for an Olm message of a type other than 0 or 1.
/// Calls that cannot fail but for a bug in libolm (pickling, reading keys or IDs, signing) stop
/// the process if they do.
public struct LibOlm: OlmBackend {
    public init() {}

    public func makeAccount() throws(OlmError) -> any OlmAccount {
        try LibOlmAccount.create()
    }

    public func account(fromPickle pickle: String, key: [UInt8]) throws(OlmError) -> any OlmAccount {
        try LibOlmAccount.unpickle(pickle, key: key)
    }

    public func session(fromPickle pickle: String, key: [UInt8]) throws(OlmError) -> any OlmSession {
        try LibOlmSession.unpickle(pickle, key: key)
    }

    public func makeOutboundGroupSession() throws(OlmError) -> any OutboundGroupSession {
        try LibOlmOutboundGroupSession.create()
    }

    public func outboundGroupSession(fromPickle pickle: String, key: [UInt8]) throws(OlmError)
        -> any OutboundGroupSession
    {
        try LibOlmOutboundGroupSession.unpickle(pickle, key: key)
    }

    public func inboundGroupSession(sessionKey: String) throws(OlmError) -> any InboundGroupSession {
        try LibOlmInboundGroupSession.create(sessionKey: sessionKey)
    }

    public func inboundGroupSession(fromPickle pickle: String, key: [UInt8]) throws(OlmError)
        -> any InboundGroupSession
    {
        try LibOlmInboundGroupSession.unpickle(pickle, key: key)
    }

    public func verifyEd25519(key: String, message: [UInt8], signature: String) -> Bool {
        guard let memory = malloc(olm_utility_size()) else { fatalError("out of memory for an Olm utility") }
        let utility = olm_utility(memory)
        defer {
            _ = olm_clear_utility(utility)
            free(memory)
        }
        let key = OlmBuffer(copying: key.utf8)
        let message = OlmBuffer(copying: message)
        // libolm overwrites the signature.
        let signature = OlmBuffer(copying: signature.utf8)
        return !failed(olm_ed25519_verify(
            utility,
            key.base, key.count,
            message.base, message.count,
            signature.base, signature.count
        ))
    }
}
