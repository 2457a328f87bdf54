import Foundation
import Logging
import SpiegelChat
import SpiegelCoach

/// One setting: its dotted key in the YAML file, its environment variable, what it accepts, and
/// how it reads and writes ``SpiegelConfiguration``.
///
/// ``all`` is the whole reference; docs/configuration.md's table mirrors it.
public struct ConfigurationKey: Sendable {
    /// The dotted key, such as `server.port`.
    public let path: String
    /// What a valid value looks like, said to the person who got it wrong.
    public let expected: String
    /// A secret is never printed, only whether it is set.
    public let isSecret: Bool
    /// Whether it takes several values: a YAML list, or one string with commas between them.
    public let isList: Bool
    private let assign: @Sendable (inout SpiegelConfiguration, String) -> Bool
    private let read: @Sendable (SpiegelConfiguration) -> String?

    /// `SPIEGEL_` and the key in capitals, dots as underscores: `SPIEGEL_SERVER_PORT`.
    public var environmentVariable: String {
        "SPIEGEL_" + self.path.uppercased().replacing(".", with: "_")
    }

    private init<Value>(
        _ path: String,
        _ keyPath: any WritableKeyPath<SpiegelConfiguration, Value> & Sendable,
        expected: String,
        isSecret: Bool = false,
        parse: @escaping @Sendable (String) -> Value?,
        format: @escaping @Sendable (Value) -> String?
    ) {
        self.path = path
        self.expected = expected
        self.isSecret = isSecret
        self.isList = Value.self == [String].self
        self.assign = { configuration, text in
            guard let value = parse(text) else { return false }
            configuration[keyPath: keyPath] = value
            return true
        }
        self.read = { format($0[keyPath: keyPath]) }
    }

    /// Parses `text` into `configuration`; false if it is not a valid value.
    func assign(_ text: String, to configuration: inout SpiegelConfiguration) -> Bool {
        self.assign(&configuration, text)
    }

    /// The value in `configuration` as it would be written in the file; `nil` when unset.
    public func value(in configuration: SpiegelConfiguration) -> String? {
        self.read(configuration)
    }

