import Foundation
import Logging
import SpiegelVault

/// A fresh vault directory per test, and helpers to reach into its files.
struct VaultFixture {
    let root: String
    let key: MasterKey
    let logger = Logger(label: "test.vault")

    init(key: MasterKey = .generate()) {
        self.root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-vault-\(UUID().uuidString)/vault").path
        self.key = key
    }

    func open(key: MasterKey? = nil, previous: MasterKey? = nil, checkpointBytes: Int = 16 << 20) throws -> Vault {
        try Vault(configuration: VaultConfiguration(directory: self.root, checkpointBytes: checkpointBytes), masterKey: key ?? self.key, previousKey: previous, logger: self.logger)
    }

    func journal(of pseudonym: Pseudonym) -> String { "\(self.root)/coachees/\(pseudonym.hex)/journal" }
    func directory(of pseudonym: Pseudonym) -> String { "\(self.root)/coachees/\(pseudonym.hex)" }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    /// Every file under the vault, recursively.
    func allFiles() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: self.root) else { return [] }
        return enumerator.compactMap { $0 as? String }.map { "\(self.root)/\($0)" }.filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }

    static func text(_ string: String) -> NewRecord { NewRecord(.messageIn, Array(string.utf8), time: Date(timeIntervalSince1970: 1_800_000_000.123)) }

    /// The frame boundaries of a journal file, read from its length prefixes.
    static func frames(_ bytes: [UInt8]) -> [(offset: Int, length: Int)] {
        var frames: [(Int, Int)] = []
        var offset = 4
        while offset + 4 <= bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            guard offset + 4 + length <= bytes.count else { break }
            frames.append((offset, 4 + length))
            offset += 4 + length
        }
        return frames
    }
}
