import SpiegelVault

/// Writes one flat JSON object, field by field, in the order given: the outbound reply and the
/// outbox's journal record are written with every reply, and Foundation's `JSONEncoder` cost more
/// than the rest of building them. What it writes is plain JSON that any decoder reads
/// (`JSONDecoder` reads it back in the tests).
struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    init(capacity: Int = 256) {
        self.bytes.reserveCapacity(capacity)
    }

    /// The object, closed.
    var json: [UInt8] { self.bytes + [UInt8(ascii: "}")] }

    mutating func add(_ name: String, _ value: String) {
        self.name(name)
        self.string(value)
    }

    /// Leaves the field out when `value` is `nil` (as `JSONEncoder` does).
    mutating func add(_ name: String, _ value: String?) {
        guard let value else { return }
        self.add(name, value)
    }

    mutating func add(_ name: String, _ value: Bool) {
        self.name(name)
        self.bytes += Array((value ? "true" : "false").utf8)
    }

    /// A finite number (a non-finite one is written as `null`, which JSON has instead).
    mutating func add(_ name: String, _ value: Double?) {
        guard let value else { return }
        self.name(name)
        self.bytes += Array((value.isFinite ? "\(value)" : "null").utf8)
    }

    private mutating func name(_ name: String) {
        if self.bytes.count > 1 { self.bytes.append(UInt8(ascii: ",")) }
        self.string(name)
        self.bytes.append(UInt8(ascii: ":"))
    }

    /// A string with `"`, `\` and the control characters escaped; everything else as its UTF-8.
    private mutating func string(_ value: String) {
        self.bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: self.bytes += Array(("\\u00" + Hex.string([byte])).utf8)
            default: self.bytes.append(byte)
            }
        }
        self.bytes.append(UInt8(ascii: "\""))
    }
}
