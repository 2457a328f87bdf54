public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong in the IRC harness: a server that is missing, would not start or stopped
/// answering, or a script command that failed, with the tail of the logs where that helps.
public struct IRCHarnessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}

/// A real IRC server on 127.0.0.1 for end-to-end tests: ngIRCd (plain IRC, the nick is the
/// identity) or InspIRCd with the IRCv3 capabilities and SASL PLAIN through atheme-services.
/// The Debian packages `ngircd`, `inspircd` and `atheme-services` (`make test` installs them).
///
/// Each server runs in the foreground from a fresh temporary ``directory`` holding its generated
/// configuration and its logs (`ngircd.log`; `inspircd.out`, `ircd.log`, `atheme.out`,
/// `atheme.log`), on free loopback ports that stay the same across ``restart()``. It is started
/// with an empty signal mask and default signal dispositions whatever the test process blocks or
/// ignores, so SIGTERM stops it; each server process has a watchdog that kills it when the test
/// process dies without stopping it.
///
/// What the servers do (measured in the research behind this harness): ngIRCd 26.1 offers only
/// `multi-prefix`, relays 3 lines a second from one client, cuts relayed lines at 512 bytes (with
/// `[CUT]`), disconnects a client for a line of 513 to 2048 bytes and wedges on a longer one;
/// nicks are at most 9 characters. InspIRCd 3.15 completes each registration about 1 s after
/// NICK/USER (or CAP END), holds back bursts of more than about 10 lines (1 line a second after
/// that, fake lag), silently cuts lines over 512 bytes and offers `sasl` only while atheme is
/// linked: about 1 s after a restart of the ircd.
///
/// Call ``stop()`` when done: it stops the processes and removes the directory. A server that is
/// deinitialized while running is killed and its directory removed.
public final class IRCTestServer: Sendable {
    /// The IRC daemon a server runs.
    public enum Software: String, Sendable {
        /// ngIRCd: no capabilities beyond `multi-prefix`, no SASL.
        case ngircd
        /// InspIRCd with IRCv3 capabilities and SASL PLAIN through atheme-services.
        case inspircd
    }

    /// The daemon this server runs.
    public let software: Software
    /// The server's name, the source of its numerics (`irc.test`, `irc.test.local`).
    public let name: String
    /// The address it listens on.
    public var host: String { "127.0.0.1" }
    /// The client port on ``host``, the same across restarts.
    public let port: Int
    /// The temporary directory of the configuration and logs; removed by ``stop()``.
    public let directory: URL
    /// The SASL accounts (name → password) atheme knows; empty for ngIRCd.
    public let accounts: [String: String]

    /// InspIRCd's port for the services link (atheme connects to it); 0 for ngIRCd.
    private let linkPort: Int
    private let ircd = Mutex<IRCServerProcess?>(nil)
    private let services = Mutex<IRCServerProcess?>(nil)
    private let stopped = Mutex(false)

    static let ngircdPath = "/usr/sbin/ngircd"
    static let inspircdPath = "/usr/sbin/inspircd"
    static let athemePath = "/usr/bin/atheme-services"

