import Foundation
import Logging
import SpiegelChat
import SpiegelVault

/// What `spiegel doctor` found: a printable report and the problems that stop Spiegel from
/// working as configured. Secrets are shown only as set or not set.
public struct DoctorReport: Sendable {
    /// The report, line by line.
    public var lines: [String] = []
    /// Things to fix before Spiegel can run as configured; empty when all is well.
    public var problems: [String] = []
    /// Things that work but deserve a look.
    public var warnings: [String] = []

    /// The whole report as text, ending with the problems and warnings.
    public var text: String {
        var all = self.lines
        all.append("")
        if self.problems.isEmpty {
            all.append("No problems found.")
        } else {
            all.append("Problems:")
            all += self.problems.map { "  - \($0)" }
        }
        if !self.warnings.isEmpty {
            all.append("Warnings:")
            all += self.warnings.map { "  - \($0)" }
        }
        return all.joined(separator: "\n")
    }
}

/// Examines a configuration and the machine it is to run on.
public enum Doctor {
    /// Checks the configuration, the data directory, the CA bundle and libcurl.
    public static func examine(_ loaded: LoadedConfiguration) -> DoctorReport {
        var report = DoctorReport()
        let configuration = loaded.configuration
        report.lines.append("Configuration: \(loaded.file ?? "built-in defaults (no \(ConfigurationLoader.defaultFile))")")
        let width = ConfigurationKey.all.map(\.path.count).max() ?? 0
        for key in ConfigurationKey.all {
            let value = key.value(in: configuration)
            let shown = key.isSecret ? (value == nil ? "(not set)" : "(set)") : value.map(Self.maskingURLPath) ?? "(not set)"
            let padding = String(repeating: " ", count: width - key.path.count)
            report.lines.append("  \(key.path)\(padding)  \(shown)  [\(loaded.origin(of: key))]")
        }
        report.problems += configuration.ruleViolations
        self.examineDataDirectory(configuration.dataDirectory, into: &report)
        self.examineVault(configuration, into: &report)
        self.examineServer(configuration.server, into: &report)
        self.examineHTTPClient(configuration.httpClient, into: &report)
        self.examineMatrix(configuration.matrix, into: &report)
        self.examineIRC(configuration.irc, into: &report)
        self.examineTryout(configuration, into: &report)
        if let file = configuration.teams.file {
            do {
                let teams = try TeamsFile.load(path: file).teams
                report.lines.append("Teams: \(teams.count) in \(file)")
            } catch {
                report.problems.append("\(error)")
            }
        }
        return report
    }

    private static func examineTryout(_ configuration: SpiegelConfiguration, into report: inout DoctorReport) {
        guard configuration.tryout.enabled else { return }
        if configuration.offersTryout {
            report.lines.append("Try-out chat: at / on \(configuration.server.host):\(configuration.server.port)")
            if !SpiegelConfiguration.isLoopback(configuration.server.host) {
                report.warnings.append("tryout.allow_remote is true on \(configuration.server.host): anyone who reaches the port can hold a conversation that is kept in the vault")
            }
        } else {
            report.warnings.append("tryout.enabled is true but server.host \(configuration.server.host) is not a loopback address: the try-out chat is not offered unless tryout.allow_remote is true")
        }
    }

    private static func examineIRC(_ irc: SpiegelConfiguration.IRC, into report: inout DoctorReport) {
        guard let server = irc.server else { return }
        report.lines.append("IRC: \(server):\(irc.port), \(irc.tls ? "TLS" : "no TLS"), nick \(irc.nick), identity \(irc.identity.rawValue)")
        if !irc.tls && !SpiegelConfiguration.isLoopback(server) {
            report.problems.append("irc.tls is false for \(server): teachers' words would cross the network in the clear; use TLS (port 6697), or a server on this machine")
        }
        if irc.tls && irc.port == 6667 {
            report.warnings.append("irc.port 6667 is usually IRC without TLS; with irc.tls: true the server probably listens on 6697")
        }
        if irc.identity == .nick {
            report.warnings.append(
                "irc.identity is nick: whoever takes a teacher's nick while they are away can read their conversation (\"mijn gegevens\"); use a server with accounts and irc.identity auto or account"
            )
        }
        if irc.saslAccount == nil {
            report.warnings.append("no irc.sasl_account: the bot's nick is not protected by an account, another client can take it while Spiegel is away")
        }
    }

    private static func examineMatrix(_ matrix: SpiegelConfiguration.Matrix, into report: inout DoctorReport) {
        let settings: MatrixSettings?
        do {
            settings = try MatrixSettings(matrix)
        } catch {
            report.problems.append("\(error)")
            return
        }
        guard let settings else { return }
        if let file = matrix.registrationFile, settings.registration != nil,
            let mode = (try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? Int, mode & 0o004 != 0
        {
            report.problems.append("the registration file \(file) holds secrets but anyone can read it: chmod 640 (owner and the homeserver's group)")
        }
        report.lines.append("Matrix: " + (settings.registration == nil ? "a bot account over /sync" : "an application service") + " at \(Self.maskingURLPath(settings.homeserverURL))")
        report.lines.append("Matrix end-to-end encryption: \(matrix.encryption.rawValue)")
        if matrix.encryption != .off, let registration = settings.registration, !registration.receivesDeviceMessages {
            report.problems.append(
                "end-to-end encryption needs receive_ephemeral: true and \"org.matrix.msc3202\": true in the registration file \(matrix.registrationFile ?? ""), and in Synapse's homeserver.yaml experimental_features msc2409_to_device_messages_enabled: true and msc3202_transaction_extensions: true (docs/configuration.md, \"Matrix encryption\"); or set matrix.encryption: off"
            )
        }
    }

    /// A URL with its path and query hidden: webhook URLs carry their secret in the path
    /// (`https://chat.example/hooks/3f9a…`). Anything that is not such a URL is shown as it is.
    static func maskingURLPath(_ value: String) -> String {
        guard let components = URLComponents(string: value), let scheme = components.scheme, ["http", "https"].contains(scheme.lowercased()),
              let host = components.host else { return value }
        let hidden = !(components.path.isEmpty || components.path == "/") || components.query != nil
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)" + (hidden ? "/… (path hidden)" : components.path)
    }

