#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX file calls with the vault's rules: explicit modes whatever the umask, whole writes,
/// and syncs that say so when they fail.
enum FileIO {
    /// Opens `path`; creates it with `mode` (applied with fchmod, so the umask does not widen or
    /// narrow it) when `create` is set.
    static func open(_ path: String, flags: Int32, create mode: mode_t? = nil) throws(VaultError) -> Int32 {
        let descriptor = mode.map { Glibc.open(path, flags | O_CREAT | O_CLOEXEC, $0) } ?? Glibc.open(path, flags | O_CLOEXEC)
        guard descriptor >= 0 else { throw self.error("cannot open", path) }
        if let mode, fchmod(descriptor, mode) != 0 {
            close(descriptor)
            throw self.error("cannot set the mode of", path)
        }
        return descriptor
    }

    /// Writes all of `bytes` at the current offset.
    static func write(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(VaultError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw self.error("cannot write", path)
            }
            written += result
        }
    }

    /// Flushes a file's data (and the metadata needed to read it) to the disk.
    static func sync(_ descriptor: Int32, path: String) throws(VaultError) {
        guard fdatasync(descriptor) == 0 else { throw self.error("cannot sync", path) }
    }

    /// Flushes a directory, so files created, renamed or removed in it stay so after a crash.
    static func syncDirectory(_ path: String) throws(VaultError) {
        let descriptor = try self.open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw self.error("cannot sync directory", path) }
    }

    /// The whole file, or `nil` when it does not exist.
    static func read(_ path: String) throws(VaultError) -> [UInt8]? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw self.error("cannot open", path)
        }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw self.error("cannot read", path)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes `bytes` to `path` so that after a crash the file holds either its old content or all
    /// of `bytes`: a temporary file, synced, renamed over, and the directory synced.
    static func replaceAtomically(_ path: String, with bytes: [UInt8], mode: mode_t) throws(VaultError) {
        let temporary = path + ".tmp"
        let descriptor = try self.open(temporary, flags: O_WRONLY | O_TRUNC, create: mode)
        do {
            try self.write(descriptor, bytes, path: temporary)
            try self.sync(descriptor, path: temporary)
        } catch {
            close(descriptor)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw self.error("cannot rename", temporary) }
        try self.syncDirectory(self.directory(of: path))
    }

    /// Creates a directory with `mode` (whatever the umask); true if it was created now.
    @discardableResult
    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(VaultError) -> Bool {
        if mkdir(path, mode) != 0 {
            if errno == EEXIST { return false }
            throw self.error("cannot create directory", path)
        }
        guard chmod(path, mode) == 0 else { throw self.error("cannot set the mode of", path) }
        return true
    }

    /// Removes a file; a file that is already gone is fine.
    static func remove(_ path: String) throws(VaultError) {
        if unlink(path) != 0 && errno != ENOENT { throw self.error("cannot remove", path) }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names in a directory, without `.` and `..`.
    static func list(_ path: String) throws(VaultError) -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return [] }
            throw self.error("cannot list", path)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func error(_ what: String, _ path: String) -> VaultError {
        VaultError(.io, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