    private init(software: Software, name: String, accounts: [String: String], port: Int, linkPort: Int) throws {
        self.software = software
        self.name = name
        self.accounts = accounts
        self.port = port
        self.linkPort = linkPort
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("spiegel-\(software.rawValue)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        // As root, ngIRCd switches to `nobody` after reading its configuration and then writes
        // its pid file here; the others do not switch, but a writable directory does no harm.
        chmod(self.directory.path, 0o777)
    }

    deinit {
        self.ircd.withLock { $0 }?.forceKill()
        self.services.withLock { $0 }?.forceKill()
        if !self.stopped.withLock({ $0 }) {
            try? FileManager.default.removeItem(at: self.directory)
        }
    }

    // MARK: - Starting

    /// Starts ngIRCd 26.1 on a free loopback port and returns once the port accepts connections
    /// (about 10 ms). No SASL and no IRCv3 capabilities except `multi-prefix`: a nick is all the
    /// identity there is. Its configuration is ngIRCd's defaults except: listening on 127.0.0.1
    /// only, no DNS, ident or PAM, and no limit of connections per address.
    /// - Parameter name: the server's name (it must contain a dot).
    /// - Throws: ``IRCHarnessError`` when ngIRCd is not installed or does not start.
    /// - Parameter tls: also listen with TLS on ``tlsPort``, with a self-signed certificate for
    ///   127.0.0.1 made for this server (``certificate``, valid two days), made with `openssl`.
    public static func ngircd(name: String = "irc.test", tls: Bool = false) async throws -> IRCTestServer {
        try Self.requireBinary(Self.ngircdPath, package: "ngircd")
        if tls { try Self.requireBinary(Self.opensslPath, package: "openssl") }
        return try await Self.launch {
            let ports = try Self.freeLoopbackPorts(tls ? 2 : 1)
            let server = try IRCTestServer(software: .ngircd, name: name, accounts: [:], port: ports[0], linkPort: tls ? ports[1] : 0)
            if tls { try server.makeCertificate() }
            try server.writeNgircdConfiguration()
            return server
        }
    }

    /// The TLS port of an ngIRCd started with `tls: true`.
    public var tlsPort: Int? { self.software == .ngircd && self.linkPort != 0 ? self.linkPort : nil }

    /// The self-signed certificate (PEM) of an ngIRCd started with `tls: true`: the one CA a client
    /// must trust.
    public var certificate: URL { self.file("cert.pem") }

    static let opensslPath = "/usr/bin/openssl"

    /// A key and a self-signed certificate for 127.0.0.1, readable by the server after it drops root.
    private func makeCertificate() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.opensslPath)
        process.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", self.file("key.pem").path, "-out", self.file("cert.pem").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw IRCHarnessError("openssl could not make a test certificate") }
        chmod(self.file("key.pem").path, 0o644)
        chmod(self.file("cert.pem").path, 0o644)
    }

    /// Starts InspIRCd 3.15 with the IRCv3 capabilities `cap-notify`, `server-time`,
    /// `message-tags`, `echo-message`, `labeled-response` (with `batch`), `account-tag`,
    /// `account-notify`, `extended-join`, `away-notify`, `msgid` and `sasl`, linked to
    /// atheme-services for SASL PLAIN; returns once a client's `CAP LS 302` lists `sasl` (at most
    /// 15 s). Clients register about 1 s after NICK/USER or CAP END.
    /// - Parameter accounts: the SASL accounts (name → password) atheme knows from the start;
    ///   names are nicks, passwords have no white space.
    /// - Throws: ``IRCHarnessError`` when InspIRCd or atheme-services is not installed, an
    ///   account cannot be written, or the servers do not start or link.
    public static func inspircd(accounts: [String: String]) async throws -> IRCTestServer {
        try Self.requireBinary(Self.inspircdPath, package: "inspircd")
        try Self.requireBinary(Self.athemePath, package: "atheme-services")
        try Self.validate(accounts)
        return try await Self.launch {
            let ports = try Self.freeLoopbackPorts(2)
            let server = try IRCTestServer(software: .inspircd, name: "irc.test.local", accounts: accounts, port: ports[0], linkPort: ports[1])
            try server.writeInspircdConfiguration()
            try server.writeAthemeConfiguration()
            return server
        }
    }

    /// Makes a server with `make` and starts it; with new ports when one turned out to be taken
    /// (another process may take a free port before the server binds it), at most 3 times.
    private static func launch(_ make: () throws -> IRCTestServer) async throws -> IRCTestServer {
        var attempt = 1
        while true {
            let server = try make()
            do {
                try await server.start()
                return server
            } catch is PortTaken where attempt < 3 {
                await server.stop()
                attempt += 1
            } catch let failure as PortTaken {
                await server.stop()
                throw IRCHarnessError(failure.message)
            } catch {
                await server.stop()
                throw error
            }
        }
    }

    /// A start that failed because a port was not the server's: worth another try on new ports.
    private struct PortTaken: Error {
        let message: String
    }

    private static func requireBinary(_ path: String, package: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw IRCHarnessError(
                "The IRC tests need \(path), which is not installed: `make test` installs the Debian package \(package) "
                    + "(or run `sudo apt-get install -y \(package)`)")
        }
    }

    private static func validate(_ accounts: [String: String]) throws {
        let first = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz[]\\`_^{|}")
        let rest = first.union("0123456789-")
        for (name, password) in accounts {
            guard let head = name.first, first.contains(head), name.allSatisfy(rest.contains), name.count <= 30 else {
                throw IRCHarnessError("SASL account name \(name.debugDescription) is not a valid nick")
            }
            guard !password.isEmpty, !password.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) else {
                throw IRCHarnessError("the password of SASL account \(name) must be non-empty and without white space")
            }
        }
    }

    /// Starts the ircd (and, for InspIRCd, atheme when it is not running) and waits until it is
    /// ready: its ports accept and are its own, and for InspIRCd `sasl` is offered.
    private func start() async throws {
        switch self.software {
        case .ngircd:
            let process = try IRCServerProcess.spawn(
                Self.ngircdPath, ["-n", "-f", self.file("ngircd.conf").path],
                output: self.file("ngircd.log"), directory: self.directory)
            self.ircd.withLock { $0 = process }
            try await self.waitUntilListening(process, ports: self.linkPort == 0 ? [self.port] : [self.port, self.linkPort])
        case .inspircd:
            var arguments = ["--nofork", "--config", self.file("inspircd.conf").path]
            if geteuid() == 0 { arguments.insert("--runasroot", at: 1) }  // it refuses root otherwise
            let process = try IRCServerProcess.spawn(
                Self.inspircdPath, arguments, output: self.file("inspircd.out"), directory: self.directory)
            self.ircd.withLock { $0 = process }
            try await self.waitUntilListening(process, ports: [self.port, self.linkPort])
            if !(self.services.withLock { $0?.isRunning ?? false }) {
                try self.startServices()
            }
            if try await self.waitForSASL(timeout: .seconds(15)) { return }
            // Atheme gave up or its link went stale: start it again once.
            await self.stopServices()
            try self.startServices()
            if try await self.waitForSASL(timeout: .seconds(15)) { return }
            throw IRCHarnessError("InspIRCd on port \(self.port) did not offer sasl within 30 s (atheme not linked)\n\(self.logTail())")
        }
    }

    /// Starts atheme-services on a fresh copy of the seeded accounts.
    private func startServices() throws {
        let database = self.file("services.db")
        try? FileManager.default.removeItem(at: database)
        try Data(self.athemeDatabase().utf8).write(to: database)
        let process = try IRCServerProcess.spawn(
            Self.athemePath,
            ["-n", "-c", self.file("atheme.conf").path, "-D", self.directory.path,
             "-l", self.file("atheme.log").path, "-p", self.file("atheme.pid").path],
            output: self.file("atheme.out"), directory: self.directory)
        self.services.withLock { $0 = process }
    }

    // MARK: - Stopping

    /// Stops the servers (SIGTERM; SIGKILL after 5 s) and removes ``directory``. The server
    /// cannot be restarted afterwards.
    public func stop() async {
        await self.stopIRCd()
        await self.stopServices()
        let removed = self.stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        if !removed { try? FileManager.default.removeItem(at: self.directory) }
    }

    /// Stops the IRC server and starts it again on the same ports and configuration; returns once
    /// it accepts connections and, for InspIRCd, offers `sasl` again (atheme stays running and
    /// links again by itself about 1 s later; it is started again if it does not). Clients are
    /// disconnected (`ERROR :... Server going down` / `[Server shutting down]`). Also starts a
    /// server that ``kill()`` crashed.
    /// - Throws: ``IRCHarnessError`` when the server does not come back, for example because
    ///   another process took its port, or after ``stop()``.
    public func restart() async throws {
        guard !self.stopped.withLock({ $0 }) else {
            throw IRCHarnessError("\(self.software.rawValue) on port \(self.port) was stopped; it cannot restart")
        }
        await self.stopIRCd()
        do {
            try await self.start()
        } catch let failure as PortTaken {
            await self.stopIRCd()
            throw IRCHarnessError(failure.message)
        } catch {
            await self.stopIRCd()
            throw error
        }
    }

    /// Kills the IRC server with SIGKILL, as a crash would: clients see their connection close
    /// without an ERROR. Atheme keeps running. ``restart()`` starts the server again.
    public func kill() {
        self.ircd.withLock { $0 }?.forceKill()
    }

    /// Whether the IRC server process is running.
    public var isRunning: Bool {
        self.ircd.withLock { $0?.isRunning ?? false }
    }

    private func stopIRCd() async {
        guard let process = self.ircd.withLock({ $0 }) else { return }
        await process.terminate(grace: .seconds(5))
        self.ircd.withLock { if $0 === process { $0 = nil } }
    }

    private func stopServices() async {
        guard let process = self.services.withLock({ $0 }) else { return }
        await process.terminate(grace: .seconds(5))
        self.services.withLock { if $0 === process { $0 = nil } }
    }

    // MARK: - Readiness

    /// Waits (at most 15 s) until every port in `ports` has a listener of `process` that accepts.
    /// - Throws: ``PortTaken`` when a port belongs to another process or the server could not bind
    ///   it; ``IRCHarnessError`` when the server exits or is not ready in time.
    private func waitUntilListening(_ process: IRCServerProcess, ports: [Int]) async throws {
        let started = ContinuousClock.now
        let deadline = started + .seconds(15)
        let pid = process.pid
        while true {
            // Inline: a /proc read and a loopback connect take well under a millisecond, and a
            // thread per probe would crowd the test process's threads.
            let states = ports.map { Self.listener(on: $0, of: pid) }
            if !process.isRunning {
                let text = self.logTail()
                let message = "\(self.software.rawValue) \(process.exitDescription) while starting on port \(self.port)\n\(text)"
                if text.contains("Address already in use") { throw PortTaken(message: message) }
                throw IRCHarnessError(message)
            }
            if states.allSatisfy({ $0 == .ours }) { return }
            if let index = states.firstIndex(of: .foreign),
                ContinuousClock.now - started > .seconds(2) || self.logTail().contains("failed to bind")
            {
                throw PortTaken(
                    message: "port \(ports[index]) of \(self.software.rawValue) belongs to another process; \(self.software.rawValue) runs without it\n\(self.logTail())")
            }
            guard ContinuousClock.now < deadline else {
                throw IRCHarnessError("\(self.software.rawValue) did not listen on \(ports) within 15 s\n\(self.logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Polls `CAP LS 302` on the client port every 100 ms until it lists `sasl`; false when it
    /// did not within `timeout`.
    /// - Throws: ``IRCHarnessError`` when the ircd exits meanwhile.
    private func waitForSASL(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        let port = self.port
        while ContinuousClock.now < deadline {
            guard let process = self.ircd.withLock({ $0 }), process.isRunning else {
                throw IRCHarnessError("InspIRCd exited while waiting for sasl\n\(self.logTail())")
            }
            let capabilities = await Self.detached { Self.capabilities(port: port) }
            if capabilities?.contains("sasl") == true { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Who listens on 127.0.0.1:`port`.
    private enum Listener: Equatable {
        /// Nobody (yet).
        case none
        /// Process `pid`, and a connection was accepted.
        case ours
        /// Another process.
        case foreign
    }

    /// Whether `pid` listens on 127.0.0.1:`port` and accepts: on Linux from `/proc/net/tcp` and
    /// `/proc/<pid>/fd` (InspIRCd keeps running when its port is taken); elsewhere a connection
    /// that is accepted counts as the server's.
    /// A file read to its end (a /proc file has no size to go by).
    private static func readWhole(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.readToEnd()).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func listener(on port: Int, of pid: pid_t) -> Listener {
        #if os(Linux)
        if let table = Self.readWhole("/proc/net/tcp") {
            let suffix = String(format: ":%04X", port)
            var inodes: Set<String> = []
            for row in table.split(separator: "\n").dropFirst() {
                let fields = row.split(separator: " ", omittingEmptySubsequences: true)
                // local_address (0100007F:1F90 or 00000000:1F90), state 0A = LISTEN, inode.
                guard fields.count > 9, fields[3] == "0A", fields[1].hasSuffix(suffix),
                    fields[1].hasPrefix("0100007F") || fields[1].hasPrefix("00000000")
                else { continue }
                inodes.insert(String(fields[9]))
            }
            // Not in the table (a busy test process's /proc/net/tcp can be long, and is read in
            // one go): whether the port accepts is the answer then.
            if inodes.isEmpty { return Self.accepts(port: port) ? .ours : .none }
            let fdDirectory = "/proc/\(pid)/fd"
            if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: fdDirectory) {
                let owned = descriptors.contains { descriptor in
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDirectory)/\(descriptor)") else { return false }
                    return inodes.contains { target == "socket:[\($0)]" }
                }
                // A listening socket of the server's own is all a client needs (a probe's connect
                // can fail for reasons of the test process, such as its descriptors in use).
                return owned ? .ours : .foreign
            }
        }
        #endif
        return Self.accepts(port: port) ? .ours : .none
    }

    // MARK: - Configuration

    private func file(_ name: String) -> URL {
        self.directory.appendingPathComponent(name)
    }

    private func write(_ text: String, to name: String) throws {
        let url = self.file(name)
        try Data(text.utf8).write(to: url)
        chmod(url.path, 0o644)
    }

    /// The research's ngircd.conf on this server's name, port and directory.
    private func writeNgircdConfiguration() throws {
        let includes = self.file("conf.d")
        try FileManager.default.createDirectory(at: includes, withIntermediateDirectories: true)
        try self.write(
            """
            # ngIRCd for Spiegel's tests (IRCTestServer): loopback only, defaults otherwise.
            [Global]
            \tName = \(self.name)
            \tInfo = Spiegel test server
            \tAdminInfo1 = test
            \tAdminInfo2 = test
            \tAdminEMail = test@localhost
            \tListen = 127.0.0.1
            \tPorts = \(self.port)
            \tMotdPhrase = "Spiegel test server"
            \tPidFile = \(self.file("ngircd.pid").path)
            [Limits]
            \t# The default of 5 connections per address would break tests with many clients.
            \tMaxConnectionsIP = 0
            [Options]
            \tDNS = no
            \tIdent = no
            \tPAM = no
            \t# An empty directory: keeps /etc/ngircd/ngircd.conf.d out.
            \tIncludeDir = \(includes.path)

            """ + (self.linkPort == 0 ? "" : """
            [SSL]
            \tCertFile = \(self.file("cert.pem").path)
            \tKeyFile = \(self.file("key.pem").path)
            \tPorts = \(self.linkPort)

            """), to: "ngircd.conf")
    }

    /// The research's inspircd.conf and services.conf on this server's ports and directory.
    private func writeInspircdConfiguration() throws {
        let directory = self.directory.path
        try self.write("Spiegel test server\n", to: "motd.txt")
        try self.write(
            """
            # InspIRCd 3 for Spiegel's tests (IRCTestServer): loopback only, IRCv3, SASL through atheme.
            <define name="rundir" value="\(directory)">
            <server name="\(self.name)" description="Spiegel test server" network="SpiegelTest">
            <admin name="test" nick="test" email="test@localhost">
            <path configdir="&rundir;" datadir="&rundir;" logdir="&rundir;"
                  moduledir="/usr/lib/inspircd/modules" runtimedir="&rundir;">
            <pid file="&rundir;/inspircd.pid">
            <log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="&rundir;/ircd.log">
            <bind address="127.0.0.1" port="\(self.port)" type="clients">

            # Flood limits: upstream's example values (10 lines at once, then 1 a second, held back).
            <connect name="main" allow="*"
                     timeout="20" pingfreq="120"
                     hardsendq="1M" softsendq="10240" recvq="10K"
                     threshold="10" commandrate="1000" fakelag="yes"
                     localmax="100" globalmax="100"
                     resolvehostnames="no" useident="no" maxchans="20" limit="5000">
            <dns server="127.0.0.1" timeout="1">
            # serverpingfreq 3s (default 1m): a dead services link is noticed within about 1 s.
            <options prefixquit="Quit: " syntaxhints="no" hostintopic="yes" pingwarning="15" serverpingfreq="3s">
            <security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no"
                      hideulines="no" hidebans="no" maxtargets="20">
            <performance softlimit="1024" somaxconn="128" netbuffersize="10240" quietbursts="yes">
            <channels users="20" opers="60">
            <files motd="&rundir;/motd.txt">

            <module name="cap">
            <module name="ircv3">
            <module name="ircv3_capnotify">
            <module name="ircv3_servertime">
            <module name="ircv3_ctctags">
            <module name="ircv3_msgid">
            <module name="ircv3_echomessage">
            <module name="ircv3_batch">
            <module name="ircv3_labeledresponse">
            <module name="ircv3_accounttag">
            <module name="services_account">
            <module name="sasl">
            <sasl target="services.test.local" requiressl="no">

            # The link of atheme-services.
            <module name="spanningtree">
            <module name="chghost">
            <module name="cban">
            <module name="svshold">
            <bind address="127.0.0.1" port="\(self.linkPort)" type="servers">
            <link name="services.test.local" ipaddr="127.0.0.1" port="\(self.linkPort)"
                  allowmask="127.0.0.0/8" sendpass="linkpass" recvpass="linkpass">
            <uline server="services.test.local" silent="yes">

            """, to: "inspircd.conf")
    }

    /// The research's atheme.conf: SASL PLAIN only, linked to this server's services port.
    private func writeAthemeConfiguration() throws {
        try self.write(
            """
            /* atheme-services for Spiegel's tests (IRCTestServer): SASL PLAIN for InspIRCd. */
            loadmodule "modules/protocol/inspircd";
            loadmodule "modules/backend/opensex";
            loadmodule "modules/crypto/pbkdf2v2";
            loadmodule "modules/nickserv/main";
            loadmodule "modules/nickserv/identify";
            loadmodule "modules/nickserv/register";
            loadmodule "modules/nickserv/logout";
            loadmodule "modules/saslserv/main";
            loadmodule "modules/saslserv/plain";

            serverinfo {
            \tname = "services.test.local";
            \tdesc = "Spiegel test services";
            \tnumeric = "00A";
            \trecontime = 1;
            \tnetname = "SpiegelTest";
            \thidehostsuffix = "users.test";
            \tadminname = "test";
            \tadminemail = "test@localhost";
            \tregisteremail = "test@localhost";
            \tloglevel = { error; info; admin; network; };
            \tmaxlogins = 50;
            \tmaxusers = 50;
            \tmdlimit = 30;
            \temaillimit = 10;
            \temailtime = 300;
            \tauth = none;
            \tcasemapping = rfc1459;
            };

            uplink "\(self.name)" {
            \thost = "127.0.0.1";
            \tport = \(self.linkPort);
            \tpassword = "linkpass";
            };

            nickserv {
            \tnick = "NickServ";
            \tuser = "NickServ";
            \thost = "services.test.local";
            \treal = "Nickname Services";
            \tmaxnicks = 5;
            \texpire = 0;
            };

            saslserv {
            \tnick = "SaslServ";
            \tuser = "SaslServ";
            \thost = "services.test.local";
            \treal = "SASL Authentication Agent";
            };

            general {
            \tflood_msgs = 0;
            \tflood_time = 10;
            \tratelimit_uses = 0;
            \tratelimit_period = 60;
            \tkline_time = 7;
            \tcommit_interval = 5;
            \tuplink_sendq_limit = 1048576;
            \tlanguage = "en";
            };

            """, to: "atheme.conf")
    }

    /// Atheme's database (opensex) with ``accounts``: plaintext passwords with no `C` flag, which
    /// atheme accepts and hashes at the first login. Entity ids count up like atheme's own
    /// (`AAAAAAAAB`, `AAAAAAAAC`, ...); `LUID` is the last one given out.
    private func athemeDatabase() -> String {
        let digits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        func uid(_ number: Int) -> String {
            var value = number
            var tail: [Character] = []
            for _ in 0..<5 {
                tail.insert(digits[value % digits.count], at: 0)
                value /= digits.count
            }
            return "AAAA" + String(tail)
        }
        var lines = ["GRVER 1", "DBV 12", "LUID \(uid(self.accounts.count))", "CF +AFHORVabefhioqrstv"]
        for (index, (name, password)) in self.accounts.sorted(by: { $0.key < $1.key }).enumerated() {
            lines.append("MU \(uid(index + 1)) \(name) \(password) \(name)@example.com 1700000000 1700000000 + default")
            lines.append("MN \(name) \(name) 1700000000 1700000000")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - Logs

    /// The last 30 lines of each log in ``directory``.
    func logTail() -> String {
        let names = ["ngircd.log", "inspircd.out", "ircd.log", "atheme.out", "atheme.log"]
        return names.compactMap { name -> String? in
            guard let text = try? String(contentsOf: self.file(name), encoding: .utf8) else { return nil }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(31)
            return "--- \(name) (last 30 lines)\n" + lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    // MARK: - Sockets

    /// `count` distinct ports on 127.0.0.1 nobody listens on right now: bound to port 0 together,
    /// read back, released.
    static func freeLoopbackPorts(_ count: Int) throws -> [Int] {
        var descriptors: [Int32] = []
        defer { descriptors.forEach { _ = close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let descriptor = Self.tcpSocket()
            guard descriptor >= 0 else { throw IRCHarnessError("socket() failed: errno \(errno)") }
            descriptors.append(descriptor)
            var address = Self.loopback(port: 0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
            }
            guard bound == 0 else { throw IRCHarnessError("bind(127.0.0.1:0) failed: errno \(errno)") }
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard named == 0 else { throw IRCHarnessError("getsockname failed: errno \(errno)") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    private static func tcpSocket() -> Int32 {
        #if canImport(Glibc)
        socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        socket(AF_INET, SOCK_STREAM, 0)
        #endif
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return address
    }

    /// A blocking socket connected to 127.0.0.1:`port` with 2 s send and receive timeouts, or nil.
    private static func connect(port: Int) -> Int32? {
        let descriptor = Self.tcpSocket()
        guard descriptor >= 0 else { return nil }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
        var address = Self.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                Darwin.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Whether 127.0.0.1:`port` accepts a connection.
    static func accepts(port: Int) -> Bool {
        guard let descriptor = Self.connect(port: port) else { return false }
        close(descriptor)
        return true
    }

    /// The capability names (without values) of `CAP LS 302` on 127.0.0.1:`port`, all lines of a
    /// multi-line reply; nil when there is no connection or no complete reply within 2 s.
    static func capabilities(port: Int) -> Set<String>? {
        guard let descriptor = Self.connect(port: port) else { return nil }
        defer { close(descriptor) }
        let request = Array("CAP LS 302\r\n".utf8)
        guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var pending: [UInt8] = []
        var capabilities: Set<String> = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            pending.append(contentsOf: chunk[0..<count])
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                // [@tags] [:source] CAP <nick> LS [*] :<caps>
                var words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                if words.first?.hasPrefix("@") == true { words.removeFirst() }
                if words.first?.hasPrefix(":") == true { words.removeFirst() }
                guard words.count >= 3, words[0].uppercased() == "CAP", words[2].uppercased() == "LS" else { continue }
                let more = words.count >= 4 && words[3] == "*"
                let list = words.dropFirst(more ? 4 : 3).map { $0.hasPrefix(":") ? String($0.dropFirst()) : $0 }
                for item in list where !item.isEmpty {
                    capabilities.insert(String(item.split(separator: "=", maxSplits: 1)[0]))
                }
                if !more {
                    let quit = Array("QUIT\r\n".utf8)
                    _ = send(descriptor, quit, quit.count, Int32(MSG_NOSIGNAL))
                    return capabilities
                }
            }
        }
        return nil
    }

    /// Runs blocking `body` on a thread of its own, off the concurrency pool.
    static func detached<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "IRCTestServer probe"
            thread.start()
        }
    }
}

/// A server process started with `posix_spawn`, its exit status collected by a thread of its own.
///
/// Not `Foundation.Process`: a child inherits the signal mask of the thread that spawns it, and
/// Swift's test process may block SIGTERM (ngIRCd then ignores SIGTERM). Here the child gets an
/// empty signal mask, default signal dispositions, its own process group, no descriptors but
/// standard input (`/dev/null`), output and error (appended to `output`) where the C library can
/// close the rest (glibc 2.34 on), and a watchdog
/// (`/bin/sh`, reading a pipe only this process holds) that kills it when the test process dies.
final class IRCServerProcess: Sendable {
    /// The process id.
    let pid: pid_t
    /// The executable's file name.
    let name: String
    /// The wait status once the process has exited.
    private let status = Mutex<Int32?>(nil)
    /// The watchdog, and our end of the pipe it reads.
    private let watchdog = Mutex<(pid: pid_t, pipe: Int32)?>(nil)

    private init(pid: pid_t, name: String) {
        self.pid = pid
        self.name = name
    }

    /// Starts `executable` with `arguments` in `directory`, its output appended to `output`.
    static func spawn(_ executable: String, _ arguments: [String], output: URL, directory: URL) throws -> IRCServerProcess {
        let name = URL(fileURLWithPath: executable).lastPathComponent
        let pid = try Self.posixSpawn(executable, [name] + arguments, stdin: nil, output: output.path, directory: directory.path)
        let process = IRCServerProcess(pid: pid, name: name)
        process.reap(pid) { status in process.status.withLock { $0 = status } }

        // The watchdog: `read` returns when the last writer of the pipe is gone, that is when
        // this process exits (the descriptor is close-on-exec, no other child holds it).
        var ends: [Int32] = [0, 0]
        let piped: Int32
        if let pipe2 = Self.gnu("pipe2", as: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self) {
            piped = pipe2(&ends, O_CLOEXEC)
        } else {
            piped = pipe(&ends)
            if piped == 0 { _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC); _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC) }
        }
        if piped == 0 {
            let script = "read x; kill -KILL \"$1\" 2>/dev/null"
            if let watcher = try? Self.posixSpawn(
                "/bin/sh", ["sh", "-c", script, "irc-watchdog", String(pid)], stdin: ends[0], output: "/dev/null", directory: "/")
            {
                process.watchdog.withLock { $0 = (watcher, ends[1]) }
                process.reap(watcher) { _ in }
            } else {
                close(ends[1])
            }
            close(ends[0])
        }
        return process
    }

    /// `posix_spawn` with an empty signal mask, default dispositions, a new process group, and
    /// only descriptors 0 (`stdin`, else `/dev/null`), 1 and 2 (`output`, appended).
    private static func posixSpawn(_ executable: String, _ argv: [String], stdin: Int32?, output: String, directory: String) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // glibc 2.34 and 2.29: not descriptors the test process did not mark close-on-exec
        // (pipes of other scripts, listening sockets), and a working directory of its own.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        if let closeFrom = Self.gnu("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self) {
            _ = closeFrom(&actions, 3)
        }
        if let changeDirectory = Self.gnu("posix_spawn_file_actions_addchdir_np", as: ChangeDirectory.self) {
            _ = directory.withCString { changeDirectory(&actions, $0) }
        }

        let cArguments = argv.map { strdup($0) }
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let result = (cArguments + [nil]).withUnsafeBufferPointer { argvPointer in
            posix_spawn(&pid, executable, &actions, &attributes, argvPointer.baseAddress!, environ)
        }
        guard result == 0 else {
            throw IRCHarnessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// A C function of the C library that Swift's Glibc module does not declare (a GNU
    /// extension), looked up at run time; nil where there is none.
    private static func gnu<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }

    /// Waits for `pid` on a thread of its own and hands its wait status (-1 if it was not ours
    /// to wait for) to `done`.
    private func reap(_ pid: pid_t, _ done: @escaping @Sendable (Int32) -> Void) {
        let thread = Thread {
            var status: Int32 = 0
            var result: pid_t
            repeat {
                result = waitpid(pid, &status, 0)
            } while result == -1 && errno == EINTR
            done(result == pid ? status : -1)
        }
        thread.name = "IRCTestServer wait \(pid)"
        thread.start()
    }

    /// Whether the process has not exited yet.
    var isRunning: Bool {
        self.status.withLock { $0 == nil }
    }

    /// How it ended: `exited with status 1`, `was killed by signal 9`.
    var exitDescription: String {
        guard let status = self.status.withLock({ $0 }) else { return "is running" }
        if status == -1 { return "has exited" }
        let signal = status & 0x7F
        return signal == 0 ? "exited with status \((status >> 8) & 0xFF)" : "was killed by signal \(signal)"
    }

    /// Sends `signal` unless the process has exited.
    func signal(_ signal: Int32) {
        guard self.isRunning else { return }
        #if canImport(Glibc)
        _ = Glibc.kill(self.pid, signal)
        #else
        _ = Darwin.kill(self.pid, signal)
        #endif
    }

    /// SIGKILL now, without waiting; the watchdog goes too.
    func forceKill() {
        self.signal(SIGKILL)
        self.dismissWatchdog()
    }

    /// SIGTERM, then SIGKILL when it has not exited after `grace`; waits for the exit (at most
    /// 5 s more). Dismisses the watchdog.
    func terminate(grace: Duration) async {
        self.signal(SIGTERM)
        if !(await self.waitForExit(timeout: grace)) {
            self.signal(SIGKILL)
            _ = await self.waitForExit(timeout: .seconds(5))
        }
        self.dismissWatchdog()
    }

    /// Polls every 10 ms; true once the process has exited.
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Kills the watchdog (before it could kill a reused pid) and closes its pipe.
    private func dismissWatchdog() {
        guard let watchdog = self.watchdog.withLock({ state in
            defer { state = nil }
            return state
        }) else { return }
        #if canImport(Glibc)
        _ = Glibc.kill(watchdog.pid, SIGKILL)
        #else
        _ = Darwin.kill(watchdog.pid, SIGKILL)
        #endif
        close(watchdog.pipe)
    }
}
