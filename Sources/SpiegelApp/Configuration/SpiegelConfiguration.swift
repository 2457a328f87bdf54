public import Logging
public import SpiegelChat
public import SpiegelCoach

/// Everything a Spiegel process is configured with.
///
/// Every value has a built-in default that runs on one machine with no chat server; a YAML file
/// (``ConfigurationLoader``) and `SPIEGEL_…` environment variables override them.
public struct SpiegelConfiguration: Sendable {
    /// Where the HTTP server listens.
    public struct Server: Sendable {
        /// The address to bind; `127.0.0.1` keeps the bot off the network until asked.
        public var host: String = "127.0.0.1"
        /// The TCP port; 0 lets the kernel pick one.
        public var port: Int = 8080
        /// Connections served at once; one beyond gets 503 with `Retry-After` at its first request
        /// (`/healthz` and `/readyz` are still answered). Keep it well under the process's open-file
        /// limit (`LimitNOFILE` in the unit).
        public var maxConnections: Int = 2048
        /// How long a connection may sit without a whole request head: before its first request
        /// (half a header counts as none) and between requests. Then it is closed.
        public var idleTimeout: Duration = .seconds(15)

        public init() {}
    }

    /// The directory that holds every coachee's vault and the bot's state.
    public var dataDirectory: String = "./.spiegel-data"
    /// The directory of dialogue graphs (`*.yaml`) and conversation scripts (`conversations/`).
    public var promptsDirectory: String = "./Prompts"
    /// The inbound HTTP server.
    public var server = Server()
    /// The least severe level that is logged.
    public var logLevel: Logger.Level = .info
    /// The outbound HTTP client.
    public var httpClient = CurlHTTPClient.Configuration()
    /// The master key file of the vault (mode 0600). Unset on the built-in defaults, where
    /// `./.spiegel-master.key` is made on first start.
    public var vaultKeyFile: String?
    /// The vault's master key as base64; a secret, meant for the environment
    /// (`SPIEGEL_VAULT_MASTER_KEY`) or a systemd credential, not the file.
    public var vaultMasterKey: String?

    /// How the coaching service treats sessions, floods and long messages.
    public var coach = CoachConfiguration()

    /// The plain webhook protocol (`docs/plain-protocol.md`): on when both the secret and the
    /// outbound URL are set.
    public struct PlainWebhook: Sendable {
        /// The secret shared with the bridge; a secret, meant for the environment.
        public var secret: String?
        /// Where replies are POSTed.
        public var outboundURL: String?
        /// Rooms shared by a team: Spiegel does not coach there and sends no conversation there.
        public var teamRooms: [String] = []

        public init() {}
    }

    /// The plain webhook protocol.
    public var plain = PlainWebhook()

    /// IRC: on when ``IRC/server`` is set.
    public struct IRC: Sendable {
        /// Who a teacher is in a private message.
        public enum Identity: String, Sendable {
            /// Their services account (`account-tag`) where the server offers it, else their nick.
            case auto
            /// Their account only: a message from someone not logged in is answered, not kept.
            case account
            /// Their nick (a server without accounts; anyone can take a free nick).
            case nick
        }

        /// The server's host name.
        public var server: String?
        public var port = 6697
        /// TLS; plain only for a server on the same machine.
        public var tls = true
        public var nick = "spiegel"
        /// The server's password (`PASS`); a secret.
        public var serverPassword: String?
        /// SASL PLAIN for the bot's own account; the password is a secret.
        public var saslAccount: String?
        public var saslPassword: String?
        /// Team channels: joined at connect, reminders go there, no coaching there.
        public var teamChannels: [String] = []
        public var identity = Identity.auto

        public init() {}
    }

    /// IRC.
    public var irc = IRC()

    /// The Mattermost/Slack-compatible webhooks: on when both the token and the incoming-webhook
    /// URL are set.
    public struct Mattermost: Sendable {
        /// The outgoing webhook's token; a secret, meant for the environment.
        public var token: String?
        /// The incoming webhook replies are posted to.
        public var incomingWebhookURL: String?
        /// Incoming webhooks of their own for some rooms (Slack binds a webhook to one channel):
        /// room to URL; the rest use ``incomingWebhookURL``.
        public var roomWebhookURLs: [String: String] = [:]
        /// The name replies are posted under; messages by this name are ignored.
        public var username = "Spiegel"
        /// Team channels (ids or names): no coaching there, and no conversation is sent there.
        public var teamChannels: [String] = []

        public init() {}
    }

    /// The Mattermost/Slack-compatible webhooks.
    public var mattermost = Mattermost()

