import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A helper script driven over JSON lines: one command per line on its standard input, exactly
/// one reply line per command on its standard output (`{"ok": true, ...}` or `{"ok": false,
/// "error": "..."}`, with the command's `id`). Standard error goes to a log file.
///
/// Commands run one at a time; each fails after its own timeout plus a grace even if the script
/// hangs. The teachers of the Matrix and IRC tests (`e2ee_teacher.py`, `irc_teacher.py`) are
/// driven this way.
final class ScriptProcess: Sendable {
    /// What the script is called in errors, such as `irc_teacher an`.
    let name: String
    /// The script's standard error.
    let logFile: URL
    private let process: Process
    private let input: Pipe
    private let output: Pipe
    private let channel: ReplyChannel
    private let makeError: @Sendable (String) -> any Error

    /// Starts `executable` with `arguments`, its standard error appended to `logFile` (created
    /// when missing). `makeError` turns a message into the harness's own error type.
    init(
        name: String, executable: String, arguments: [String], logFile: URL, makeError: @escaping @Sendable (String) -> any Error
    ) throws {
        try FileManager.default.createDirectory(at: logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        defer { try? log.close() }
        try log.seekToEnd()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = log
        // A write to a script that died must fail with EPIPE, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        try process.run()

        self.name = name
        self.logFile = logFile
        self.process = process
        self.input = input
        self.output = output
        self.makeError = makeError
        let channel = ReplyChannel(name: name, logFile: logFile, makeError: makeError)
        self.channel = channel
        let descriptor = output.fileHandleForReading.fileDescriptor
        let reader = Thread { channel.readLines(from: descriptor) }
        reader.name = name
        reader.start()
    }

    deinit {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
    }

    var isRunning: Bool { self.process.isRunning }

    /// Sends one command and returns its reply (`ok` true), one command at a time.
    /// - Throws: the harness's error when the reply is `ok` false, the script exits, or no reply
    ///   came within `timeout` + `grace`.
    func call(_ command: [String: Any], timeout: Duration, grace: Duration) async throws -> [String: Any] {
        await self.channel.acquire()
        defer { self.channel.release() }
        let command = command
        let name = "\(self.name) \(command["cmd"] as? String ?? "?")"
        let id = self.channel.nextID()
        var message = command
        message["id"] = id
        var line = try JSONSerialization.data(withJSONObject: message)
        line.append(0x0A)

        let channel = self.channel
        let makeError = self.makeError
        let limit = timeout + grace
        let timer = Task {
            try await Task.sleep(for: limit)
            channel.fail(id, makeError("\(name): no reply within \(limit)\n\(channel.logTail())"))
        }
        defer { timer.cancel() }
        let descriptor = self.input.fileHandleForWriting.fileDescriptor
        let text = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
                guard channel.wait(id, continuation) else { return }
                if let error = Self.write(line, to: descriptor) {
                    channel.fail(id, makeError("\(name): writing the command failed: \(error)\n\(channel.logTail())"))
                }
            }
        } onCancel: {
            channel.fail(id, CancellationError())
        }
        guard let reply = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw makeError("\(name): unreadable reply \(text)")
        }
        guard reply["ok"] as? Bool == true else {
            throw makeError("\(name) failed: \(reply["error"] as? String ?? text)")
        }
        return reply
    }

    /// Asks the script to end with `command` (when it still runs), closes its input, and kills it
    /// after 10 s.
    func stop(with command: String) async {
        if self.process.isRunning {
            _ = try? await self.call(["cmd": command], timeout: .zero, grace: .seconds(5))
        }
        try? self.input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while self.process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
    }

    /// The last 30 lines of the log, for an error message.
    func logTail() -> String {
        self.channel.logTail()
    }

    /// Writes all of `data` to `descriptor`; the errno text on failure. A command is a few
    /// hundred bytes and the script reads its input continuously: this does not block for long.
    private static func write(_ data: Data, to descriptor: Int32) -> String? {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> String? in
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                let written = Darwin.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += written
            }
            return nil
        }
    }
}

/// The reply side of the protocol: the reader thread hands each line to the command waiting for
/// its id; and a FIFO lock so that commands run one at a time.
private final class ReplyChannel: Sendable {
    private struct State {
        var lastID = 0
        var waiting: (id: Int, continuation: CheckedContinuation<String, any Error>)?
        var closed = false
        var busy = false
        var queue: [CheckedContinuation<Void, Never>] = []
    }

    let name: String
    let logFile: URL
    private let makeError: @Sendable (String) -> any Error
    private let state = Mutex(State())

    init(name: String, logFile: URL, makeError: @escaping @Sendable (String) -> any Error) {
        self.name = name
        self.logFile = logFile
        self.makeError = makeError
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = self.state.withLock { state in
                if state.busy {
                    state.queue.append(continuation)
                    return false
                }
                state.busy = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.queue.isEmpty {
                state.busy = false
                return nil
            }
            return state.queue.removeFirst()
        }
        next?.resume()
    }

    func nextID() -> Int {
        self.state.withLock { state in
            state.lastID += 1
            return state.lastID
        }
    }

    /// Registers the continuation for the reply to `id`; false (and resumed with an error) when
    /// the script has exited.
    func wait(_ id: Int, _ continuation: CheckedContinuation<String, any Error>) -> Bool {
        let closed = self.state.withLock { state in
            if !state.closed { state.waiting = (id, continuation) }
            return state.closed
        }
        if closed {
            continuation.resume(throwing: self.makeError("\(self.name) has exited\n\(self.logTail())"))
        }
        return !closed
    }

    /// Resumes the command waiting for `id`, if it still is, with `error`.
    func fail(_ id: Int, _ error: any Error) {
        self.take(id)?.resume(throwing: error)
    }

    private func take(_ id: Int) -> CheckedContinuation<String, any Error>? {
        self.state.withLock { state in
            guard let waiting = state.waiting, waiting.id == id else { return nil }
            state.waiting = nil
            return waiting.continuation
        }
    }

    /// The reader thread: splits the script's output into lines until it closes, and delivers
    /// each to the command whose id it carries (a late reply to a timed-out command is dropped).
    func readLines(from descriptor: Int32) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            pending.append(contentsOf: chunk[0..<count])
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                let reply = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                if let id = reply?["id"] as? Int {
                    self.take(id)?.resume(returning: line)
                }
            }
        }
        let waiting = self.state.withLock { state in
            state.closed = true
            defer { state.waiting = nil }
            return state.waiting?.continuation
        }
        waiting?.resume(throwing: self.makeError("\(self.name) exited\n\(self.logTail())"))
    }

    func logTail() -> String {
        let text = (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(31)
        return "--- \(self.logFile.path) (last 30 lines)\n" + lines.joined(separator: "\n")
    }
}
