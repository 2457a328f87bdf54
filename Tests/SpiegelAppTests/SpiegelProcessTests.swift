import Foundation
import SpiegelApp
import HTTPTypes
import Logging
import SpiegelChat
import SpiegelTestKit
import SpiegelVault
import Testing

/// The `spiegel` executable as an administrator runs it: a real process, real signals.
@Suite(.serialized) struct SpiegelProcessTests {
    /// The `spiegel` binary that `swift build` put beside this test bundle.
    static let executable = BuiltExecutable.find("spiegel")

    /// A process with its output in files, in a fresh working directory, its clock at the run's
    /// time (``TestTime``) or at `date`.
    struct Run {
        let process = Process()
        let directory: URL
        let output: URL
        let errorOutput: URL

        /// - Parameter wrapper: a command that runs `spiegel` (`nsenter … --`), its path first.
        init(_ arguments: [String], environment: [String: String] = [:], input: String? = nil, at date: Date? = nil, wrapper: [String] = []) throws {
            var executable = try #require(SpiegelProcessTests.executable, "build the spiegel product first: swift build")
            var arguments = arguments
            if let command = wrapper.first {
                arguments = Array(wrapper.dropFirst()) + [executable.path] + arguments
                executable = URL(fileURLWithPath: command)
            }
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-run-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            self.output = self.directory.appendingPathComponent("stdout.txt")
            self.errorOutput = self.directory.appendingPathComponent("stderr.txt")
            _ = FileManager.default.createFile(atPath: self.output.path, contents: nil)
            _ = FileManager.default.createFile(atPath: self.errorOutput.path, contents: nil)
            self.process.executableURL = executable
            self.process.arguments = arguments
            self.process.currentDirectoryURL = self.directory
            var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SPIEGEL_") }
            base.merge(try TestTime.processEnvironment(at: date)) { $1 }
            base.merge(environment) { $1 }
            self.process.environment = base
            self.process.standardOutput = try FileHandle(forWritingTo: self.output)
            self.process.standardError = try FileHandle(forWritingTo: self.errorOutput)
            if let input {
                let inputFile = self.directory.appendingPathComponent("stdin.txt")
                try input.write(to: inputFile, atomically: true, encoding: .utf8)
                self.process.standardInput = try FileHandle(forReadingFrom: inputFile)
            } else {
                self.process.standardInput = FileHandle.nullDevice
            }
            try self.process.run()
        }

        var standardOutput: String { (try? String(contentsOf: self.output, encoding: .utf8)) ?? "" }
        var standardError: String { (try? String(contentsOf: self.errorOutput, encoding: .utf8)) ?? "" }

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
            throw ProcessTestError(message: "no listening line; stderr: \(self.standardError)")
        }

        /// Waits until the server's outboxes are empty (its `/metrics`): all it had to send for
        /// what it was sent so far went out.
        func settled(port: Int, client: CurlHTTPClient) async throws {
            try await Poll.until("the outboxes of the process empty") {
                let metrics = String(decoding: try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")).body, as: UTF8.self)
                let depths = metrics.split(separator: "\n").filter { $0.hasPrefix("spiegel_outbox_depth{") }
                return !depths.isEmpty && depths.allSatisfy { Double($0.split(separator: " ").last ?? "") == 0 }
            }
        }

        /// Waits up to 20 s for the process to exit and returns its status.
        func exitStatus() async throws -> Int32 {
            for _ in 0..<400 where self.process.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
            guard !self.process.isRunning else {
                self.process.terminate()
                throw ProcessTestError(message: "the process did not exit")
            }
            return self.process.terminationStatus
        }
    }