    /// Matrix: as an application service (``registrationFile``) or as a bot account that syncs
    /// (``accessToken``); on when the homeserver URL and one of the two are set.
    public struct Matrix: Sendable {
        /// The homeserver's client-server API, such as `https://matrix.school.example`.
        public var homeserverURL: String?
        /// The application-service registration (made by `spiegel matrix registration`): the
        /// homeserver pushes events; `as_token` and `hs_token` are read from it.
        public var registrationFile: String?
        /// A bot account's access token for `/sync` mode; a secret, meant for the environment.
        public var accessToken: String?
        /// The bot's user id; needed in application-service mode, checked against the homeserver's
        /// answer in `/sync` mode.
        public var userID: String?
        /// Team rooms (room ids): no coaching there, and no conversation is sent there.
        public var teamRooms: [String] = []
        /// Other bots, whose messages are ignored (notices, `m.notice`, are always ignored).
        public var ignoredUsers: [String] = []
        /// A message that takes longer than this is marked read and the bot shows "typing…";
        /// zero does so for every message.
        public var typingAfter: Duration = .milliseconds(250)
        /// End-to-end encryption.
        public var encryption: Encryption = .prefer

        /// Whether the bot reads and writes end-to-end encrypted rooms.
        public enum Encryption: String, Sendable, CaseIterable {
            /// Encrypted and unencrypted direct chats are both coached.
            case prefer
            /// An unencrypted direct chat gets one explanation and no coaching.
            case require
            /// No encryption: an encrypted room gets one notice that the bot cannot read it.
            case off
        }

        public init() {}
    }

    /// Matrix.
    public var matrix = Matrix()

    /// Teams, their rooms and their reminders (see ``TeamsFile``).
    public struct Teams: Sendable {
        /// The YAML file of the teams; none means no team reminders.
        public var file: String?
        /// A reminder missed (the process was down) is still sent this long after it was due;
        /// older ones are dropped and logged.
        public var grace: Duration = .seconds(12 * 3600)
        /// How often the scheduler looks for due reminders.
        public var tick: Duration = .seconds(30)

        public init() {}
    }

    /// Teams.
    public var teams = Teams()

    /// The try-out chat in a browser at `/`: one page, for trying Spiegel out and for a coach
    /// previewing their Prompts.
    public struct Tryout: Sendable {
        /// Whether `serve` offers it. On in the built-in defaults; once a configuration file is
        /// read, off unless the file (or `SPIEGEL_TRYOUT_ENABLED`) says `true`.
        public var enabled = true
        /// Whether it may be offered when `server.host` is not a loopback address: anyone who
        /// reaches the port could then hold a conversation that is kept in the vault.
        public var allowRemote = false

        public init() {}
    }

    public var tryout = Tryout()

    /// Coachees with nothing newer than this are erased whole; `nil` keeps everything.
    public var vaultRetention: Duration?

    /// Whether `serve` offers the try-out chat: enabled, and on a loopback address unless
    /// `tryout.allow_remote` says otherwise.
    public var offersTryout: Bool {
        self.tryout.enabled && (self.tryout.allowRemote || Self.isLoopback(self.server.host))
    }

    /// Whether `host` reaches this machine only: `127.0.0.0/8`, `::1` or `localhost` (the try-out
    /// chat is offered there; IRC without TLS is accepted there).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The vault's directory inside the data directory.
    public var vaultDirectory: String { self.dataDirectory + "/vault" }

    /// The built-in defaults.
    public init() {}
}

extension SpiegelConfiguration {
    /// What breaks a rule between keys (each half of a webhook pair is useless without the other):
    /// `serve` refuses to start on any, `doctor` lists them.
    public var ruleViolations: [String] {
        var violations: [String] = []
        if (self.plain.secret == nil) != (self.plain.outboundURL == nil) {
            violations.append("the plain webhook needs both plain.secret and plain.outbound_url (or neither)")
        }
        if (self.irc.saslAccount == nil) != (self.irc.saslPassword == nil) {
            violations.append("SASL needs both irc.sasl_account and irc.sasl_password (or neither)")
        }
        if self.irc.server == nil, self.irc.saslAccount != nil || !self.irc.teamChannels.isEmpty {
            violations.append("irc.sasl_account and irc.team_channels need irc.server")
        }
        if (self.mattermost.token == nil) != (self.mattermost.incomingWebhookURL == nil) {
            violations.append("the Mattermost webhooks need both mattermost.token and mattermost.incoming_webhook_url (or neither)")
        }
        return violations
    }
}
