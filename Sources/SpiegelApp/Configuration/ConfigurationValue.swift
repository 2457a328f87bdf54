/// Parsers and printers for the kinds of value a configuration holds.
enum ConfigurationValue {
    static func nonEmpty(_ text: String) -> String? {
        text.isEmpty ? nil : text
    }

    static func integer(_ text: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = Int(text), range.contains(value) else { return nil }
        return value
    }

    private static let durationUnits: [(suffix: String, milliseconds: Int)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// `250ms`, `5s`, `2m`, `1h`, `365d`; a positive whole number with its unit.
    static func duration(_ text: String) -> Duration? {
        for unit in durationUnits where text.hasSuffix(unit.suffix) {
            guard let count = Int(text.dropLast(unit.suffix.count)), count > 0 else { return nil }
            let (milliseconds, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
            return overflow ? nil : .milliseconds(milliseconds)
        }
        return nil
    }

    static func formatDuration(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for unit in durationUnits.reversed() where milliseconds % Int64(unit.milliseconds) == 0 {
            return "\(milliseconds / Int64(unit.milliseconds))\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }

    private static let sizeUnits: [(suffix: String, bytes: Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1), ("", 1)]

    /// `1048576`, `512KiB`, `1MiB`; a positive whole number of bytes.
    static func size(_ text: String) -> Int? {
        for unit in sizeUnits where text.hasSuffix(unit.suffix) {
            guard let count = Int(text.dropLast(unit.suffix.count)), count > 0 else { continue }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: unit.bytes)
            return overflow ? nil : bytes
        }
        return nil
    }

    static func formatSize(_ bytes: Int) -> String {
        for unit in sizeUnits where bytes % unit.bytes == 0 {
            return "\(bytes / unit.bytes)\(unit.suffix)"
        }
        return String(bytes)
    }
}
