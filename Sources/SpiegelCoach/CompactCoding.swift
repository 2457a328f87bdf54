import Foundation

/// A small binary encoding for the state journalled with every message: varint lengths and
/// numbers, UTF-8 strings, dates as the bits of their `Double`, fields in a fixed order.
///
/// JSON through `JSONEncoder` cost about a fifth of a message's time in the coaching service; this
/// costs a few microseconds. The order of fields is the format: a change of it needs a new
/// ``SessionSnapshot/compactVersion``.
struct CompactWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        self.bytes.reserveCapacity(capacity)
    }

    mutating func writeByte(_ byte: UInt8) {
        self.bytes.append(byte)
    }

    mutating func write(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }

    mutating func write(_ value: Int) {
        // Zigzag: small negative numbers stay short.
        self.write(UInt64(bitPattern: Int64((value << 1) ^ (value >> (Int.bitWidth - 1)))))
    }

    mutating func write(_ value: Bool) {
        self.bytes.append(value ? 1 : 0)
    }

    mutating func write(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            self.write(UInt64(utf8.count))
            self.bytes.append(contentsOf: utf8)
        }
    }

    mutating func write(_ value: Date) {
        self.write(value.timeIntervalSinceReferenceDate.bitPattern)
    }

    /// Eight bytes, little-endian: for values whose bits are all used (a digest), where a varint
    /// would take ten.
    mutating func writeFixed(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { self.bytes.append(contentsOf: $0) }
    }

    /// Dates to the millisecond: the first whole, each next one as the difference from the one
    /// before (a few bytes for dates close together, instead of ten each). A date beyond a
    /// quarter of a million years either way is kept as that bound, never a crash.
    mutating func writeMilliseconds(_ dates: [Date]) {
        self.write(UInt64(dates.count))
        var previous = 0
        for date in dates {
            let exact = (date.timeIntervalSince1970 * 1000).rounded()
            let milliseconds = exact.isNaN ? 0 : Int(min(max(exact, -8e15), 8e15))
            self.write(milliseconds &- previous)
            previous = milliseconds
        }
    }

    mutating func write(_ value: String?) {
        self.write(value != nil)
        if let value { self.write(value) }
    }

    mutating func write(_ values: [String]) {
        self.write(UInt64(values.count))
        for value in values { self.write(value) }
    }

    /// Keys sorted: the same dictionary always gives the same bytes.
    mutating func write(_ values: [String: String]) {
        self.write(UInt64(values.count))
        for key in values.keys.sorted() {
            self.write(key)
            self.write(values[key]!)
        }
    }

    mutating func write<Element>(_ values: [Element], _ element: (inout CompactWriter, Element) -> Void) {
        self.write(UInt64(values.count))
        for value in values { element(&self, value) }
    }

    mutating func write<Value>(_ value: Value?, _ wrapped: (inout CompactWriter, Value) -> Void) {
        self.write(value != nil)
        if let value { wrapped(&self, value) }
    }
}

/// Reads what ``CompactWriter`` wrote; any byte out of place is a ``CompactDecodingError``.
struct CompactReader {
    private let bytes: [UInt8]
    private var offset: Int

    init(_ bytes: [UInt8], from offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Whether every byte was read.
    var isAtEnd: Bool { self.offset == self.bytes.count }

    mutating func readByte() throws(CompactDecodingError) -> UInt8 {
        guard self.offset < self.bytes.count else { throw .truncated }
        defer { self.offset += 1 }
        return self.bytes[self.offset]
    }

    mutating func readUInt64() throws(CompactDecodingError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try self.readByte()
            guard shift < 64, shift < 63 || byte <= 1 else { throw .malformed("a number too long") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    mutating func readInt() throws(CompactDecodingError) -> Int {
        let raw = try self.readUInt64()
        return Int(Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
    }

    /// A count of things still to come: never more than the bytes left, so a damaged length cannot
    /// make a huge allocation.
    mutating func readCount() throws(CompactDecodingError) -> Int {
        let count = try self.readUInt64()
        guard count <= UInt64(self.bytes.count - self.offset) else { throw .truncated }
        return Int(count)
    }

    mutating func readBool() throws(CompactDecodingError) -> Bool {
        switch try self.readByte() {
        case 0: return false
        case 1: return true
        default: throw .malformed("a flag other than 0 or 1")
        }
    }

    mutating func readString() throws(CompactDecodingError) -> String {
        let count = try self.readCount()
        let range = self.offset..<(self.offset + count)
        self.offset += count
        guard let text = String(validating: self.bytes[range], as: UTF8.self) else { throw .malformed("text that is not UTF-8") }
        return text
    }

    mutating func readDate() throws(CompactDecodingError) -> Date {
        Date(timeIntervalSinceReferenceDate: Double(bitPattern: try self.readUInt64()))
    }

    mutating func readFixed() throws(CompactDecodingError) -> UInt64 {
        guard self.bytes.count - self.offset >= 8 else { throw .truncated }
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(self.bytes[self.offset + index]) }
        self.offset += 8
        return value
    }

    /// What ``CompactWriter/writeMilliseconds(_:)`` wrote.
    mutating func readMilliseconds() throws(CompactDecodingError) -> [Date] {
        var milliseconds = 0
        return try self.readArray { reader throws(CompactDecodingError) in
            milliseconds &+= try reader.readInt()
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
    }

    mutating func readOptionalString() throws(CompactDecodingError) -> String? {
        try self.readBool() ? try self.readString() : nil
    }

    mutating func readStrings() throws(CompactDecodingError) -> [String] {
        try self.readArray { reader throws(CompactDecodingError) in try reader.readString() }
    }

    mutating func readDictionary() throws(CompactDecodingError) -> [String: String] {
        let count = try self.readCount()
        var values: [String: String] = [:]
        values.reserveCapacity(count)
        for _ in 0..<count {
            let key = try self.readString()
            values[key] = try self.readString()
        }
        return values
    }

    mutating func readArray<Element>(_ element: (inout CompactReader) throws(CompactDecodingError) -> Element) throws(CompactDecodingError) -> [Element] {
        let count = try self.readCount()
        var values: [Element] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try element(&self)) }
        return values
    }

    mutating func readOptional<Value>(_ wrapped: (inout CompactReader) throws(CompactDecodingError) -> Value) throws(CompactDecodingError) -> Value? {
        try self.readBool() ? try wrapped(&self) : nil
    }

    /// A value of a `String`-backed enum.
    mutating func readCase<Value: RawRepresentable<String>>(_ type: Value.Type) throws(CompactDecodingError) -> Value {
        let raw = try self.readString()
        guard let value = Value(rawValue: raw) else { throw .malformed("an unknown \(Value.self)") }
        return value
    }
}

/// Bytes that are not a compact encoding this build reads.
enum CompactDecodingError: Error, Equatable, CustomStringConvertible {
    /// The bytes end before the value does.
    case truncated
    /// What was found instead of a value (never the bytes themselves: they may be a teacher's words).
    case malformed(String)
    /// Written by a newer Spiegel.
    case newerVersion(Int)

    var description: String {
        switch self {
        case .truncated: "a compact snapshot ends too early"
        case .malformed(let what): "a compact snapshot holds \(what)"
        case .newerVersion(let version): "a compact snapshot of version \(version) is newer than this Spiegel reads"
        }
    }
}
