import Foundation
import SpiegelVault

/// The directory that holds all of Spiegel's data: readable by the service's user alone.
public struct DataDirectory: Sendable {
    /// The path as configured.
    public let path: String

    /// Creates a handle; nothing is touched on disk.
    public init(path: String) {
        self.path = path
    }

    /// Creates the directory (and missing parents) with mode 0700 if it does not exist.
    /// - Returns: whether the directory existed with a mode that lets group or others in, a thing
    ///   to warn the administrator about.
    /// - Throws: when the directory cannot be created or the path is not a directory.
    @discardableResult
    public func prepare() throws -> (isOpenToOthers: Bool, created: Bool) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: self.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw DataDirectoryError(path: self.path, reason: "exists and is not a directory")
            }
            try self.checkFormat()
            return (self.isOpenToOthers, false)
        }
        do {
            try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw DataDirectoryError(path: self.path, reason: "cannot be created; check that its parent exists and is writable")
        }
        try self.checkFormat()
        return (false, true)
    }

    /// The data format this Spiegel writes and reads (older ones are read too; each record and
    /// snapshot also carries its own version). Format 2 keeps Spiegel's own state in the vault's
    /// `system/` namespace; format 1 kept it as coachees named `spiegel:…`, moved over on first use.
    public static let format = 2

    /// Reads the directory's `format` file: a newer format is refused (nothing is touched); an
    /// older one, or none (made before formats were marked: format 1), is marked as this format.
    private func checkFormat() throws {
        let file = (self.path as NSString).appendingPathComponent("format")
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            guard let number = text.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
                throw DataDirectoryError(path: self.path, reason: "has a format file Spiegel cannot read (\(file))")
            }
            guard number <= Self.format else {
                throw DataDirectoryError(
                    path: self.path,
                    reason: "was written by a newer Spiegel (data format \(number); this Spiegel reads up to \(Self.format)): run the newer version, or restore a backup made by this one"
                )
            }
            // Written 0644 by earlier versions: every file here is the service user's alone.
            Self.restrict(file)
            guard number < Self.format else { return }
            // Older data is upgraded as it is used: from now on an older Spiegel must refuse it.
        }
        do {
            try "spiegel data format \(Self.format)\n".write(toFile: file, atomically: true, encoding: .utf8)
            Self.restrict(file)
        } catch {
            throw DataDirectoryError(path: self.path, reason: "cannot be written (the format file); check its owner")
        }
    }

    /// Makes `file` readable and writable by its owner alone (0600), when it lets anyone else in.
    private static func restrict(_ file: String) {
        guard let mode = (try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? Int, mode & 0o077 != 0 else { return }
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
    }

    /// Whether the directory's mode lets group or others read, write or enter it.
    public var isOpenToOthers: Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: self.path),
            let mode = attributes[.posixPermissions] as? Int
        else { return false }
        return mode & 0o077 != 0
    }

    /// Whether a file of 4 KiB (a block: a full disk refuses it) can be written, synced and
    /// removed in the directory right now.
    ///
    /// Blocking file I/O: call it off the event loops.
    public func isWritable() -> Bool {
        let probe = (self.path as NSString).appendingPathComponent(".readyz-\(RandomID.make())")
        let descriptor = open(probe, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        let block = [UInt8](repeating: 0, count: 4096)
        let written = block.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = written == block.count && fsync(descriptor) == 0
        close(descriptor)
        return unlink(probe) == 0 && synced
    }
}

/// The data directory cannot be used.
public struct DataDirectoryError: Error, CustomStringConvertible {
    /// The directory's path.
    public let path: String
    /// What is wrong with it.
    public let reason: String

    public var description: String { "data directory \(self.path) \(self.reason)" }
}
