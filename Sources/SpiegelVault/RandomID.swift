/// Random ids for keys and file names, from the kernel's `getrandom` (Swift's
/// `SystemRandomNumberGenerator`): Foundation's `UUID()` reads `/dev/urandom` and, with no file
/// descriptor left (EMFILE), silently gives all zeros, so every "unique" key would be the same.
public enum RandomID {
    /// 128 random bits as 32 hex digits.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.string((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
