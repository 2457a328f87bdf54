import Crypto
public import HTTPTypes
import SpiegelVault
public import Foundation

/// The signature of the plain webhook protocol, both ways (`docs/plain-protocol.md`):
/// `X-Spiegel-Timestamp: <unix seconds>` and
/// `X-Spiegel-Signature: v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`.
///
/// Verification compares in constant time and accepts a timestamp within ``window`` of now, so a
/// captured request cannot be replayed later.
public struct PlainSignature: Sendable {
    /// The header with the sender's clock, in whole seconds since 1970.
    public static let timestampHeader = "X-Spiegel-Timestamp"
    /// The header with `v1=` and the hex HMAC.
    public static let signatureHeader = "X-Spiegel-Signature"
    /// The two headers as names, made once rather than for every request.
    public static let timestampField = HTTPField.Name(timestampHeader)!
    public static let signatureField = HTTPField.Name(signatureHeader)!

    /// Why a request's signature was not accepted.
    public enum Rejection: String, Sendable, Error, Equatable {
        /// A header is missing or not in the documented form.
        case malformed
        /// The signature does not match: another secret, or a changed body or timestamp.
        case mismatch
        /// The timestamp is further from now than the window (a replay, or a wrong clock).
        case stale
    }

    /// The HMAC with the secret already taken in, copied for each message (the key's pads are
    /// hashed once, not once a message).
    private let keyed: HMAC<SHA256>
    /// How far a timestamp may be from now.
    public let window: Duration

    /// - Parameter secret: the shared secret, at least 16 bytes.
    public init(secret: [UInt8], window: Duration = .seconds(300)) {
        self.keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
        self.window = window
    }

    /// The two header values for `body` sent at `date`.
    public func sign(_ body: [UInt8], at date: Date) -> (timestamp: String, signature: String) {
        let timestamp = String(Int64(date.timeIntervalSince1970.rounded(.down)))
        return (timestamp, "v1=" + Hex.string(self.mac(timestamp: timestamp, body: body)))
    }

    /// Checks the headers of a request with `body` received at `now`.
    public func verify(timestamp: String?, signature: String?, body: [UInt8], now: Date) -> Result<Void, Rejection> {
        guard let timestamp, let signature, timestamp.utf8.count <= 12, let seconds = Int64(timestamp),
              signature.hasPrefix("v1="), let given = Hex.bytes(signature.dropFirst(3)), given.count == 32
        else { return .failure(.malformed) }
        // Constant time: every byte is compared whatever the first difference.
        let expected = self.mac(timestamp: timestamp, body: body)
        var difference: UInt8 = 0
        for (a, b) in zip(expected, given) { difference |= a ^ b }
        guard difference == 0 else { return .failure(.mismatch) }
        let age = abs(now.timeIntervalSince1970 - Double(seconds))
        guard age <= Double(self.window / .milliseconds(1)) / 1000 else { return .failure(.stale) }
        return .success(())
    }

    private func mac(timestamp: String, body: [UInt8]) -> [UInt8] {
        var hmac = self.keyed
        hmac.update(data: Array("v1:\(timestamp):".utf8))
        hmac.update(data: body)
        // Read through its bytes: the MAC's own iterator copies.
        return hmac.finalize().withUnsafeBytes { Array($0) }
    }
}
