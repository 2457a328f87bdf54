#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Thin POSIX file calls with the vault's rules: explicit modes whatever the umask, whole writes,
/// and syncs that say so when they fail.
enum FileIO {
    /// Opens `path`; creates it with `mode` (applied with fchmod, so the umask does not widen or
    /// narrow it) when `create` is set.
    static func open(_ path: String, flags: Int32, create mode: mode_t? = nil) throws(VaultError) -> Int32 {
        if case .fail(let number)? = FileFaults.fault(.open, path) { throw self.error("cannot open", path, errno: number) }
        let descriptor = mode.map { Glibc.open(path, flags | O_CREAT | O_CLOEXEC, $0) } ?? Glibc.open(path, flags | O_CLOEXEC)
        guard descriptor >= 0 else { throw self.error("cannot open", path) }
        if let mode, fchmod(descriptor, mode) != 0 {
            close(descriptor)
            throw self.error("cannot set the mode of", path)
        }
        return descriptor
    }

    /// Writes all of `bytes` at the current offset.
    /// - Throws: when the disk refuses; part of `bytes` may be written then (the caller cuts it off).
    static func write(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(VaultError) {
        try self.write(descriptor, bytes, at: nil, path: path)
    }

    /// Writes all of `bytes` at `offset`, over what is there (the descriptor must not be opened
    /// with `O_APPEND`, which Linux honours over the offset), or at the current offset when `nil`.
    static func write(_ descriptor: Int32, _ bytes: [UInt8], at offset: Int?, path: String) throws(VaultError) {
        var written = 0
        var limit = bytes.count
        var injected: Int32?
        switch FileFaults.fault(.write, path) {
        case .fail(let number)?: throw self.error("cannot write", path, errno: number)
        case .short(let count, let number)?:
            limit = min(count, bytes.count)
            injected = number
        case nil: break
        }
        while written < limit {
            let result = bytes.withUnsafeBytes { buffer in
                let start = buffer.baseAddress! + written
                return offset.map { Glibc.pwrite(descriptor, start, limit - written, off_t($0 + written)) } ?? Glibc.write(descriptor, start, limit - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw self.error("cannot write", path)
            }
            written += result
        }
        if let injected { throw self.error("cannot write", path, errno: injected) }
    }

    /// Flushes a file's data (and the metadata needed to read it, its length too) to the disk;
    /// with `full`, all of its metadata too (what a directory needs).
    static func sync(_ descriptor: Int32, path: String, full: Bool = false) throws(VaultError) {
        if case .fail(let number)? = FileFaults.fault(.sync, path) { throw self.error("cannot sync", path, errno: number) }
        guard (full ? fsync(descriptor) : fdatasync(descriptor)) == 0 else { throw self.error("cannot sync", path) }
    }

    /// Syncs `files` side by side, `width` at a time: the disk merges their flushes. One after
    /// another, a checkpoint of thousands of journals held every append for seconds. Throws the
    /// first failure, after every sync has ended.
    /// With `full`, all their metadata too (directories).
    static func syncAll(_ files: [(descriptor: Int32, path: String)], full: Bool = false, width: Int = 16) throws(VaultError) {
        let results = self.concurrently(files.count, width: width) { index throws(VaultError) in
            try self.sync(files[index].descriptor, path: files[index].path, full: full)
        }
        for result in results {
            if case .failure(let error) = result { throw error }
        }
    }

    /// Calls `body` for every index below `count` on `width` threads side by side, and returns
    /// once every call has ended, with their results in order.
    static func concurrently<Value: Sendable>(
        _ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws(VaultError) -> Value
    ) -> [Result<Value, VaultError>] {
        @Sendable func call(_ index: Int) -> Result<Value, VaultError> {
            do throws(VaultError) { return .success(try body(index)) } catch { return .failure(error) }
        }
        guard count > 1, width > 1 else { return (0..<count).map(call) }
        let progress = ConcurrentProgress<Value>(count: count)
        let finished = DispatchGroup()
        for _ in 0..<min(width, count) {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                while true {
                    let index = progress.next.add(1, ordering: .relaxed).oldValue
                    guard index < count else { return }
                    let result = call(index)
                    progress.results.withLock { $0[index] = result }
                }
            }
        }
        finished.wait()
        return progress.results.withLock { $0.map { $0! } }
    }

    /// Cuts a file back to `length` bytes (a write that failed half-way leaves nothing behind).
    static func truncate(_ descriptor: Int32, to length: Int, path: String) throws(VaultError) {
        if case .fail(let number)? = FileFaults.fault(.truncate, path) { throw self.error("cannot cut back", path, errno: number) }
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw self.error("cannot cut back", path) }
    }