    struct ProcessTestError: Error, CustomStringConvertible {
        let message: String
        var description: String { self.message }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func serveAnswersHealthzAndDrainsToExitZeroOnSignal(signal: Int32) async throws {
        let run = try Run(["serve"], environment: ["SPIEGEL_SERVER_PORT": "0"])
        let port = try await run.listeningPort()
        let client = CurlHTTPClient(logger: Logger(label: "test.process"))
        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"))
        #expect(response.status == .ok)
        let ready = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz"))
        #expect(ready.status == .ok)
        await client.shutdown()

        kill(run.process.processIdentifier, signal)
        #expect(try await run.exitStatus() == 0)
        #expect(run.standardOutput.contains("Spiegel stopped."))
        // The built-in default data directory, created for the owner alone, and a master key
        // beside it, made once with a loud warning.
        let attributes = try FileManager.default.attributesOfItem(atPath: run.directory.appendingPathComponent(".spiegel-data").path)
        #expect(attributes[.posixPermissions] as? Int == 0o700)
        let key = try FileManager.default.attributesOfItem(atPath: run.directory.appendingPathComponent(".spiegel-master.key").path)
        #expect(key[.posixPermissions] as? Int == 0o600)
        let format = try FileManager.default.attributesOfItem(atPath: run.directory.appendingPathComponent(".spiegel-data/format").path)
        #expect(format[.posixPermissions] as? Int == 0o600, "every file in the data directory is the service user's alone")
        #expect(run.standardError.contains("spiegel.vault.key_created"))
    }

    @Test func aBadConfigurationFileStopsWithFileLineAndKey() async throws {
        let missing = try Run(["serve", "--config", "missing.yaml"])
        #expect(try await missing.exitStatus() == 78)
        #expect(missing.standardError.contains("missing.yaml: no such file"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-bad-\(UUID().uuidString).yaml")
        try "server:\n  port: eighty\n".write(to: file, atomically: true, encoding: .utf8)
        let invalid = try Run(["serve", "--config", file.path])
        #expect(try await invalid.exitStatus() == 78)
        #expect(invalid.standardError.contains("\(file.path):2:9: server.port: expected a port number"))
        #expect(!invalid.standardError.contains("eighty"))
    }

