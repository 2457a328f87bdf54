import Foundation
import HTTPTypes
import Logging
import SpiegelApp
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// What `deploy/` ships: the systemd unit (verified and rated by systemd's own tools, and its
/// sandbox tried on the real binary), the example configuration, and the container's build steps
/// run on the host into a staging root whose binary then works.
@Suite struct DeployTests {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
    static let deploy = package.appendingPathComponent("deploy")
    static let unit = deploy.appendingPathComponent("spiegel.service")

    // MARK: - The systemd unit

    @Test(.tags(.systemd), .enabled(if: runs("systemd"))) func theUnitVerifiesAndIsHardened() async throws {
        let analyze = try #require(Self.onPath("systemd-analyze"), "systemd-analyze is missing: `make test` installs it (Debian package systemd)")
        let text = try String(contentsOf: Self.unit, encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains("ExecStart=/usr/local/bin/spiegel serve --config /etc/spiegel/spiegel.yaml"))
        #expect(lines.isSuperset(of: ["User=spiegel", "Group=spiegel", "StateDirectory=spiegel", "StateDirectoryMode=0700", "UMask=0077"]))
        // The key reaches Spiegel through the setting it reads, from systemd's credential.
        #expect(lines.contains("LoadCredential=master.key:/etc/spiegel/master.key"))
        #expect(lines.contains("Environment=SPIEGEL_VAULT_KEY_FILE=%d/master.key"))
        #expect(ConfigurationKey.all.contains { $0.environmentVariable == "SPIEGEL_VAULT_KEY_FILE" && $0.path == "vault.key_file" })

        let root = try Self.unitRoot(text)
        defer { try? FileManager.default.removeItem(at: root) }
        let verify = try await Self.run(analyze, ["verify", "--man=no", "--root=\(root.path)", root.appendingPathComponent("etc/systemd/system/spiegel.service").path])
        #expect(verify.status == 0)
        #expect(verify.lines.filter { $0.contains("spiegel.service") } == [])

        // The check is not blind: a misspelt setting is reported.
        let misspelt = try Self.unitRoot(text.replacing("ProtectClock=yes", with: "ProtectClok=yes"))
        defer { try? FileManager.default.removeItem(at: misspelt) }
        let complaint = try await Self.run(analyze, ["verify", "--man=no", "--root=\(misspelt.path)", misspelt.appendingPathComponent("etc/systemd/system/spiegel.service").path])
        #expect(complaint.lines.contains { $0.contains("spiegel.service") && $0.contains("ProtectClok") })

        let security = try await Self.run(analyze, ["security", "--offline=yes", "--root=\(root.path)", "spiegel.service"])
        #expect(security.status == 0)
        let overall = try #require(security.lines.first { $0.contains("Overall exposure level for spiegel.service:") })
        // "→ Overall exposure level for spiegel.service: 1.1 OK 🙂"
        let figure = overall.components(separatedBy: "spiegel.service:").last?.split(separator: " ").first.map(String.init) ?? ""
        let exposure = try #require(Double(figure))
        #expect(exposure < 3.0)
        print("systemd-analyze security: exposure level of spiegel.service \(figure)")

        let items = try await Self.run(analyze, ["security", "--offline=yes", "--root=\(root.path)", "--json=short", "spiegel.service"])
        let checks = try #require(try JSONSerialization.jsonObject(with: Data(items.output.utf8)) as? [[String: Any]])
        let passed = Set(checks.filter { $0["set"] as? Bool == true }.compactMap { $0["name"] as? String })
        for required in [
            "User=/DynamicUser=", "NoNewPrivileges=", "ProtectSystem=", "ProtectHome=", "PrivateTmp=", "PrivateDevices=",
            "CapabilityBoundingSet=~CAP_SYS_ADMIN", "AmbientCapabilities=", "SystemCallFilter=~@privileged", "SystemCallFilter=~@resources",
            "SystemCallArchitectures=", "MemoryDenyWriteExecute=", "RestrictNamespaces=~user", "RestrictSUIDSGID=", "LockPersonality=",
            "ProtectKernelTunables=", "ProtectKernelModules=", "ProtectControlGroups=", "ProtectClock=", "UMask=",
        ] {
            #expect(passed.contains(required), "\(required)")
        }
    }

