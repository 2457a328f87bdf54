import COlm

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap buffer for one libolm argument: a copy of an input (libolm overwrites some of its
/// inputs), random bytes, or room for an output. It may hold keys or plaintext, so it is wiped
/// before it is freed.
struct OlmBuffer: ~Copyable {
    let base: UnsafeMutableRawPointer
    let count: Int

    /// A zeroed buffer of `count` bytes.
    init(count: Int) {
        precondition(count >= 0, "a buffer cannot have a negative size")
        self.count = count
        // At least one byte, so that libolm never gets a null pointer.
        self.base = .allocate(byteCount: max(count, 1), alignment: 16)
        self.base.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    /// A copy of `bytes`.
    init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count)
        UnsafeMutableRawBufferPointer(start: self.base, count: self.count).copyBytes(from: bytes)
    }

    /// `count` bytes from the system's cryptographically secure generator.
    static func random(count: Int) -> OlmBuffer {
        let buffer = OlmBuffer(count: count)
        var generator = SystemRandomNumberGenerator()
        var offset = 0
        while offset < count {
            var word = generator.next() as UInt64
            let length = min(MemoryLayout<UInt64>.size, count - offset)
            withUnsafeBytes(of: &word) { word in
                (buffer.base + offset).copyMemory(from: word.baseAddress!, byteCount: length)
            }
            word = 0
            offset += length
        }
        return buffer
    }

    /// The first `length` bytes.
    func bytes(_ length: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: self.base, count: min(length, self.count)))
    }

    /// The first `length` bytes as UTF-8 (libolm writes base64 and JSON).
    func string(_ length: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: self.base, count: min(length, self.count)), as: UTF8.self)
    }

    deinit {
        wipe(self.base, max(self.count, 1))
        self.base.deallocate()
    }
}

/// Zeroes `count` bytes at `pointer` in a way the compiler cannot drop as a dead store.
func wipe(_ pointer: UnsafeMutableRawPointer, _ count: Int) {
    #if canImport(Glibc)
    explicit_bzero(pointer, count)
    #elseif canImport(Darwin)
    _ = memset_s(pointer, count, 0, count)
    #endif
}

/// Whether a libolm call's result is its error value.
func failed(_ result: Int) -> Bool {
    result == olm_error()
}

/// What `body` writes into a fresh buffer of `length` bytes, as a string (libolm's outputs are
/// base64 or JSON); nil if it returns libolm's error value.
func olmString(length: Int, _ body: (UnsafeMutableRawPointer, Int) -> Int) -> String? {
    let output = OlmBuffer(count: length)
    let written = body(output.base, output.count)
    guard !failed(written) else { return nil }
    return output.string(written)
}

/// A pickle of an object, with `body` (libolm's `olm_pickle_…` on it) writing at most `length`
/// bytes encrypted with `key`; `what` and `error` name the object and its last error if it fails,
/// which only a libolm bug can make happen.
func olmPickle(
    key: [UInt8],
    length: Int,
    what: String,
    error: () -> OlmError,
    _ body: (UnsafeRawPointer, Int, UnsafeMutableRawPointer, Int) -> Int
) -> String {
    let key = OlmBuffer(copying: key)
    guard let pickle = olmString(length: length, { body(key.base, key.count, $0, $1) }) else {
        preconditionFailure("libolm could not pickle \(what): \(error().code)")
    }
    return pickle
}

/// Reads `pickle` into an object with `body` (libolm's `olm_unpickle_…`, which overwrites the
/// pickle it is given: it gets a copy); whether it succeeded.
func olmUnpickle(
    _ pickle: String,
    key: [UInt8],
    _ body: (UnsafeRawPointer, Int, UnsafeMutableRawPointer, Int) -> Int
) -> Bool {
    let key = OlmBuffer(copying: key)
    let pickle = OlmBuffer(copying: pickle.utf8)
    return !failed(body(key.base, key.count, pickle.base, pickle.count))
}
