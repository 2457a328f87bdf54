/// Random ids for keys and file names, from the kernel's `getrandom` (Swift's
/// `SystemRandomNumberGenerator`): Foundation's `UUID()` reads `/dev/urandom` and, with no file
/// descriptor left (EMFILE), silently gives all zeros, so every "unique" key would be the same.
public enum RandomID {
    /// 128 random bits as 32 hex digits.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return [generator.next(), generator.next()].map { (value: UInt64) -> String in
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