    /// Every key Spiegel reads.
    public static let all: [ConfigurationKey] = [
        .init(
            "data_dir", \.dataDirectory, expected: "a directory path",
            parse: ConfigurationValue.nonEmpty, format: { $0 }
        ),
        .init(
            "prompts_dir", \.promptsDirectory, expected: "a directory path",
            parse: ConfigurationValue.nonEmpty, format: { $0 }
        ),
        .init(
            "server.host", \.server.host, expected: "a host name or IP address to listen on",
            parse: ConfigurationValue.nonEmpty, format: { $0 }
        ),
        .init(
            "server.port", \.server.port, expected: "a port number from 0 to 65535",
            parse: { ConfigurationValue.integer($0, in: 0...65535) }, format: { String($0) }
        ),
        .init(
            "server.max_connections", \.server.maxConnections, expected: "a whole number from 1 to 1000000: connections served at once",
            parse: { ConfigurationValue.integer($0, in: 1...1_000_000) }, format: { String($0) }
        ),
        .init(
            "server.idle_timeout", \.server.idleTimeout, expected: "a duration such as 15s: how long a connection may wait without a whole request",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "log.level", \.logLevel,
            expected: "one of " + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "),
            parse: { Logger.Level(rawValue: $0.lowercased()) }, format: { $0.rawValue }
        ),
        .init(
            "http_client.connect_timeout", \.httpClient.connectTimeout, expected: "a duration such as 500ms, 5s or 1m",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "http_client.timeout", \.httpClient.timeout, expected: "a duration such as 500ms, 30s or 2m",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "http_client.max_response_size", \.httpClient.maxResponseSize, expected: "a size such as 1048576, 512KiB or 1MiB",
            parse: { ConfigurationValue.size($0) }, format: ConfigurationValue.formatSize
        ),
        .init(
            "http_client.ca_bundle", \.httpClient.caBundlePath, expected: "the path of a PEM file of trusted certificate authorities",
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
        .init(
            "http_client.max_connections_per_host", \.httpClient.maxConnectionsPerHost, expected: "a whole number from 1 to 1000",
            parse: { ConfigurationValue.integer($0, in: 1...1000) }, format: { String($0) }
        ),
        .init(
            "vault.key_file", \.vaultKeyFile, expected: "the path of the master key file (made with `spiegel keys init`)",
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
        .init(
            "vault.retention", \.vaultRetention, expected: "a duration such as 365d, after which an inactive coachee is erased",
            parse: { ConfigurationValue.duration($0).map { Duration?.some($0) } }, format: { $0.map(ConfigurationValue.formatDuration) }
        ),
        .init(
            "coach.pause_after", \.coach.pauseAfter, expected: "a duration such as 30m or 2h, after which a silent conversation counts as paused",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "coach.max_message_length", \.coach.maxMessageLength, expected: "a whole number of characters from 100 to 100000",
            parse: { ConfigurationValue.integer($0, in: 100...100_000) }, format: { String($0) }
        ),
        .init(
            "coach.rate_limit_burst", \.coach.rateLimitBurst, expected: "a whole number from 1 to 10000: messages a coachee may send at once",
            parse: { ConfigurationValue.integer($0, in: 1...10_000) }, format: { String($0) }
        ),
        .init(
            "coach.rate_limit_interval", \.coach.rateLimitInterval, expected: "a duration such as 2s: one more message per interval after a burst",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "coach.rate_limit_max_wait", \.coach.rateLimitMaxWait, expected: "a duration such as 10s: how long a message over the burst waits for its turn",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "coach.max_active_sessions", \.coach.maxActiveSessions, expected: "a whole number from 1 to 1000000: coachees kept in memory at once",
            parse: { ConfigurationValue.integer($0, in: 1...1_000_000) }, format: { String($0) }
        ),
        .init(
            "coach.language", \.coach.defaultLanguage, expected: "nl or en: the language of a coachee whose first message does not tell",
            parse: { ["nl", "en"].contains($0) ? $0 : nil }, format: { $0 }
        ),
        .init(
            "coach.reminder_after", \.coach.reminderAfter, expected: "off, or a duration such as 2d: one gentle reminder after that long without an answer",
            parse: { text -> Duration?? in text == "off" ? .some(nil) : ConfigurationValue.duration(text).map { Duration?.some($0) } },
            format: { $0.map(ConfigurationValue.formatDuration) ?? "off" }
        ),
        .init(
            "coach.time_zone", \.coach.timeZone, expected: "an IANA time zone such as Europe/Brussels",
            parse: { TimeZone(identifier: $0) == nil ? nil : $0 }, format: { $0 }
        ),
        .init(
            "coach.quiet_hours", \.coach.quietHours, expected: "two hours from 0 to 23, such as 21-8: no reminders from the first until the second",
            parse: { text in
                let parts = text.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == 2, parts.allSatisfy({ (0...23).contains($0) }), parts[0] != parts[1] else { return nil }
                return QuietHours(from: parts[0], until: parts[1])
            },
            format: { "\($0.from)-\($0.until)" }
        ),
        .init(
            "coach.pairings", \.coach.pairings,
            expected: "coachee=coach pairs of user ids (as the chat names them: @an:school.example, mattermost:<user id>, a plain bridge's ids) separated by commas, such as \"@an:school.example=@els:school.example\"",
            parse: { text in
                var pairs: [String: String] = [:]
                for pair in text.split(separator: ",") {
                    // In NFC, as the gateway takes user ids.
                    let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).precomposedStringWithCanonicalMapping }
                    guard parts.count == 2, parts.allSatisfy(Self.isUserID), parts[0] != parts[1] else { return nil }
                    pairs[parts[0]] = parts[1]
                }
                return pairs
            },
            format: { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        ),
        .init(
            "plain.secret", \.plain.secret, expected: "the plain webhook's shared secret, 16 characters or more", isSecret: true,
            parse: { $0.isEmpty ? String??.none : ($0.utf8.count >= 16 ? .some($0) : nil) }, format: { $0 }
        ),
        .init(
            "plain.outbound_url", \.plain.outboundURL, expected: "an http or https URL where the bridge receives replies",
            parse: { $0.hasPrefix("http://") || $0.hasPrefix("https://") ? String??.some($0) : nil }, format: { $0 }
        ),
        .init(
            "plain.team_rooms", \.plain.teamRooms, expected: "room ids separated by commas",
            parse: { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } },
            format: { $0.joined(separator: ",") }
        ),
        .init(
            "irc.server", \.irc.server, expected: "the IRC server's host name, such as irc.school.example",
            parse: { $0.isEmpty ? String??.none : ($0.contains(where: { $0 == " " || $0 == "/" }) ? nil : .some($0)) }, format: { $0 }
        ),
        .init(
            "irc.port", \.irc.port, expected: "a port number from 1 to 65535 (6697 for TLS, 6667 plain)",
            parse: { ConfigurationValue.integer($0, in: 1...65535) }, format: { String($0) }
        ),
        .init(
            "irc.tls", \.irc.tls, expected: "true or false: TLS to the IRC server (false only for a server on this machine)",
            parse: { ["true": true, "false": false][$0.lowercased()] }, format: { String($0) }
        ),
        .init(
            "irc.nick", \.irc.nick, expected: "a nick of letters, digits and -_[]\\`^{}|, not starting with a digit or -, up to 30 characters",
            parse: { IRCIdentifiers.isNick($0) ? $0 : nil }, format: { $0 }
        ),
        .init(
            "irc.server_password", \.irc.serverPassword, expected: "the server's connection password (PASS)", isSecret: true,
            parse: { $0.isEmpty ? String??.none : ($0.contains(where: { $0 == "\r" || $0 == "\n" || $0 == " " }) ? nil : .some($0)) }, format: { $0 }
        ),
        .init(
            "irc.sasl_account", \.irc.saslAccount, expected: "the bot's services account for SASL PLAIN",
            parse: { $0.isEmpty ? String??.none : ($0.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) ? nil : .some($0)) }, format: { $0 }
        ),
        .init(
            "irc.sasl_password", \.irc.saslPassword, expected: "the bot account's password for SASL PLAIN", isSecret: true,
            parse: { $0.isEmpty ? String??.none : ($0.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) ? nil : .some($0)) }, format: { $0 }
        ),
        .init(
            "irc.team_channels", \.irc.teamChannels, expected: "channels separated by commas, such as #team-wiskunde",
            parse: { text in
                let channels = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                return channels.allSatisfy(IRCIdentifiers.isChannel) ? channels : nil
            },
            format: { $0.joined(separator: ",") }
        ),
        .init(
            "irc.identity", \.irc.identity, expected: "auto, account or nick: who a teacher is in a private message",
            parse: { SpiegelConfiguration.IRC.Identity(rawValue: $0.lowercased()) }, format: { $0.rawValue }
        ),
        .init(
            "mattermost.token", \.mattermost.token, expected: "the outgoing webhook's token", isSecret: true,
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
        .init(
            "mattermost.incoming_webhook_url", \.mattermost.incomingWebhookURL, expected: "the http or https URL of the incoming webhook for replies",
            parse: { $0.hasPrefix("http://") || $0.hasPrefix("https://") ? String??.some($0) : nil }, format: { $0 }
        ),
        .init(
            "mattermost.room_webhook_urls", \.mattermost.roomWebhookURLs,
            expected: "room=URL pairs separated by commas, such as \"@an=https://hooks.example/a, @bert=https://hooks.example/b\"",
            parse: { text in
                var map: [String: String] = [:]
                for pair in text.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("http://") || parts[1].hasPrefix("https://") else { return nil }
                    map[parts[0]] = parts[1]
                }
                return map
            },
            format: { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        ),
        .init(
            "mattermost.username", \.mattermost.username, expected: "the name replies are posted under",
            parse: ConfigurationValue.nonEmpty, format: { $0 }
        ),
        .init(
            "mattermost.team_channels", \.mattermost.teamChannels, expected: "channel ids or names separated by commas",
            parse: { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } },
            format: { $0.joined(separator: ",") }
        ),
        .init(
            "matrix.homeserver_url", \.matrix.homeserverURL, expected: "the http or https URL of the homeserver's client-server API",
            parse: { $0.hasPrefix("http://") || $0.hasPrefix("https://") ? String??.some($0) : nil }, format: { $0 }
        ),
        .init(
            "matrix.registration_file", \.matrix.registrationFile, expected: "the path of the application-service registration file",
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
        .init(
            "matrix.access_token", \.matrix.accessToken, expected: "the bot account's access token", isSecret: true,
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
        .init(
            "matrix.user_id", \.matrix.userID, expected: "a Matrix user id such as @spiegel:school.example",
            parse: { $0.isEmpty ? String??.none : (MatrixIdentifiers.isUserID($0) ? .some($0) : nil) }, format: { $0 }
        ),
        .init(
            "matrix.team_rooms", \.matrix.teamRooms, expected: "room ids separated by commas, such as !abc:school.example",
            parse: { text in
                let rooms = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                return rooms.allSatisfy { $0.hasPrefix("!") && $0.contains(":") } ? rooms : nil
            },
            format: { $0.joined(separator: ",") }
        ),
        .init(
            "matrix.ignored_users", \.matrix.ignoredUsers, expected: "Matrix user ids separated by commas",
            parse: { text in
                let users = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                return users.allSatisfy(MatrixIdentifiers.isUserID) ? users : nil
            },
            format: { $0.joined(separator: ",") }
        ),
        .init(
            "matrix.typing_after", \.matrix.typingAfter, expected: "a duration such as 250ms, or 0 to show typing for every message",
            parse: { text in Int(text.filter(\.isNumber)) == 0 && text.first == "0" ? Duration.zero : ConfigurationValue.duration(text) },
            format: { $0 == .zero ? "0ms" : ConfigurationValue.formatDuration($0) }
        ),
        .init(
            "matrix.encryption", \.matrix.encryption, expected: "prefer, require or off: end-to-end encryption in direct chats",
            parse: { SpiegelConfiguration.Matrix.Encryption(rawValue: $0.lowercased()) }, format: { $0.rawValue }
        ),
        .init(
            "tryout.enabled", \.tryout.enabled, expected: "true or false: the try-out chat in a browser at / (on in the built-in defaults, off once a configuration file is read unless it says true)",
            parse: { ["true": true, "false": false][$0.lowercased()] }, format: { String($0) }
        ),
        .init(
            "tryout.allow_remote", \.tryout.allowRemote, expected: "true or false: offer the try-out chat when server.host is not a loopback address",
            parse: { ["true": true, "false": false][$0.lowercased()] }, format: { String($0) }
        ),
        .init(
            "teams.file", \.teams.file, expected: "the path of the teams file (YAML)",
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
        .init(
            "teams.grace", \.teams.grace, expected: "a duration such as 12h: how late a missed reminder is still sent",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "teams.tick", \.teams.tick, expected: "a duration such as 30s: how often due reminders are looked for",
            parse: ConfigurationValue.duration, format: ConfigurationValue.formatDuration
        ),
        .init(
            "vault.master_key", \.vaultMasterKey, expected: "a master key: 32 bytes of base64", isSecret: true,
            parse: { $0.isEmpty ? String??.none : .some($0) }, format: { $0 }
        ),
    ]
}

extension ConfigurationKey {
    /// A chat user id as a key may name one: not empty, no spaces, not the bot's reserved
    /// `spiegel:` names. Each transport has its own form (`@an:school.example` in Matrix,
    /// `mattermost:<user id>`, whatever a plain bridge sends), so no form is imposed.
    static func isUserID(_ text: String) -> Bool {
        !text.isEmpty && !text.contains(where: \.isWhitespace) && !text.hasPrefix("spiegel:")
    }
}
