public import Foundation

/// A bubble of the try-out page as the browser shows it.
public struct BrowserBubble: Sendable, Equatable, CustomStringConvertible {
    /// `teacher` or `spiegel`.
    public let from: String
    public let text: String
    /// Sent, not yet taken by the server.
    public let isPending: Bool
    /// Not taken by the server: the page offers to send it again.
    public let hasFailed: Bool

    public init(from: String, text: String, isPending: Bool = false, hasFailed: Bool = false) {
        self.from = from
        self.text = text
        self.isPending = isPending
        self.hasFailed = hasFailed
    }

    public var description: String { "\(self.from): \(self.text)" }
}

/// A teacher in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
/// through Selenium, `Tests/SpiegelAppTests/Fixtures/tryout_browser.py`, driven over JSON lines
/// with the Python of the venv `make test` builds (`.build-browser/venv`).
///
/// Commands run one at a time; each fails after its own timeout plus 20 s even if the script
/// hangs. Call ``stop()`` when done; a client deinitialized while running kills the script.
public final class BrowserTestClient: Sendable {
    /// The venv's Python, relative to the package root.
    public static let venvPython = ".build-browser/venv/bin/python"

    /// The script's log (command names only, never a message).
    public let logFile: URL
    private let script: ScriptProcess

    private init(logFile: URL, script: ScriptProcess) {
        self.logFile = logFile
        self.script = script
    }

