import Foundation

/// The files a test homeserver runs on, written into its directory.
///
/// Written as JSON, which YAML reads as it is: no quoting rules to get wrong for paths.
struct SynapseConfiguration {
    let directory: URL
    let serverName: String
    let port: Int
    let registrationSharedSecret: String
    let appserviceRegistrationFiles: [String]

    var configurationFile: URL { self.directory.appendingPathComponent("homeserver.yaml") }
    var logConfigurationFile: URL { self.directory.appendingPathComponent("log.yaml") }
    var signingKeyFile: URL { self.directory.appendingPathComponent("signing.key") }
    var launcherFile: URL { self.directory.appendingPathComponent("launcher.py") }
    var logFile: URL { self.directory.appendingPathComponent("homeserver.log") }
    var stdoutFile: URL { self.directory.appendingPathComponent("stdout.log") }

    /// Every rate limit Synapse has (`synapse/config/ratelimiting.py`), raised far beyond what a
    /// test or a benchmark of some hundred messages does.
    static var relaxedRateLimits: [String: Any] {
        let relaxed: [String: Any] = ["per_second": 1000, "burst_count": 1000]
        var limits: [String: Any] = [:]
        for key in [
            "rc_message", "rc_registration", "rc_registration_token_validity", "rc_admin_redaction",
            "rc_joins_per_room", "rc_key_requests", "rc_3pid_validation", "rc_third_party_invite",
            "rc_media_create", "rc_delayed_event_mgmt", "rc_room_creation", "rc_reports",
            "rc_user_directory", "rc_profile",
        ] {
            limits[key] = relaxed
        }
        limits["rc_login"] = ["address": relaxed, "account": relaxed, "failed_attempts": relaxed]
        limits["rc_joins"] = ["local": relaxed, "remote": relaxed]
        limits["rc_invites"] = ["per_room": relaxed, "per_user": relaxed, "per_issuer": relaxed]
        limits["rc_presence"] = ["per_user": relaxed]
        return limits
    }

    /// Writes `homeserver.yaml`, `log.yaml` and the launcher, and a signing key unless one is
    /// there already.
    func write() throws {
        let path = self.directory.path
        var config: [String: Any] = [
            "server_name": self.serverName,
            "pid_file": path + "/homeserver.pid",
            "listeners": [
                [
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": false,
                    "x_forwarded": false,
                    "resources": [["names": ["client"], "compress": false]],
                ] as [String: Any]
            ],
            "database": ["name": "sqlite3", "args": ["database": path + "/homeserver.db"]] as [String: Any],
            "log_config": self.logConfigurationFile.path,
            "media_store_path": path + "/media",
            "signing_key_path": self.signingKeyFile.path,
            "registration_shared_secret": self.registrationSharedSecret,
            "macaroon_secret_key": SynapseHTTP.randomHex(bytes: 32),
            "form_secret": SynapseHTTP.randomHex(bytes: 32),
            "report_stats": false,
            "enable_registration": false,
            "trusted_key_servers": [] as [Any],
            "suppress_key_server_warning": true,
            "app_service_config_files": self.appserviceRegistrationFiles,
            "presence": ["enabled": false],
            // To-device messages, device lists and one-time key counts pushed to application
            // services (end-to-end encryption), as docs/configuration.md asks of administrators.
            "experimental_features": ["msc2409_to_device_messages_enabled": true, "msc3202_transaction_extensions": true],
        ]
        config.merge(Self.relaxedRateLimits) { $1 }
        try Self.writeJSON(config, to: self.configurationFile)

        let logConfig: [String: Any] = [
            "version": 1,
            "formatters": ["precise": ["format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"]],
            "handlers": [
                "file": [
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": self.logFile.path,
                ]
            ],
            "root": ["level": "WARNING", "handlers": ["file"]] as [String: Any],
            "disable_existing_loggers": false,
        ]
        try Self.writeJSON(logConfig, to: self.logConfigurationFile)
        try Data(Self.launcher.utf8).write(to: self.launcherFile)

        if !FileManager.default.fileExists(atPath: self.signingKeyFile.path) {
            try Data(Self.signingKey().utf8).write(to: self.signingKeyFile)
        }
    }

    /// A fresh ed25519 key in Synapse's format: `ed25519 <key id> <unpadded base64 seed>`. Any
    /// 32 random bytes are a valid seed; writing it here saves a Python start.
    static func signingKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let base64 = Data(seed).base64EncodedString().replacingOccurrences(of: "=", with: "")
        return "ed25519 a_\(SynapseHTTP.randomHex(bytes: 2)) \(base64)\n"
    }

    /// Runs `synapse.app.homeserver` as `python -m` would, with a watchdog thread that stops
    /// Synapse when the process that started it is gone (a crashed test), so none is left behind.
    ///
    /// It first unblocks every signal: a child inherits the signal mask of the thread that spawned
    /// it, and Swift's worker threads block SIGTERM, which would leave Synapse deaf to ``stop()``.
    static let launcher = """
        import os, runpy, signal, sys, threading, time

        signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
        sys.argv[0] = "synapse.app.homeserver"
        runpy.run_module("synapse.app.homeserver", run_name="__main__", alter_sys=True)

        """

    private static func writeJSON(_ object: [String: Any], to file: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try data.write(to: file)
    }
}