    /// Flushes a directory, so files created, renamed or removed in it stay so after a crash.
    static func syncDirectory(_ path: String) throws(VaultError) {
        let descriptor = try self.open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        if case .fail(let number)? = FileFaults.fault(.sync, path) { throw self.error("cannot sync directory", path, errno: number) }
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
            unlink(temporary)
            throw error
        }
        close(descriptor)
        do {
            try self.rename(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
        try self.syncDirectory(self.directory(of: path))
    }

    /// Renames `source` to `destination`, replacing it (not synced: sync the directory).
    static func rename(_ source: String, to destination: String) throws(VaultError) {
        if case .fail(let number)? = FileFaults.fault(.rename, destination) { throw self.error("cannot rename", source, errno: number) }
        guard Glibc.rename(source, destination) == 0 else { throw self.error("cannot rename", source) }
    }

    /// Opens directories for ``syncAll(_:full:width:)``; the caller closes them.
    static func openDirectories(_ paths: [String]) throws(VaultError) -> [(descriptor: Int32, path: String)] {
        var opened: [(descriptor: Int32, path: String)] = []
        for path in paths {
            do {
                opened.append((try self.open(path, flags: O_RDONLY | O_DIRECTORY), path))
            } catch {
                for directory in opened { close(directory.descriptor) }
                throw error
            }
        }
        return opened
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

    private static func error(_ what: String, _ path: String, errno number: Int32 = errno) -> VaultError {
        VaultError(.io, "\(what) \(path): \(String(cString: strerror(number)))", systemError: number)
    }
}

/// Faults a test injects into the vault's file calls, to see that every failure leaves the files
/// as they were and the vault working once the fault passes. Off unless a test arms it: one atomic
/// load per call.
package enum FileFaults {
    /// A file call the vault makes.
    package enum Call: Sendable {
        case open, write, sync, truncate, rename
    }

    /// What the call does instead of succeeding.
    package enum Fault: Sendable {
        /// Fails with this `errno`, nothing done.
        case fail(Int32)
        /// (Writes only) writes this many bytes, then fails with this `errno`: a disk that filled up.
        case short(Int, Int32)
    }

    /// Decides, for each call on a path, whether it fails.
    package typealias Plan = @Sendable (_ call: Call, _ path: String) -> Fault?

    private static let armedCount = Atomic<Int>(0)
    private static let plans = Mutex<[String: Plan]>([:])

    /// Applies `plan` to every call on a path under `directory` until ``disarm(under:)``.
    package static func arm(under directory: String, _ plan: @escaping Plan) {
        let isNew = self.plans.withLock { plans in plans.updateValue(plan, forKey: directory) == nil }
        if isNew { self.armedCount.add(1, ordering: .sequentiallyConsistent) }
    }

    package static func disarm(under directory: String) {
        let wasArmed = self.plans.withLock { plans in plans.removeValue(forKey: directory) != nil }
        if wasArmed { self.armedCount.subtract(1, ordering: .sequentiallyConsistent) }
    }

    static func fault(_ call: Call, _ path: String) -> Fault? {
        guard self.armedCount.load(ordering: .relaxed) > 0 else { return nil }
        let plan = self.plans.withLock { plans in plans.first { path.hasPrefix($0.key + "/") }?.value }
        return plan?(call, path)
    }
}

/// The shared state of ``FileIO/concurrently(_:width:_:)``: the next index, the results so far.
private final class ConcurrentProgress<Value: Sendable>: Sendable {
    let next = Atomic<Int>(0)
    let results: Mutex<[Result<Value, VaultError>?]>

    init(count: Int) {
        self.results = Mutex(Array(repeating: nil, count: count))
    }
}