    @Test func aDataDirectoryThatIsAFileStopsServeWithAClearError() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-not-a-dir-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8))
        let run = try Run(["serve", "--data-dir", file.path], environment: ["SPIEGEL_SERVER_PORT": "0"])
        // EX_CONFIG: the administrator must act; systemd does not restart-loop on it.
        #expect(try await run.exitStatus() == 78)
        #expect(run.standardError.contains("is not a directory"))
    }

    @Test func aMasterKeyThatIsNoKeyStopsServeWithExConfig() async throws {
        let run = try Run(["serve"], environment: ["SPIEGEL_SERVER_PORT": "0", "SPIEGEL_VAULT_MASTER_KEY": "this is not a key"])
        #expect(try await run.exitStatus() == 78, "\(run.standardError)")
        #expect(!run.standardError.contains("this is not a key"))
    }

    @Test func doctorPrintsTheConfigurationAndExitsNonZeroOnProblems() async throws {
        let healthy = try Run(["doctor"], environment: [
            "SPIEGEL_SERVER_PORT": "9999", "SPIEGEL_PLAIN_OUTBOUND_URL": "https://bridge.school.example:8443/hooks/s3cr3tpath?token=t0k3n",
            "SPIEGEL_PLAIN_SECRET": "a-shared-secret-of-the-bridge",
        ])
        #expect(try await healthy.exitStatus() == 0)
        // A webhook URL's path is its secret: shown without it.
        #expect(healthy.standardOutput.contains("https://bridge.school.example:8443/… (path hidden)"))
        #expect(!healthy.standardOutput.contains("s3cr3tpath") && !healthy.standardOutput.contains("t0k3n"))
        #expect(healthy.standardOutput.contains("server.port"))
        #expect(healthy.standardOutput.contains("environment variable SPIEGEL_SERVER_PORT"))
        #expect(healthy.standardOutput.contains("No problems found."))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-file-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8))
        let broken = try Run(["doctor", "--data-dir", file.appendingPathComponent("data").path], environment: ["SPIEGEL_HTTP_CLIENT_CA_BUNDLE": "/nonexistent/ca.pem"])
        #expect(try await broken.exitStatus() == 1)
        #expect(broken.standardOutput.contains("http_client.ca_bundle /nonexistent/ca.pem is not a readable file"))
        #expect(broken.standardOutput.contains("data directory \(file.path)/data does not exist"))

        // Half a webhook pair: `serve` would refuse it, so `doctor` names it.
        let half = try Run(["doctor"], environment: ["SPIEGEL_PLAIN_OUTBOUND_URL": "https://bridge.school.example/hooks/x"])
        #expect(try await half.exitStatus() == 1)
        #expect(half.standardOutput.contains("the plain webhook needs both plain.secret and plain.outbound_url (or neither)"))
    }

    @Test func doctorChecksTheIRCSettings() async throws {
        let clear = try Run(["doctor"], environment: ["SPIEGEL_IRC_SERVER": "irc.school.example", "SPIEGEL_IRC_TLS": "false", "SPIEGEL_IRC_IDENTITY": "nick"])
        #expect(try await clear.exitStatus() == 1)
        #expect(clear.standardOutput.contains("irc.tls is false for irc.school.example: teachers' words would cross the network in the clear"))
        #expect(clear.standardOutput.contains("irc.identity is nick: whoever takes a teacher's nick"))

        let halfSASL = try Run(["doctor"], environment: ["SPIEGEL_IRC_SERVER": "irc.school.example", "SPIEGEL_IRC_SASL_ACCOUNT": "spiegel"])
        #expect(try await halfSASL.exitStatus() == 1)
        #expect(halfSASL.standardOutput.contains("SASL needs both irc.sasl_account and irc.sasl_password (or neither)"))

        let fine = try Run(["doctor"], environment: [
            "SPIEGEL_IRC_SERVER": "irc.school.example", "SPIEGEL_IRC_SASL_ACCOUNT": "spiegel", "SPIEGEL_IRC_SASL_PASSWORD": "s3cr3t-wachtwoord",
            "SPIEGEL_IRC_TEAM_CHANNELS": "#team-wiskunde, #team-taal",
        ])
        #expect(try await fine.exitStatus() == 0, "\(fine.standardOutput)")
        #expect(fine.standardOutput.contains("IRC: irc.school.example:6697, TLS, nick spiegel, identity auto"))
        #expect(!fine.standardOutput.contains("s3cr3t-wachtwoord"), "no secret printed")

        let badChannel = try Run(["doctor"], environment: ["SPIEGEL_IRC_SERVER": "irc.school.example", "SPIEGEL_IRC_TEAM_CHANNELS": "team wiskunde"])
        #expect(try await badChannel.exitStatus() != 0)
        #expect((badChannel.standardOutput + badChannel.standardError).contains("irc.team_channels"))
    }

    @Test func doctorChecksTheMatrixConnection() async throws {
        let halfway = try Run(["doctor"], environment: ["SPIEGEL_MATRIX_HOMESERVER_URL": "https://matrix.school.example"])
        #expect(try await halfway.exitStatus() == 1)
        #expect(halfway.standardOutput.contains("Matrix needs matrix.registration_file (application service) or matrix.access_token (/sync)"))

        let registration = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-registration-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: registration) }
        try MatrixRegistration.generate(url: "http://127.0.0.1:8080").yaml(serverName: "school.example").write(to: registration, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: registration.path)
        let environment = [
            "SPIEGEL_MATRIX_HOMESERVER_URL": "https://matrix.school.example", "SPIEGEL_MATRIX_REGISTRATION_FILE": registration.path,
            "SPIEGEL_MATRIX_USER_ID": "@spiegel:school.example",
        ]
        let open = try Run(["doctor"], environment: environment)
        #expect(try await open.exitStatus() == 1)
        #expect(open.standardOutput.contains("anyone can read it: chmod 640"))
        #expect(!open.standardOutput.contains(try MatrixRegistration.load(path: registration.path).hsToken), "no secret printed")

        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: registration.path)
        let fine = try Run(["doctor"], environment: environment)
        #expect(try await fine.exitStatus() == 0)
        #expect(fine.standardOutput.contains("Matrix: an application service at https://matrix.school.example"))
        #expect(fine.standardOutput.contains("Matrix end-to-end encryption: prefer"))

        // A registration made before encryption (no to-device messages, no MSC3202): a problem
        // while encryption is on, none when it is off.
        let older = try String(contentsOf: registration, encoding: .utf8)
            .replacingOccurrences(of: "receive_ephemeral: true", with: "receive_ephemeral: false")
            .replacingOccurrences(of: "\"org.matrix.msc3202\": true\n", with: "")
        try older.write(to: registration, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: registration.path)
        let withoutDeviceMessages = try Run(["doctor"], environment: environment)
        #expect(try await withoutDeviceMessages.exitStatus() == 1)
        #expect(withoutDeviceMessages.standardOutput.contains("end-to-end encryption needs receive_ephemeral: true"))
        let off = try Run(["doctor"], environment: environment.merging(["SPIEGEL_MATRIX_ENCRYPTION": "off"]) { $1 })
        #expect(try await off.exitStatus() == 0)

        let teams = try Run(["doctor"], environment: ["SPIEGEL_TEAMS_FILE": "/nonexistent/teams.yaml"])
        #expect(try await teams.exitStatus() == 1)
        #expect(teams.standardOutput.contains("the teams file /nonexistent/teams.yaml cannot be read"))

        let both = try Run(["doctor"], environment: environment.merging(["SPIEGEL_MATRIX_ACCESS_TOKEN": "syt_x"]) { $1 })
        #expect(try await both.exitStatus() == 1)
        #expect(both.standardOutput.contains("not both") && !both.standardOutput.contains("syt_x"))
    }

    /// The dialogue fixtures of the SpiegelDialogue tests.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../SpiegelDialogueTests/Fixtures").standardizedFileURL.path

    @Test func promptsLintPassesCleanGraphsAndFailsBrokenOnes() async throws {
        let clean = try Run(["prompts", "lint", Self.fixtures + "/Prompts"])
        #expect(try await clean.exitStatus() == 0)
        #expect(clean.standardOutput.contains("2 graphs: 0 errors, 0 warnings"))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-prompts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "id: g\nlanguages: [nl]\nstart: a\nnodes:\n  a:\n    say: Hoi\n    next: weg\n".write(
            to: directory.appendingPathComponent("g.yaml"), atomically: true, encoding: .utf8)
        let broken = try Run(["prompts", "lint", directory.path])
        #expect(try await broken.exitStatus() == 1)
        #expect(broken.standardOutput.contains("g.yaml:5:3: error: node `a` goes to `weg`, which is not a node of `g` [unknown-target]"))

        try "id: g\nlanguages: [nl]\nstart: a\nnodes:\n  a:\n    sey: Hoi\n".write(
            to: directory.appendingPathComponent("g.yaml"), atomically: true, encoding: .utf8)
        let unloadable = try Run(["prompts", "lint", directory.path])
        #expect(try await unloadable.exitStatus() == 1)
        #expect(unloadable.standardError.contains("g.yaml:6:5: error: node `a`: expected exactly one of say, ask"))
    }

    @Test func promptsGraphDrawsAndPromptsTestReplays() async throws {
        let graph = try Run(["prompts", "graph", "kort", "--format", "mermaid", "--prompts", Self.fixtures + "/Prompts"])
        #expect(try await graph.exitStatus() == 0)
        #expect(graph.standardOutput.hasPrefix("flowchart TD"))
        let unknown = try Run(["prompts", "graph", "nope", "--prompts", Self.fixtures + "/Prompts"])
        #expect(try await unknown.exitStatus() == 1)
        #expect(unknown.standardError.contains("no graph `nope`; there are: kern, kort"))

        let classify = try Run(["prompts", "classify", "--prompts", Self.fixtures + "/Prompts"], input: "ik begrijp het niet\nhet ging goed\nwie leest dit\n")
        #expect(try await classify.exitStatus() == 0)
        #expect(classify.standardOutput == "A\t0.67\nnone\t1.00\nC\t0.67\n")

        let replay = try Run(["prompts", "test", Self.fixtures + "/Conversations", "--prompts", Self.fixtures + "/Prompts"])
        #expect(try await replay.exitStatus() == 0)
        #expect(replay.standardOutput.contains("conversations: 3 passed, 0 failed"))
    }

    @Test func keysExportForgetAndRotateWorkOnTheVault() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("master.key").path
        let data = directory.appendingPathComponent("data").path
        let environment = ["SPIEGEL_VAULT_KEY_FILE": keyFile, "SPIEGEL_DATA_DIR": data]

        let created = try Run(["keys", "init", "--key-file", keyFile])
        #expect(try await created.exitStatus() == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int == 0o600)
        let again = try Run(["keys", "init", "--key-file", keyFile])
        #expect(try await again.exitStatus() == 1)
        #expect(again.standardError.contains("exists already"))

        let coachee = CoacheeID("@an:school.example")
        let vault = try Vault(configuration: VaultConfiguration(directory: data + "/vault"), masterKey: try MasterKey.load(file: keyFile), logger: Logger(label: "test"))
        try await vault.append([NewRecord(.messageIn, Array("Mijn les liep vast".utf8))], for: coachee)
        try await vault.close()

        let markdown = try Run(["export", "--user", coachee.rawValue], environment: environment)
        #expect(try await markdown.exitStatus() == 0)
        #expect(markdown.standardOutput.contains("· message in · Mijn les liep vast"))
        let json = try Run(["export", "--user", coachee.rawValue, "--json"], environment: environment)
        #expect(try await json.exitStatus() == 0)
        #expect(json.standardOutput.contains("\"text\" : \"Mijn les liep vast\""))

        let oldKey = try String(contentsOfFile: keyFile, encoding: .utf8)
        let rotate = try Run(["keys", "rotate"], environment: environment)
        #expect(try await rotate.exitStatus() == 0, "\(rotate.standardError)")
        #expect(rotate.standardOutput.contains("Re-wrapped 2 keys"))
        #expect(try String(contentsOfFile: keyFile, encoding: .utf8) != oldKey)
        #expect(!FileManager.default.fileExists(atPath: keyFile + ".next"))
        let afterRotation = try Run(["export", "--user", coachee.rawValue], environment: environment)
        #expect(try await afterRotation.exitStatus() == 0)
        #expect(afterRotation.standardOutput.contains("Mijn les liep vast"))

        let doctor = try Run(["doctor"], environment: environment)
        #expect(try await doctor.exitStatus() == 0)
        #expect(doctor.standardOutput.contains("the key opens the vault, which holds 1 coachee journal(s)"))
        let stranger = MasterKey.generate().base64Encoded
        let wrongKey = try Run(["doctor"], environment: environment.merging(["SPIEGEL_VAULT_MASTER_KEY": stranger]) { $1 })
        #expect(try await wrongKey.exitStatus() == 1)
        #expect(wrongKey.standardOutput.contains("does not open the vault"))
        #expect(wrongKey.standardOutput.contains("vault.master_key                      (set)"))
        #expect(!wrongKey.standardOutput.contains(stranger))

        let declined = try Run(["forget", "--user", coachee.rawValue], environment: environment, input: "nee\n")
        #expect(try await declined.exitStatus() == 0)
        #expect(declined.standardOutput.contains("Nothing was erased."))

        let forget = try Run(["forget", "--user", coachee.rawValue, "--yes"], environment: environment)
        #expect(try await forget.exitStatus() == 0)
        #expect(forget.standardOutput.contains("Erased everything of @an:school.example"))
        let empty = try Run(["export", "--user", coachee.rawValue], environment: environment)
        #expect(try await empty.exitStatus() == 0)
        #expect(empty.standardOutput.contains("· 0 records"))
        #expect(!empty.standardOutput.contains("Mijn les"))
    }

    @Test func aKeyFileOthersCanReadIsRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-open-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keyFile = directory.appendingPathComponent("master.key").path
        try MasterKey.createFile(at: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile)
        let run = try Run(["serve"], environment: ["SPIEGEL_SERVER_PORT": "0", "SPIEGEL_VAULT_KEY_FILE": keyFile])
        #expect(try await run.exitStatus() == 78)
        #expect(run.standardError.contains("can be read by others (mode 644); run chmod 600 on it"))
    }
}