    private static func examineDataDirectory(_ path: String, into report: inout DoctorReport) {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        report.lines.append("Data directory: \(absolute)")
        let directory = DataDirectory(path: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            // `serve` creates missing parents too: the nearest one that exists decides.
            var ancestor = URL(fileURLWithPath: absolute).deletingLastPathComponent()
            while !FileManager.default.fileExists(atPath: ancestor.path), ancestor.path != "/" {
                ancestor.deleteLastPathComponent()
            }
            var ancestorIsDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &ancestorIsDirectory)
            if ancestorIsDirectory.boolValue && FileManager.default.isWritableFile(atPath: ancestor.path) {
                report.lines.append("  does not exist yet; created with mode 0700 on first start")
            } else {
                report.problems.append("data directory \(absolute) does not exist and cannot be created under \(ancestor.path): create it, owned by the service user, mode 0700")
            }
            return
        }
        guard isDirectory.boolValue else {
            report.problems.append("data directory \(absolute) is not a directory")
            return
        }
        let writable = directory.isWritable()
        report.lines.append("  exists, \(writable ? "writable" : "NOT writable")\(directory.isOpenToOthers ? ", open to group or others" : ", mode keeps others out")")
        if !writable {
            report.problems.append("data directory \(absolute) is not writable by this user")
        }
        if directory.isOpenToOthers {
            report.problems.append("data directory \(absolute) lets group or others in: run chmod 700 on it")
        }
    }

    private static func examineVault(_ configuration: SpiegelConfiguration, into report: inout DoctorReport) {
        report.lines.append("Vault: \(configuration.vaultDirectory)")
        let isBuiltInDefault = configuration.vaultMasterKey == nil && configuration.vaultKeyFile == nil
            && VaultKeys.keyFile(for: configuration) == VaultKeys.defaultKeyFile
        if isBuiltInDefault && !FileManager.default.fileExists(atPath: VaultKeys.defaultKeyFile) {
            report.lines.append("  master key: none yet; `spiegel serve` makes \(VaultKeys.defaultKeyFile) on first start (fine for trying out)")
            report.warnings.append("the master key will sit beside the data directory: in production set vault.key_file or SPIEGEL_VAULT_MASTER_KEY")
            return
        }
        let resolved: ResolvedMasterKey
        do {
            resolved = try VaultKeys.resolve(configuration, create: false, logger: Logger(label: "spiegel.doctor"))
        } catch {
            report.problems.append(error.message)
            return
        }
        report.lines.append("  master key: \(resolved.source)")
        if isBuiltInDefault {
            report.warnings.append("the master key sits beside the data directory (\(VaultKeys.defaultKeyFile)): in production keep it elsewhere and out of the data backups")
        }
        do {
            switch try Vault.keyFits(directory: configuration.vaultDirectory, masterKey: resolved.key, previousKey: resolved.previous) {
            case nil:
                report.lines.append("  not created yet; made on first start")
            case true?:
                report.lines.append("  the key opens the vault, which holds \(try Vault.coacheeCount(directory: configuration.vaultDirectory)) coachee journal(s)")
            case false?:
                report.problems.append("the configured master key does not open the vault at \(configuration.vaultDirectory): it was made with another key")
            }
        } catch {
            report.problems.append(error.message)
        }
    }

    private static func examineServer(_ server: SpiegelConfiguration.Server, into report: inout DoctorReport) {
        report.lines.append("HTTP server: http://\(server.host):\(server.port)")
        if server.port != 0 && server.port < 1024 && geteuid() != 0 {
            report.problems.append("server.port \(server.port) needs root; use a port above 1023 behind a reverse proxy")
        }
        if !["127.0.0.1", "::1", "localhost"].contains(server.host) {
            report.warnings.append("server.host \(server.host) is reachable from other machines: put a TLS reverse proxy in front")
        }
    }

    private static func examineHTTPClient(_ client: CurlHTTPClient.Configuration, into report: inout DoctorReport) {
        let tls = CurlHTTPClient.libcurlSupportsTLS
        report.lines.append("HTTP client: \(CurlHTTPClient.libcurlVersion)\(tls ? "" : " (no TLS)")")
        if !tls {
            report.problems.append("libcurl has no TLS support: install libcurl4-openssl-dev and rebuild")
        }
        if let bundle = client.caBundlePath, !FileManager.default.isReadableFile(atPath: bundle) {
            report.problems.append("http_client.ca_bundle \(bundle) is not a readable file")
        }
    }
}