    /// Why a browser test could not go on: a missing install, or a command that failed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Starts the script (the browser starts with the first ``open(_:)``).
    /// - Parameters:
    ///   - packageRoot: the package's directory: the venv and the script are found from it.
    ///   - width: the viewport's width in CSS pixels (390: a phone).
    ///   - language: the browser's language (`nl-BE`, `en-US`).
    public static func start(packageRoot: URL, width: Int = 390, height: Int = 844, language: String = "nl-BE") async throws -> BrowserTestClient {
        let python = packageRoot.appendingPathComponent(Self.venvPython).path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure("no \(Self.venvPython): `make test` makes it (Selenium from PyPI)")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            throw Failure("no /usr/bin/chromium or /usr/bin/chromedriver: `make test` installs them (Debian packages chromium, chromium-driver)")
        }
        let script = packageRoot.appendingPathComponent("Tests/SpiegelAppTests/Fixtures/tryout_browser.py").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tryout_browser-\(UUID().uuidString).log")
        let process = try ScriptProcess(
            name: "tryout_browser", executable: python,
            arguments: [script, "--width", String(width), "--height", String(height), "--language", language], logFile: log,
            makeError: { Failure($0) }
        )
        let client = BrowserTestClient(logFile: log, script: process)
        _ = try await client.call(["cmd": "ping"], timeout: .seconds(30))
        return client
    }

    /// Loads `url` (starting the browser the first time); returns the page's title.
    @discardableResult
    public func open(_ url: String) async throws -> String {
        try await self.call(["cmd": "open", "url": url], timeout: .seconds(60))["title"] as? String ?? ""
    }

    public func reload() async throws {
        _ = try await self.call(["cmd": "reload"], timeout: .seconds(30))
    }

    /// Types `text` into the message box and, unless `enter` is false, presses Enter.
    public func type(_ text: String, enter: Bool = true) async throws {
        _ = try await self.call(["cmd": "type", "text": text, "enter": enter], timeout: .seconds(15))
    }

    /// Clicks the shown, enabled button whose text is `text`, waiting up to `timeout` for it.
    public func click(_ text: String, timeout: Duration = .seconds(10)) async throws {
        _ = try await self.call(["cmd": "click", "text": text, "timeout": Self.seconds(timeout)], timeout: timeout)
    }

    /// Sends keys to whatever has the focus: `TAB`, `SHIFT_TAB`, `ENTER`, `SPACE`, or text.
    public func keys(_ keys: [String]) async throws {
        _ = try await self.call(["cmd": "keys", "keys": keys], timeout: .seconds(15))
    }

    /// The focused element: its tag, id and text.
    public func focused() async throws -> (tag: String, id: String, text: String) {
        let reply = try await self.call(["cmd": "focused"], timeout: .seconds(10))
        return (reply["tag"] as? String ?? "", reply["element"] as? String ?? "", reply["text"] as? String ?? "")
    }

    /// The bubbles shown, in order.
    public func bubbles() async throws -> [BrowserBubble] {
        Self.bubbles(try await self.call(["cmd": "messages"], timeout: .seconds(10)))
    }

    /// The labels of the buttons offered for the question Spiegel waits on.
    public func choices() async throws -> [String] {
        try await self.call(["cmd": "choices"], timeout: .seconds(10))["choices"] as? [String] ?? []
    }

    /// Waits until `count` bubbles are shown and none is pending; returns them.
    @discardableResult
    public func waitForBubbles(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [BrowserBubble] {
        Self.bubbles(try await self.call(["cmd": "wait_messages", "count": count, "timeout": Self.seconds(timeout)], timeout: timeout))
    }

    /// Waits until a bubble holds `text`; returns the bubbles.
    @discardableResult
    public func waitForText(_ text: String, timeout: Duration = .seconds(20)) async throws -> [BrowserBubble] {
        Self.bubbles(try await self.call(["cmd": "wait_text", "text": text, "timeout": Self.seconds(timeout)], timeout: timeout))
    }

    /// Waits until the element with `id` is shown; returns its text.
    @discardableResult
    public func waitUntilShown(_ id: String, timeout: Duration = .seconds(20)) async throws -> String {
        try await self.call(["cmd": "wait_visible", "element": id, "timeout": Self.seconds(timeout)], timeout: timeout)["text"] as? String ?? ""
    }

    /// Whether the element with `id` is shown now, and its text.
    public func isShown(_ id: String) async throws -> (shown: Bool, text: String) {
        let reply = try await self.call(["cmd": "visible", "element": id], timeout: .seconds(10))
        return (reply["shown"] as? Bool ?? false, reply["text"] as? String ?? "")
    }

    /// The document's scroll width and the viewport's width, in CSS pixels.
    public func layout() async throws -> (scrollWidth: Int, clientWidth: Int) {
        let reply = try await self.call(["cmd": "layout"], timeout: .seconds(10))
        return ((reply["scroll_width"] as? NSNumber)?.intValue ?? -1, (reply["client_width"] as? NSNumber)?.intValue ?? -1)
    }

    /// What the page's script can see: entries in `localStorage` and `sessionStorage`, and
    /// `document.cookie` (empty when the cookie is `HttpOnly`).
    public func storage() async throws -> (local: Int, session: Int, cookie: String) {
        let reply = try await self.call(["cmd": "storage"], timeout: .seconds(10))
        return ((reply["local"] as? NSNumber)?.intValue ?? -1, (reply["session"] as? NSNumber)?.intValue ?? -1, reply["cookie"] as? String ?? "")
    }

    /// The browser's cookies as WebDriver reports them (`name`, `value`, `httpOnly`, `sameSite`…).
    public func cookies() async throws -> [[String: Any]] {
        try await self.call(["cmd": "cookies"], timeout: .seconds(10))["cookies"] as? [[String: Any]] ?? []
    }

    /// The URLs the page loaded: itself and every resource.
    public func loadedURLs() async throws -> [String] {
        try await self.call(["cmd": "resources"], timeout: .seconds(10))["urls"] as? [String] ?? []
    }

    /// The browser console's messages since the last call (a Content-Security-Policy violation
    /// is reported there).
    public func consoleMessages() async throws -> [String] {
        try await self.call(["cmd": "console"], timeout: .seconds(10))["entries"] as? [String] ?? []
    }

    /// Saves a PNG of the viewport at `path`.
    public func screenshot(to path: String) async throws {
        _ = try await self.call(["cmd": "screenshot", "path": path], timeout: .seconds(30))
    }

    /// Closes the browser and ends the script.
    public func stop() async {
        await self.script.stop(with: "exit")
        try? FileManager.default.removeItem(at: self.logFile)
    }

    private func call(_ command: [String: Any], timeout: Duration) async throws -> [String: Any] {
        try await self.script.call(command, timeout: timeout, grace: .seconds(20))
    }

    private static func bubbles(_ reply: [String: Any]) -> [BrowserBubble] {
        (reply["messages"] as? [[String: Any]] ?? []).map {
            BrowserBubble(
                from: $0["from"] as? String ?? "", text: $0["text"] as? String ?? "",
                isPending: $0["pending"] as? Bool ?? false, hasFailed: $0["failed"] as? Bool ?? false
            )
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
