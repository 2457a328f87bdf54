import Foundation
import Logging
import SpiegelApp
import SpiegelChat
import SpiegelCoach
import Testing

@Suite struct ConfigurationLoaderTests {
    /// Writes `yaml` to a fresh file and returns its path.
    private func file(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func loadError(_ file: String?, environment: [String: String] = [:]) -> ConfigurationError? {
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: file, environment: environment, defaultFile: "/nonexistent/spiegel.yaml")
        }
    }

    @Test func withoutAFileTheBuiltInDefaultsApply() throws {
        let loaded = try ConfigurationLoader.load(file: nil, environment: [:], defaultFile: "/nonexistent/spiegel.yaml")
        #expect(loaded.file == nil)
        #expect(loaded.configuration.dataDirectory == "./.spiegel-data")
        #expect(loaded.configuration.server.host == "127.0.0.1")
        #expect(loaded.configuration.server.port == 8080)
        #expect(loaded.configuration.logLevel == .info)
        #expect(loaded.origins.isEmpty)
    }

    @Test func theDefaultFileIsReadWhenItExists() throws {
        let path = try file("server:\n  port: 9001\n")
        let loaded = try ConfigurationLoader.load(file: nil, environment: [:], defaultFile: path)
        #expect(loaded.file == path)
        #expect(loaded.configuration.server.port == 9001)
    }

    @Test func everyKeyIsReadFromTheFileWithItsLine() throws {
        let path = try file(
            """
            # Spiegel
            data_dir: /var/lib/spiegel
            prompts_dir: /etc/spiegel/Prompts
            server:
              host: 0.0.0.0
              port: 9000
              max_connections: 500
              idle_timeout: 20s
            log:
              level: debug
            http_client:
              connect_timeout: 250ms
              timeout: 2m
              max_response_size: 512KiB
              ca_bundle: /etc/spiegel/ca.pem
              max_connections_per_host: 4
            vault:
              key_file: /etc/spiegel/master.key
              master_key: c2VjcmV0
              retention: 730d
            coach:
              pause_after: 30m
              max_message_length: 2000
              rate_limit_burst: 5
              rate_limit_interval: 3s
              rate_limit_max_wait: 5s
              max_active_sessions: 500
              language: en
              reminder_after: 2d
              time_zone: Europe/Amsterdam
              quiet_hours: 22-7
              pairings: "@an:school.example=@els:school.example"
            plain:
              secret: a-shared-secret-of-the-bridge
              outbound_url: https://bridge.school.example/spiegel
              team_rooms: "!team-a, !team-b"
            mattermost:
              token: mm-token
              incoming_webhook_url: https://chat.school.example/hooks/abc
              username: Spiegel-bot
              team_channels: town-square
              room_webhook_urls: "@an=https://hooks.example/a, @bert=https://hooks.example/b"
            teams:
              file: /etc/spiegel/teams.yaml
              grace: 6h
              tick: 10s
            matrix:
              homeserver_url: https://matrix.school.example
              registration_file: /etc/spiegel/registration.yaml
              access_token: syt_secret
              user_id: "@spiegel:school.example"
              team_rooms: ["!team:school.example", "!steering:school.example"]
              ignored_users:
                - "@otherbot:school.example"
              typing_after: 0
              encryption: require
            irc:
              server: irc.school.example
              port: 6697
              tls: true
              nick: spiegel
              server_password: pass-secret
              sasl_account: spiegel
              sasl_password: sasl-secret
              team_channels: ["#team-a", "&team-b"]
              identity: account
            tryout:
              enabled: true
              allow_remote: true
            """
        )
        let loaded = try ConfigurationLoader.load(file: path, environment: [:])
        let configuration = loaded.configuration
        #expect(configuration.dataDirectory == "/var/lib/spiegel")
        #expect(configuration.promptsDirectory == "/etc/spiegel/Prompts")
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.server.port == 9000)
        #expect(configuration.server.maxConnections == 500 && configuration.server.idleTimeout == .seconds(20))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.httpClient.connectTimeout == .milliseconds(250))
        #expect(configuration.httpClient.timeout == .seconds(120))
        #expect(configuration.httpClient.maxResponseSize == 512 * 1024)
        #expect(configuration.httpClient.caBundlePath == "/etc/spiegel/ca.pem")
        #expect(configuration.httpClient.maxConnectionsPerHost == 4)
        #expect(configuration.vaultKeyFile == "/etc/spiegel/master.key")
        #expect(configuration.vaultMasterKey == "c2VjcmV0")
        #expect(configuration.vaultDirectory == "/var/lib/spiegel/vault")
        #expect(configuration.vaultRetention == .seconds(730 * 86_400))
        #expect(configuration.coach.pauseAfter == .seconds(1800))
        #expect(configuration.coach.maxMessageLength == 2000)
        #expect(configuration.coach.rateLimitBurst == 5)
        #expect(configuration.coach.rateLimitInterval == .seconds(3))
        #expect(configuration.coach.rateLimitMaxWait == .seconds(5))
        #expect(configuration.coach.maxActiveSessions == 500)
        #expect(configuration.coach.defaultLanguage == "en")
        #expect(configuration.coach.reminderAfter == .seconds(2 * 86_400))
        #expect(configuration.coach.timeZone == "Europe/Amsterdam")
        #expect(configuration.coach.quietHours == QuietHours(from: 22, until: 7))
        #expect(configuration.coach.pairings == ["@an:school.example": "@els:school.example"])
        #expect(configuration.plain.secret == "a-shared-secret-of-the-bridge")
        #expect(configuration.plain.outboundURL == "https://bridge.school.example/spiegel")
        #expect(configuration.plain.teamRooms == ["!team-a", "!team-b"])
        #expect(configuration.mattermost.token == "mm-token")
        #expect(configuration.mattermost.incomingWebhookURL == "https://chat.school.example/hooks/abc")
        #expect(configuration.mattermost.username == "Spiegel-bot")
        #expect(configuration.mattermost.teamChannels == ["town-square"])
        #expect(configuration.mattermost.roomWebhookURLs == ["@an": "https://hooks.example/a", "@bert": "https://hooks.example/b"])
        #expect(configuration.matrix.homeserverURL == "https://matrix.school.example")
        #expect(configuration.matrix.registrationFile == "/etc/spiegel/registration.yaml")
        #expect(configuration.matrix.accessToken == "syt_secret")
        #expect(configuration.matrix.userID == "@spiegel:school.example")
        #expect(configuration.matrix.teamRooms == ["!team:school.example", "!steering:school.example"])
        #expect(configuration.matrix.ignoredUsers == ["@otherbot:school.example"])
        #expect(configuration.matrix.typingAfter == .zero)
        #expect(configuration.matrix.encryption == .require)
        #expect(configuration.irc.server == "irc.school.example" && configuration.irc.port == 6697 && configuration.irc.tls)
        #expect(configuration.irc.nick == "spiegel" && configuration.irc.serverPassword == "pass-secret")
        #expect(configuration.irc.saslAccount == "spiegel" && configuration.irc.saslPassword == "sasl-secret")
        #expect(configuration.irc.teamChannels == ["#team-a", "&team-b"] && configuration.irc.identity == .account)
        #expect(configuration.tryout.enabled && configuration.tryout.allowRemote)
        #expect(configuration.teams.file == "/etc/spiegel/teams.yaml")
        #expect(configuration.teams.grace == .seconds(6 * 3600) && configuration.teams.tick == .seconds(10))
        #expect(loaded.origins["server.port"] == .file(path: path, line: 6))
        #expect(Set(loaded.origins.keys) == Set(ConfigurationKey.all.map(\.path)))
    }

    @Test func pairingsTakeEveryTransportsUserIDs() throws {
        let environment = ["SPIEGEL_COACH_PAIRINGS": "mattermost:u1x9=mattermost:c7k2, @an:school.example=@els:school.example, bram=els"]
        let loaded = try ConfigurationLoader.load(file: nil, environment: environment, defaultFile: "/nonexistent/spiegel.yaml")
        #expect(loaded.configuration.coach.pairings == ["mattermost:u1x9": "mattermost:c7k2", "@an:school.example": "@els:school.example", "bram": "els"])
        for wrong in ["an=an", "an=", "an els=bo", "spiegel:x=an"] {
            #expect(self.loadError(nil, environment: ["SPIEGEL_COACH_PAIRINGS": wrong])?.key == "coach.pairings", "\(wrong)")
        }
    }

    @Test func anEmptyFileMeansDefaults() throws {
        let path = try file("# nothing configured yet\n")
        let loaded = try ConfigurationLoader.load(file: path, environment: [:])
        #expect(loaded.file == path)
        #expect(loaded.configuration.server.port == 8080)
    }

    @Test func anUnknownKeyIsAnErrorWithItsPlaceAndTheKnownKeys() throws {
        let path = try file("server:\n  host: 127.0.0.1\n  prot: 9000\n")
        let error = try #require(loadError(path))
        #expect(error.code == .unknownKey)
        #expect(error.line == 3)
        #expect(error.column == 3)
        #expect(error.key == "server.prot")
        #expect(error.description.hasPrefix("\(path):3:3: server.prot: unknown key"))
        #expect(error.message.contains("host, port"))
    }

    @Test func anUnknownSectionIsAnError() throws {
        let error = try #require(loadError(try file("sever:\n  port: 1\n")))
        #expect(error.code == .unknownKey)
        #expect(error.key == "sever")
        #expect(error.line == 1)
        #expect(error.message.contains("server"))
    }

    @Test(arguments: [
        ("server:\n  port: 80a\n", "server.port", 2, "a port number"),
        ("server:\n  port: 70000\n", "server.port", 2, "a port number"),
        ("log:\n  level: loud\n", "log.level", 2, "one of trace"),
        ("http_client:\n  timeout: 30\n", "http_client.timeout", 2, "a duration"),
        ("http_client:\n  timeout: -5s\n", "http_client.timeout", 2, "a duration"),
        ("http_client:\n  max_response_size: 1MB\n", "http_client.max_response_size", 2, "a size"),
        ("http_client:\n  max_connections_per_host: 0\n", "http_client.max_connections_per_host", 2, "from 1 to 1000"),
        ("coach:\n  max_message_length: 5\n", "coach.max_message_length", 2, "from 100 to 100000"),
        ("coach:\n  language: fr\n", "coach.language", 2, "nl or en"),
        ("coach:\n  quiet_hours: 8-8\n", "coach.quiet_hours", 2, "two hours"),
        ("plain:\n  secret: short\n", "plain.secret", 2, "16 characters or more"),
        ("mattermost:\n  room_webhook_urls: \"@an\"\n", "mattermost.room_webhook_urls", 2, "room=URL pairs"),
        ("plain:\n  outbound_url: ftp://x\n", "plain.outbound_url", 2, "an http or https URL"),
        ("coach:\n  time_zone: Mars/Olympus\n", "coach.time_zone", 2, "IANA"),
        ("coach:\n  reminder_after: soon\n", "coach.reminder_after", 2, "off, or a duration"),
        ("server: 8080\n", "server", 1, "a mapping"),
        ("server:\n  port:\n    - 1\n", "server.port", 3, "a port number"),
    ])
    func anInvalidValueNamesTheKeyLineAndWhatIsExpected(yaml: String, key: String, line: Int, expected: String) throws {
        let error = try #require(loadError(try file(yaml)))
        #expect(error.code == .invalidValue)
        #expect(error.key == key)
        #expect(error.line == line)
        #expect(error.message.contains(expected))
    }

    @Test func aDuplicateKeyIsAnError() throws {
        let error = try #require(loadError(try file("server:\n  port: 1\n  port: 2\n")))
        #expect(error.code == .duplicateKey)
        #expect(error.key == "port")
        #expect(error.line == 2)
        #expect(!error.description.contains("server:"))
    }

    @Test func brokenYAMLIsASyntaxErrorWithItsLine() throws {
        let error = try #require(loadError(try file("server:\n  port: 1\n bad: [\n")))
        #expect(error.code == .syntax)
        #expect(error.line != nil)
    }

    @Test func aMissingExplicitFileIsAnError() throws {
        let error = try #require(loadError("/nonexistent/spiegel-config.yaml"))
        #expect(error.code == .fileNotFound)
        #expect(error.source == "/nonexistent/spiegel-config.yaml")
    }

    @Test func errorsNeverRepeatTheValue() throws {
        let canary = "hunter2-canary-value"
        let fromFile = try #require(loadError(try file("server:\n  port: \(canary)\n")))
        #expect(!fromFile.description.contains(canary))
        let fromEnvironment = try #require(loadError(nil, environment: ["SPIEGEL_SERVER_PORT": canary]))
        #expect(!fromEnvironment.description.contains(canary))
    }

    @Test func environmentOverridesTheFileAndTheCommandLineOverridesBoth() throws {
        let path = try file("data_dir: /from/file\nserver:\n  port: 9000\n  host: 0.0.0.0\n")
        let environment = ["SPIEGEL_SERVER_PORT": "9100", "SPIEGEL_DATA_DIR": "/from/env", "SPIEGEL_HTTP_CLIENT_TIMEOUT": "3s"]
        let loaded = try ConfigurationLoader.load(file: path, dataDirectory: "/from/flag", environment: environment)
        #expect(loaded.configuration.server.port == 9100)
        #expect(loaded.configuration.server.host == "0.0.0.0")
        #expect(loaded.configuration.httpClient.timeout == .seconds(3))
        #expect(loaded.configuration.dataDirectory == "/from/flag")
        #expect(loaded.origins["server.port"] == .environment(variable: "SPIEGEL_SERVER_PORT"))
        #expect(loaded.origins["server.host"] == .file(path: path, line: 4))
        #expect(loaded.origins["data_dir"] == .commandLine(option: "--data-dir"))
    }

    @Test func anInvalidEnvironmentValueNamesTheVariable() throws {
        let error = try #require(loadError(nil, environment: ["SPIEGEL_LOG_LEVEL": "chatty"]))
        #expect(error.code == .invalidValue)
        #expect(error.source == "environment variable SPIEGEL_LOG_LEVEL")
        #expect(error.key == "log.level")
    }

    @Test func everyKeyHasAnEnvironmentVariable() {
        let names = ConfigurationKey.all.map(\.environmentVariable)
        #expect(names.contains("SPIEGEL_DATA_DIR"))
        #expect(names.contains("SPIEGEL_HTTP_CLIENT_MAX_CONNECTIONS_PER_HOST"))
        #expect(Set(names).count == names.count)
    }

    @Test(arguments: [
        ("http_client:\n  timeout: 1h\n", Duration.seconds(3600)),
        ("http_client:\n  timeout: 90s\n", Duration.seconds(90)),
        ("http_client:\n  timeout: 1500ms\n", Duration.milliseconds(1500)),
    ])
    func durationsTakeTheirUnit(yaml: String, expected: Duration) throws {
        let loaded = try ConfigurationLoader.load(file: try file(yaml), environment: [:])
        #expect(loaded.configuration.httpClient.timeout == expected)
    }

    @Test func valuesPrintTheWayTheyAreWritten() throws {
        let path = try file("http_client:\n  timeout: 90s\n  max_response_size: 2MiB\n")
        let loaded = try ConfigurationLoader.load(file: path, environment: [:])
        let printed = Dictionary(uniqueKeysWithValues: ConfigurationKey.all.map { ($0.path, $0.value(in: loaded.configuration)) })
        #expect(printed["http_client.timeout"] == "90s")
        #expect(printed["http_client.max_response_size"] == "2MiB")
        #expect(printed["http_client.connect_timeout"] == "5s")
        #expect(printed["http_client.ca_bundle"] == .some(nil))
    }
}
