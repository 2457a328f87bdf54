import Crypto
public import Foundation
import HTTPTypes
import SpiegelChat
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real Synapse homeserver on 127.0.0.1, for end-to-end tests and benchmarks.
///
/// Its configuration, SQLite database, media and logs live in ``directory``, so data survives
/// ``restart()``. Every rate limit is relaxed, presence is off, registration is by shared secret
/// only (``register(_:admin:displayName:)``). Synapse logs warnings and worse to
/// `homeserver.log`; its standard output and error go to `stdout.log`.
///
/// Call ``stop()`` when done. A homeserver that is deinitialized while running is killed, and one
/// whose starting process dies (a crashed test) stops itself.
public final class SynapseHomeserver: Sendable {
    /// Where the configuration, database and logs are.
    public let directory: URL
    /// The server name, the part of user ids after the colon.
    public let serverName: String
    /// The loopback port Synapse listens on, the same across restarts.
    public let port: Int
    /// The client-server API's base URL, `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(self.port)" }
    /// The `homeserver.yaml` Synapse runs on.
    public var configurationFile: URL { self.configuration.configurationFile }

    private let configuration: SynapseConfiguration
    private let python: String
    private let process = Mutex<Process?>(nil)
    /// The passwords of the users ``register(_:admin:displayName:)`` made, for ``login(_:)``.
    private let passwords = Mutex<[String: String]>([:])

    /// The Python interpreter of the Synapse venv: `SPIEGEL_SYNAPSE_PYTHON` when set, else
    /// `.build-synapse/venv/bin/python` in the package.
    /// - Throws: ``SynapseHarnessError`` when that file is not executable.
    public static func python() throws -> String {
        let path: String
        if let override = ProcessInfo.processInfo.environment["SPIEGEL_SYNAPSE_PYTHON"], !override.isEmpty {
            path = override
        } else {
            // Not `standardizedFileURL`: on Linux it resolves the venv's symlink to the system
            // Python, which then does not see the venv.
            let root = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            path = root.appendingPathComponent(".build-synapse/venv/bin/python").path
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SynapseHarnessError("Synapse is not installed: run `make synapse` (or `make test`); no Python at \(path)")
        }
        return path
    }

    /// Picks a free port and writes the configuration into `directory` (created if missing);
    /// does not start Synapse.
    /// - Parameters:
    ///   - directory: where configuration, database and logs go; reuse it to keep the data.
    ///   - serverName: the homeserver's name.
    ///   - appserviceRegistrationFiles: paths of application service registrations to load.
    public init(directory: URL, serverName: String = "spiegel.test", appserviceRegistrationFiles: [String] = []) throws {
        self.python = try Self.python()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.serverName = serverName
        self.port = try Self.freeLoopbackPort()
        self.configuration = SynapseConfiguration(
            directory: directory,
            serverName: serverName,
            port: self.port,
            registrationSharedSecret: SynapseHTTP.randomHex(bytes: 32),
            appserviceRegistrationFiles: appserviceRegistrationFiles
        )
        try self.configuration.write()
    }

    deinit {
        if let process = self.process.withLock({ $0 }), process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    /// Whether the Synapse process is running.
    public var isRunning: Bool {
        self.process.withLock { $0?.isRunning ?? false }
    }

    /// Starts Synapse and waits until its client API answers (at most 60 s).
    /// - Throws: ``SynapseHarnessError`` with the tail of its logs when it exits or does not answer
    ///   in time; it is killed then.
    public func start() async throws {
        guard !self.isRunning else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.python)
        process.arguments = [self.configuration.launcherFile.path, "--config-path", self.configurationFile.path]
        process.currentDirectoryURL = self.directory
        let stdoutPath = self.configuration.stdoutFile.path
        if !FileManager.default.fileExists(atPath: stdoutPath) {
            _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        }
        let output = try FileHandle(forWritingTo: self.configuration.stdoutFile)
        defer { try? output.close() }
        try output.seekToEnd()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }

        let versions = "\(self.baseURL)/_matrix/client/versions"
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                self.process.withLock { $0 = nil }
                throw SynapseHarnessError("Synapse exited with status \(process.terminationStatus) while starting\n\(self.logTail())")
            }
            if let response = try? await SynapseHTTP.send(.get, versions, timeout: .seconds(2)),
                response.status.code == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await self.stop()
        throw SynapseHarnessError("Synapse did not answer within 60 s\n\(self.logTail())")
    }

    /// Stops Synapse: SIGTERM, then SIGKILL if it has not exited within 15 s. Does nothing when it
    /// is not running.
    public func stop() async {
        guard let process = self.process.withLock({ $0 }) else { return }
        if process.isRunning {
            process.terminate()
            if !(await Self.waitForExit(process, timeout: .seconds(15))) {
                kill(process.processIdentifier, SIGKILL)
                _ = await Self.waitForExit(process, timeout: .seconds(5))
            }
        }
        self.process.withLock { if $0 === process { $0 = nil } }
    }

    /// Stops and starts Synapse again, on the same port, configuration and data.
    public func restart() async throws {
        await self.stop()
        try await self.start()
    }

    /// Registers a user through the shared-secret admin API and logs it in.
    /// - Parameters:
    ///   - localpart: the user's name before the colon, such as `teacher`.
    ///   - admin: whether the user is a server admin.
    ///   - displayName: the user's display name, the localpart if `nil`.
    /// - Returns: a client for the new user.
    public func register(_ localpart: String, admin: Bool = false, displayName: String? = nil) async throws -> MatrixTestClient {
        let path = "/_synapse/admin/v1/register"
        let nonceAnswer = try await SynapseHTTP.request(.get, self.baseURL, path)
        guard let nonce = nonceAnswer["nonce"] as? String else {
            throw SynapseHarnessError("GET \(path) answered without a nonce")
        }
        let password = SynapseHTTP.randomHex(bytes: 16)
        var message = Data(nonce.utf8)
        for part in [localpart, password, admin ? "admin" : "notadmin"] {
            message.append(0)
            message.append(contentsOf: Array(part.utf8))
        }
        let key = SymmetricKey(data: Data(self.configuration.registrationSharedSecret.utf8))
        let mac = SynapseHTTP.hex(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        var body: [String: Any] = ["nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac]
        if let displayName { body["displayname"] = displayName }
        let answer = try await SynapseHTTP.request(.post, self.baseURL, path, json: body)
        guard let userID = answer["user_id"] as? String, let accessToken = answer["access_token"] as? String else {
            throw SynapseHarnessError("POST \(path) answered without user_id or access_token")
        }
        self.passwords.withLock { $0[userID] = password }
        return MatrixTestClient(baseURL: self.baseURL, userID: userID, accessToken: accessToken, deviceID: answer["device_id"] as? String)
    }

    /// Logs a registered user in again: a client for a new device of theirs.
    public func login(_ userID: String) async throws -> MatrixTestClient {
        guard let password = self.passwords.withLock({ $0[userID] }) else {
            throw SynapseHarnessError("\(userID) was not registered by this homeserver object")
        }
        let body: [String: Any] = ["type": "m.login.password", "identifier": ["type": "m.id.user", "user": userID], "password": password]
        let answer = try await SynapseHTTP.request(.post, self.baseURL, "/_matrix/client/v3/login", json: body)
        guard let accessToken = answer["access_token"] as? String, let deviceID = answer["device_id"] as? String else {
            throw SynapseHarnessError("POST /login answered without access_token or device_id")
        }
        return MatrixTestClient(baseURL: self.baseURL, userID: userID, accessToken: accessToken, deviceID: deviceID)
    }

    /// The user id of `localpart` on this server: `@localpart:serverName`.
    public func userID(_ localpart: String) -> String {
        "@\(localpart):\(self.serverName)"
    }

    // MARK: - Helpers

    /// Polls `process` every 50 ms; true once it has exited.
    private static func waitForExit(_ process: Process, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    /// The last 40 lines of `homeserver.log` and of `stdout.log`.
    private func logTail() -> String {
        [self.configuration.logFile, self.configuration.stdoutFile].map { file in
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(41)
            return "--- \(file.lastPathComponent) (last 40 lines)\n" + lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// A port on 127.0.0.1 nobody listens on right now: bound to port 0, read back, released.
    public static func freeLoopbackPort() throws -> Int {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw SynapseHarnessError("socket() failed: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw SynapseHarnessError("bind(127.0.0.1:0) failed: errno \(errno)") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw SynapseHarnessError("getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