    /// The unit's seccomp rules (SystemCallFilter, MemoryDenyWriteExecute, RestrictAddressFamilies,
    /// SystemCallErrorNumber), read from the unit and applied with libseccomp as systemd applies
    /// them, to the real `spiegel serve` as an unprivileged user: it starts, answers, coaches a
    /// message end to end (vault, outbox, libcurl) and drains to exit 0 on SIGTERM.
    @Test(.tags(.systemd), .enabled(if: runs("systemd"))) func theUnitsSandboxLetsSpiegelServe() async throws {
        let spiegel = try #require(BuiltExecutable.find("spiegel"), "build the spiegel product first: swift build")
        let python = "/usr/bin/python3"
        let probe = try await Self.run(python, ["-c", "import seccomp"])
        try #require(probe.status == 0, "python3-seccomp is missing: `make test` installs it (Debian package python3-seccomp)")

        let directory = try Self.temporaryDirectory("spiegel-sandbox")
        defer { try? FileManager.default.removeItem(at: directory) }
        // As the service user would: an unprivileged account owns the data and the key (mode 0400,
        // as systemd hands over a credential).
        let user = geteuid() == 0 ? 65534 : Int(geteuid())
        let keyFile = directory.appendingPathComponent("master.key").path
        try MasterKey.createFile(at: keyFile)
        #expect(chmod(keyFile, 0o400) == 0)
        if geteuid() == 0 {
            #expect(chown(directory.path, uid_t(user), gid_t(user)) == 0 && chown(keyFile, uid_t(user), gid_t(user)) == 0)
        }
        let receiver = try await LoopbackHTTPServer.start()
        let secret = "a-shared-secret-of-the-bridge"
        let server = try Started(
            python, ["-c", Self.sandbox, Self.unit.path, String(user), spiegel.path, "serve"],
            environment: [
                "SPIEGEL_DATA_DIR": directory.appendingPathComponent("data").path,
                "SPIEGEL_VAULT_KEY_FILE": keyFile,
                "SPIEGEL_PROMPTS_DIR": Self.package.appendingPathComponent("Prompts").path,
                "SPIEGEL_SERVER_PORT": "0",
                "SPIEGEL_PLAIN_SECRET": secret,
                "SPIEGEL_PLAIN_OUTBOUND_URL": receiver.url("/inbox"),
            ],
            in: directory
        )
        defer { server.stop() }
        let port = try await server.listeningPort()
        let client = CurlHTTPClient(logger: Logger(label: "test.deploy"))
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")).status == .ok)
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz")).status == .ok)

        let body = try [UInt8](JSONSerialization.data(withJSONObject: [
            "id": "m1", "user": "@an:school.example", "room": "!an-dm", "text": "Hallo Spiegel", "ts": Int(Date().timeIntervalSince1970),
        ] as [String: Any]))
        let signed = PlainSignature(secret: Array(secret.utf8)).sign(body, at: Date())
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name(PlainSignature.timestampHeader)!] = signed.timestamp
        headers[HTTPField.Name(PlainSignature.signatureHeader)!] = signed.signature
        let accepted = try await client.execute(HTTPClientRequest(method: .post, url: "http://127.0.0.1:\(port)/hooks/plain", headerFields: headers, body: body))
        #expect(accepted.status == .ok)
        for _ in 0..<500 where receiver.received.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!receiver.received.isEmpty)
        await client.shutdown()
        try await receiver.stop()

        kill(server.process.processIdentifier, SIGTERM)
        #expect(try await server.exitStatus() == 0)
        #expect(server.standardOutput.contains("Spiegel stopped."))
        #expect(server.standardError.contains("sandbox: seccomp rules of spiegel.service loaded"))
    }

    // MARK: - The example configuration

    @Test func theExampleConfigLoadsAndNamesEveryKey() throws {
        let path = Self.deploy.appendingPathComponent("spiegel.example.yaml").path
        let loaded = try ConfigurationLoader.load(file: path, environment: [:])
        let configuration = loaded.configuration
        #expect(configuration.dataDirectory == "/var/lib/spiegel")
        #expect(configuration.promptsDirectory == "/usr/local/share/spiegel/Prompts")
        #expect(configuration.server.host == "127.0.0.1" && configuration.server.port == 8080)
        // The key comes from systemd's credential, and no chat is on until one is chosen.
        #expect(configuration.vaultKeyFile == nil)
        #expect(configuration.plain.outboundURL == nil && configuration.mattermost.incomingWebhookURL == nil && configuration.matrix.homeserverURL == nil)

        let text = try String(contentsOfFile: path, encoding: .utf8)
        let sections = Self.sections(of: text)
        for key in ConfigurationKey.all {
            let parts = key.path.split(separator: ".").map(String.init)
            let section = parts.count > 1 ? parts[0] : ""
            let name = parts[parts.count - 1]
            #expect((sections[section] ?? []).contains { Self.withoutComment($0).hasPrefix(name + ":") }, "\(key.path)")
        }

        // Every setting left out is valid as written: with all of them on, the file loads, every
        // key but the secrets comes from it, and no secret is in it.
        let enabled = text.split(separator: "\n", omittingEmptySubsequences: false).map { Self.enabled(String($0)) }.joined(separator: "\n")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-example-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try enabled.write(to: file, atomically: true, encoding: .utf8)
        let all = try ConfigurationLoader.load(file: file.path, environment: [:])
        for key in ConfigurationKey.all {
            if key.isSecret {
                #expect(key.value(in: configuration) == nil && key.value(in: all.configuration) == nil, "\(key.path)")
            } else {
                #expect(all.origin(of: key) != .builtInDefault, "\(key.path)")
            }
        }
    }

    // MARK: - The container

    @Test(.tags(.container), .enabled(if: runs("container"))) func theContainerStepsProduceARunnableTree() async throws {
        let spiegel = try #require(BuiltExecutable.find("spiegel"), "build the spiegel product first: swift build")
        let directory = try Self.temporaryDirectory("spiegel-container")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.appendingPathComponent("root")

        // The build stage, with the binary `swift build` made (a build inside `swift test` would
        // wait for the lock on .build) and its Swift runtime linked dynamically.
        let build = try await Self.run(
            "/bin/sh", [Self.deploy.appendingPathComponent("container-build.sh").path, root.path],
            environment: ["SPIEGEL_PREBUILT": spiegel.path, "SPIEGEL_BUILD_CONFIGURATION": "debug", "SPIEGEL_STATIC_STDLIB": "no"]
        )
        #expect(build.status == 0)
        // What the runtime stage installs holds what the binary links.
        #expect(build.output.contains("/libcurl.so.4  (Debian: libcurl4)"))
        let containerfile = try String(contentsOf: Self.deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
        #expect(containerfile.contains("apt-get install -y -q --no-install-recommends libcurl4 ca-certificates tzdata curl"))
        #expect(containerfile.contains("sh deploy/container-build.sh /staging"))

        let binary = root.appendingPathComponent("usr/local/bin/spiegel").path
        let prompts = root.appendingPathComponent("usr/local/share/spiegel/Prompts")
        #expect(FileManager.default.isExecutableFile(atPath: binary))
        #expect(try Self.files(under: prompts) == Self.files(under: Self.package.appendingPathComponent("Prompts")))

        // The image's environment, with a key as the engine would give it.
        let keyFile = directory.appendingPathComponent("master.key").path
        let environment = [
            "SPIEGEL_DATA_DIR": directory.appendingPathComponent("data").path,
            "SPIEGEL_PROMPTS_DIR": prompts.path,
            "SPIEGEL_SERVER_HOST": "0.0.0.0",
            "SPIEGEL_VAULT_KEY_FILE": keyFile,
        ]
        #expect(try await Self.run(binary, ["keys", "init", "--key-file", keyFile], in: directory).status == 0)
        let doctor = try await Self.run(
            binary, ["doctor", "--config", Self.deploy.appendingPathComponent("spiegel.example.yaml").path], environment: environment, in: directory
        )
        #expect(doctor.status == 0)
        #expect(doctor.output.contains("No problems found."))
        #expect(try await Self.run(binary, ["prompts", "lint", prompts.path], in: directory).status == 0)

        // What the health check asks.
        var serving = environment
        serving["SPIEGEL_SERVER_PORT"] = "0"
        let server = try Started(binary, ["serve"], environment: serving, in: directory)
        defer { server.stop() }
        let port = try await server.listeningPort()
        let client = CurlHTTPClient(logger: Logger(label: "test.deploy"))
        #expect(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")).status == .ok)
        await client.shutdown()
        kill(server.process.processIdentifier, SIGTERM)
        #expect(try await server.exitStatus() == 0)
    }

    /// Every `SPIEGEL_…` variable the deploy files set is a setting Spiegel reads (or one of the
    /// build script's own), and the shell scripts parse.
    @Test func theDeployFilesNameRealSettings() async throws {
        let known = Set(ConfigurationKey.all.map(\.environmentVariable))
            .union(["SPIEGEL_BUILD_CONFIGURATION", "SPIEGEL_STATIC_STDLIB", "SPIEGEL_PREBUILT"])
        for name in ["spiegel.service", "Containerfile", "compose.example.yaml", "container-build.sh", "install.sh", "spiegel.example.yaml"] {
            let text = try String(contentsOf: Self.deploy.appendingPathComponent(name), encoding: .utf8)
            let variables = text.matches(of: /SPIEGEL_[A-Z0-9_]*[A-Z0-9]/).map { String($0.output) }
            #expect(!variables.isEmpty, "\(name)")
            for variable in variables {
                #expect(known.contains(variable), "\(name): \(variable)")
            }
        }
        for script in ["container-build.sh", "install.sh"] {
            #expect(try await Self.run("/bin/sh", ["-n", Self.deploy.appendingPathComponent(script).path]).status == 0, "\(script)")
        }
    }

    // MARK: - Helpers

    /// A root for `systemd-analyze --root`: the unit, the one target its start job needs, and a
    /// stand-in for the binary (verify checks that ExecStart exists).
    static func unitRoot(_ unit: String) throws -> URL {
        let root = try self.temporaryDirectory("spiegel-unit")
        let system = root.appendingPathComponent("etc/systemd/system")
        let library = root.appendingPathComponent("usr/lib/systemd/system")
        let bin = root.appendingPathComponent("usr/local/bin")
        for folder in [system, library, bin, root.appendingPathComponent("bin")] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        try unit.write(to: system.appendingPathComponent("spiegel.service"), atomically: true, encoding: .utf8)
        try "[Unit]\nDescription=System Initialization\n".write(to: library.appendingPathComponent("sysinit.target"), atomically: true, encoding: .utf8)
        // Stand-ins for the programs the unit runs (spiegel; kill for the reload).
        for stand in [bin.appendingPathComponent("spiegel"), root.appendingPathComponent("bin/kill")] {
            try "#!/bin/sh\nexit 0\n".write(to: stand, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stand.path)
        }
        return root
    }

    /// The lines of the example under each section (`server:` or `#server:`); top-level keys under "".
    static func sections(of text: String) -> [String: [String]] {
        var sections: [String: [String]] = [:]
        var current = ""
        for line in text.split(separator: "\n").map(String.init) {
            let bare = line.hasPrefix("#") && line.dropFirst().first?.isLowercase == true ? String(line.dropFirst()) : line
            if let first = bare.first, first.isLowercase, let colon = bare.firstIndex(of: ":") {
                let name = String(bare[..<colon])
                let rest = bare[bare.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                current = rest.isEmpty ? name : ""
                if !rest.isEmpty { sections["", default: []].append(line) }
                continue
            }
            sections[current, default: []].append(line)
        }
        return sections
    }

    /// A line without its indentation and comment marks.
    static func withoutComment(_ line: String) -> String {
        String(line.drop { $0 == " " || $0 == "#" })
    }

    /// A setting left out (`#key: value`, `#  key: value`, `  #key: value`) turned on; other lines as they are.
    static func enabled(_ line: String) -> String {
        let indentation = line.prefix { $0 == " " }
        let rest = line.dropFirst(indentation.count)
        guard rest.first == "#" else { return line }
        let afterMark = rest.dropFirst()
        let spaces = afterMark.prefix { $0 == " " }.count
        let key = afterMark.dropFirst(spaces)
        guard spaces % 2 == 0, let colon = key.firstIndex(of: ":"), colon > key.startIndex,
            key[..<colon].allSatisfy({ $0.isLowercase || $0 == "_" }),
            key.index(after: colon) == key.endIndex || key[key.index(after: colon)] == " "
        else { return line }
        return String(indentation) + String(afterMark)
    }

    /// The relative paths of the files under `folder`, sorted.
    static func files(under folder: URL) throws -> [String] {
        let base = folder.standardizedFileURL.resolvingSymlinksInPath().path
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw DeployTestError(description: "cannot list \(folder.path)")
        }
        var paths: [String] = []
        for case let url as URL in enumerator {
            guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
            paths.append(String(url.standardizedFileURL.resolvingSymlinksInPath().path.dropFirst(base.count)))
        }
        return paths.sorted()
    }

    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct Finished {
        let status: Int32
        let output: String
        let errorOutput: String
        /// Standard output and standard error, line by line.
        var lines: [String] { (self.output + "\n" + self.errorOutput).split(separator: "\n").map(String.init) }
    }

    /// Runs a command to its end (at most 60 s).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) async throws -> Finished {
        let started = try Started(executable, arguments, environment: environment, in: directory)
        defer { started.removeOutput() }
        let status = try await started.exitStatus(within: .seconds(60))
        return Finished(status: status, output: started.standardOutput, errorOutput: started.standardError)
    }

    /// A process with its output in files (no pipe to fill up), without the caller's `SPIEGEL_…` variables.
    struct Started {
        let process = Process()
        let files: URL
        let output: URL
        let errorOutput: URL

        init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws {
            self.files = try DeployTests.temporaryDirectory("spiegel-output")
            self.output = self.files.appendingPathComponent("stdout.txt")
            self.errorOutput = self.files.appendingPathComponent("stderr.txt")
            _ = FileManager.default.createFile(atPath: self.output.path, contents: nil)
            _ = FileManager.default.createFile(atPath: self.errorOutput.path, contents: nil)
            self.process.executableURL = URL(fileURLWithPath: executable)
            self.process.arguments = arguments
            if let directory { self.process.currentDirectoryURL = directory }
            var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SPIEGEL_") }
            base.merge(environment) { $1 }
            self.process.environment = base
            self.process.standardInput = FileHandle.nullDevice
            self.process.standardOutput = try FileHandle(forWritingTo: self.output)
            self.process.standardError = try FileHandle(forWritingTo: self.errorOutput)
            try self.process.run()
        }

        var standardOutput: String { (try? String(contentsOf: self.output, encoding: .utf8)) ?? "" }
        var standardError: String { (try? String(contentsOf: self.errorOutput, encoding: .utf8)) ?? "" }

        /// Removes the files of the output, once read.
        func removeOutput() {
            try? FileManager.default.removeItem(at: self.files)
        }

        /// Ends the process if it still runs (a test that stopped early) and removes its output.
        func stop() {
            if self.process.isRunning {
                kill(self.process.processIdentifier, SIGKILL)
                self.process.waitUntilExit()
            }
            self.removeOutput()
        }

        /// Waits up to 20 s for the line that says where the server listens; returns the port.
        func listeningPort() async throws -> Int {
            for _ in 0..<400 {
                if let line = self.standardOutput.split(separator: "\n").first(where: { $0.contains("listening on http://") }),
                    let port = line.split(separator: ":").dropFirst(2).first?.prefix(while: \.isNumber), let number = Int(port)
                {
                    return number
                }
                guard self.process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            if self.process.isRunning { self.process.terminate() }
            throw DeployTestError(description: "no listening line; stderr: \(self.standardError)")
        }

        /// Waits for the process to exit and returns its status; stops it after `limit`.
        func exitStatus(within limit: Duration = .seconds(20)) async throws -> Int32 {
            let deadline = ContinuousClock.now + limit
            while self.process.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            guard !self.process.isRunning else {
                self.process.terminate()
                throw DeployTestError(description: "\(self.process.executableURL?.path ?? "") did not exit within \(limit)")
            }
            return self.process.terminationStatus
        }
    }

    struct DeployTestError: Error, CustomStringConvertible {
        let description: String
    }

    /// Applies the seccomp rules of the unit given as the first argument, as systemd does, then
    /// becomes the user given second (when root) and executes the rest. Python with libseccomp's
    /// bindings (Debian: python3-seccomp); the system-call groups come from `systemd-analyze
    /// syscall-filter`, the same tables systemd uses.
    static let sandbox = #"""
        import errno, os, socket, subprocess, sys
        import seccomp

        unit, user, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
        settings = {}
        for line in open(unit):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                name, value = line.split("=", 1)
                settings.setdefault(name, []).append(value)

        groups, current = {}, None
        for line in subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("@"):
                current = line.strip()
                groups[current] = []
            elif current and line.strip() and not line.strip().startswith("#"):
                groups[current].append(line.strip())

        def expand(name, seen):
            if not name.startswith("@"):
                return {name}
            if name in seen:
                return set()
            seen.add(name)
            return set().union(*[expand(member, seen) for member in groups[name]])

        # The first list allows, each "~" list after it takes away (systemd.exec: SystemCallFilter=).
        allowed = None
        for value in settings.get("SystemCallFilter", []):
            deny = value.startswith("~")
            names = set().union(*[expand(item, set()) for item in value.lstrip("~").split()])
            if allowed is None:
                assert not deny, "the unit's first SystemCallFilter= must be an allow list"
                allowed = names
            elif deny:
                allowed -= names
            else:
                allowed |= names
        assert allowed, "the unit has no SystemCallFilter="
        number = getattr(errno, settings.get("SystemCallErrorNumber", ["EPERM"])[-1])

        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
        os.umask(int(settings.get("UMask", ["0022"])[-1], 8))

        refused = seccomp.SyscallFilter(defaction=seccomp.ERRNO(number))
        for name in sorted(allowed):
            try:
                refused.add_rule(seccomp.ALLOW, name)
            except Exception:
                pass  # not a system call of this architecture
        extra = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        if settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
            write, execute = 0x2, 0x4
            extra.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, write | execute, write | execute))
            extra.add_rule(seccomp.ERRNO(errno.EPERM), "mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, execute, execute))
            extra.add_rule(seccomp.ERRNO(errno.EPERM), "pkey_mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, execute, execute))
        families = settings.get("RestrictAddressFamilies")
        if families:
            permitted = {getattr(socket, family) for family in families[-1].split()}
            for family in range(0, 64):
                if family not in permitted:
                    extra.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
        extra.load()
        refused.load()
        sys.stderr.write("sandbox: seccomp rules of spiegel.service loaded (%d system calls allowed)\n" % len(allowed))
        sys.stderr.flush()
        os.execv(command[0], command)
        """#
}
