import Foundation
import Glibc
import SpiegelTestKit
import SpiegelVault
import Testing

/// The try-out chat at `/` in a real browser: headless Chromium through Selenium, against a real
/// `spiegel serve` on its built-in defaults, on a phone-sized screen (390 px wide). A teacher
/// types and clicks a reflection to its end, reloads in the middle, the server restarts under
/// them, a coach's edit to the Prompts is taken with SIGHUP (and a broken one shown on the page),
/// everything by keyboard where a keyboard user would; then "mijn gegevens" and "vergeet mij".
@Suite(.serialized, .tags(.browser), .enabled(if: runs("browser"))) struct TryoutBrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
    static let fixturePrompts = packageRoot.appendingPathComponent("Tests/SpiegelDialogueTests/Fixtures/Prompts")
    static let prompts = packageRoot.appendingPathComponent("Prompts")

    /// A `spiegel serve` on the built-in defaults (no configuration file) with its data, Prompts
    /// and port kept across restarts.
    final class Site {
        let root: URL
        let environment: [String: String]
        private(set) var serve: SpiegelProcessTests.Run
        private(set) var port: Int
        /// Everything every process wrote, for the privacy check.
        private(set) var output = ""

        init(prompts: URL) async throws {
            self.root = FileManager.default.temporaryDirectory.appendingPathComponent("spiegel-tryout-\(UUID().uuidString)")
            let copy = self.root.appendingPathComponent("Prompts")
            try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: prompts, to: copy)
            self.environment = [
                "SPIEGEL_DATA_DIR": self.root.appendingPathComponent("data").path,
                "SPIEGEL_PROMPTS_DIR": copy.path,
                "SPIEGEL_VAULT_MASTER_KEY": MasterKey.generate().base64Encoded,
            ]
            self.serve = try SpiegelProcessTests.Run(["serve"], environment: self.environment.merging(["SPIEGEL_SERVER_PORT": "0"]) { $1 })
            self.port = try await self.serve.listeningPort()
        }

        var url: String { "http://127.0.0.1:\(self.port)/" }
        var promptsDirectory: URL { self.root.appendingPathComponent("Prompts") }

        /// Stops the server (SIGTERM) and starts it again on the same port and data.
        func restart() async throws {
            try await self.stop()
            self.serve = try SpiegelProcessTests.Run(["serve"], environment: self.environment.merging(["SPIEGEL_SERVER_PORT": String(self.port)]) { $1 })
            _ = try await self.serve.listeningPort()
        }

        /// Sends SIGHUP and waits until the server logged the outcome.
        func reload() async throws {
            let before = self.serve.standardError.components(separatedBy: "spiegel.reload.").count
            kill(self.serve.process.processIdentifier, SIGHUP)
            try await Poll.until("the reload logged") { self.serve.standardError.components(separatedBy: "spiegel.reload.").count > before }
        }

        func stop() async throws {
            guard self.serve.process.isRunning else { return }
            self.serve.process.terminate()
            #expect(try await self.serve.exitStatus() == 0)
            self.output += self.serve.standardOutput + self.serve.standardError
        }

        deinit {
            if self.serve.process.isRunning { self.serve.process.terminate() }
            try? FileManager.default.removeItem(at: self.root)
        }
    }

    @Test(.timeLimit(.minutes(5))) func aShortReflectionByTypingAndClickingSurvivesReloadRestartAndAPromptsEdit() async throws {
        let site = try await Site(prompts: Self.fixturePrompts)
        let browser = try await BrowserTestClient.start(packageRoot: Self.packageRoot)
        defer { Task { await browser.stop() } }
        let title = try await browser.open(site.url)
        #expect(title == "Spiegel · proefgesprek")
        // A first visit: the introduction, no conversation yet, one HttpOnly SameSite=Strict cookie.
        #expect(try await browser.waitUntilShown("intro").contains("Begin een reflectie"))
        #expect(try await browser.bubbles().isEmpty)
        let cookies = try await browser.cookies()
        #expect(cookies.count == 1)
        #expect(cookies.first?["name"] as? String == "spiegel_tryout")
        #expect(cookies.first?["httpOnly"] as? Bool == true)
        #expect(cookies.first?["sameSite"] as? String == "Strict")

        try await browser.click("Begin een reflectie")
        try await browser.waitForText("Wat zou een goede uitkomst van dit gesprek zijn?")
        try await browser.type("Rust in de klas")
        try await browser.waitForText("Op een schaal van 1 tot 10: waar sta je nu met Rust in de klas?")
        #expect(try await browser.choices() == (1...10).map(String.init))

        // Keyboard only: from the message box back to the scale's 7, and Enter.
        #expect(try await browser.focused().id == "text")
        try await browser.keys(["SHIFT_TAB", "SHIFT_TAB", "SHIFT_TAB", "SHIFT_TAB"])
        let onSeven = try await browser.focused()
        #expect(onSeven.tag == "button" && onSeven.text == "7")
        try await browser.keys(["ENTER"])
        try await browser.waitForText("Wat zou een 8 zijn?")
        #expect(try await browser.focused().id == "text", "after a choice the focus is back in the message box")

        // A reload in the middle: the same conversation, nothing lost.
        let beforeReload = try await browser.bubbles()
        try await browser.reload()
        #expect(try await browser.waitForBubbles(beforeReload.count) == beforeReload)

        // Typing with the keyboard, Enter to send; a choice's options come as buttons.
        try await browser.type("Elke les rustig starten")
        try await browser.waitForText("Waar wil je verder over praten?")
        #expect(try await browser.choices() == ["De les", "Een leerling"])

        // The keyboard on an option while a coach edits the Prompts: SIGHUP takes the edit, the
        // page hears of the reload, the focus stays where it was, the conversation goes on.
        try await browser.keys(["SHIFT_TAB", "SHIFT_TAB"])
        #expect(try await browser.focused().text == "De les")
        let graph = site.promptsDirectory.appendingPathComponent("kort.yaml")
        let original = try String(contentsOf: graph, encoding: .utf8)
        try original.replacingOccurrences(of: "Hoe kijk je daar nu op terug?", with: "Hoe kijk je daar vandaag op terug?")
            .write(to: graph, atomically: true, encoding: .utf8)
        try await site.reload()
        try await Task.sleep(for: .seconds(1))  // the waiting page is answered at once; time to redraw, if it would
        #expect(try await browser.focused().text == "De les")
        try await browser.keys(["ENTER"])
        try await browser.waitForText("Hoe kijk je daar vandaag op terug?")
        #expect(try await browser.bubbles().contains(BrowserBubble(from: "teacher", text: "De les", isPending: false, hasFailed: false)))

        // The server restarts under the page: it finds the conversation again from the vault.
        let beforeRestart = try await browser.bubbles()
        try await site.restart()
        try await browser.type("Rustiger dan vorige week, de start liep vlot")
        let afterRestart = try await browser.waitForText("Wat ga je als eerste proberen, en wanneer?", timeout: .seconds(40))
        #expect(Array(afterRestart.prefix(beforeRestart.count)) == beforeRestart)

        // A broken edit is shown on the page (the try-out only), the old Prompts stay in effect.
        try (original + "\n  kapot: [\n").write(to: graph, atomically: true, encoding: .utf8)
        try await site.reload()
        let problem = try await browser.waitUntilShown("problem", timeout: .seconds(40))
        #expect(problem.contains("Er is een probleem met de Prompts"))
        #expect(problem.contains("Not taken: "))
        #expect(problem.contains("kort.yaml:"))
        // Prompts that load but that the linter refuses are taken, and the finding shown.
        try original.replacingOccurrences(of: #", en: "What will you try first, and when?""#, with: "").write(to: graph, atomically: true, encoding: .utf8)
        try await site.reload()
        try await Poll.until("the page shows the linter's finding", timeout: .seconds(30)) {
            try await browser.isShown("problem").text.contains("Taken, but `spiegel prompts lint` finds:")
        }
        #expect(try await browser.isShown("problem").text.contains("no text in en"))
        // Put right, the notice goes.
        try original.write(to: graph, atomically: true, encoding: .utf8)
        try await site.reload()
        try await Poll.until("the notice went", timeout: .seconds(30)) { try await !browser.isShown("problem").shown }
        try await browser.type("Morgen start ik met een rustmoment")
        try await browser.waitForText("Dank je. Je plan: Morgen start ik met een rustmoment.")

        // A phone's width: nothing scrolls sideways, not even a long unbroken word.
        try await browser.type("https://een-heel-lange-link-zonder-spaties.example.org/lesvoorbereiding/week-49/rustmoment-bij-de-start")
        try await browser.waitForText("rustmoment-bij-de-start")
        let layout = try await browser.layout()
        #expect(layout.clientWidth == 390)
        #expect(layout.scrollWidth <= layout.clientWidth)

        // Nothing of the conversation in the browser's storage, in a URL, or in the server's output.
        let storage = try await browser.storage()
        #expect(storage.local == 0 && storage.session == 0 && storage.cookie.isEmpty)
        let urls = try await browser.loadedURLs()
        #expect(!urls.isEmpty && urls.allSatisfy { $0.hasPrefix(site.url) })
        #expect(!urls.contains { $0.localizedCaseInsensitiveContains("rust") })
        #expect(try await browser.consoleMessages().filter { $0.contains("Content Security Policy") } == [])
        try await site.stop()
        for said in ["Rust in de klas", "rustig starten", "start liep vlot", "rustmoment"] {
            #expect(!site.output.contains(said), "the server's output holds what a teacher wrote")
        }
    }

    @Test(.timeLimit(.minutes(4))) func theRealPromptsMyDataAndForgetMeAndTheReadmeScreenshot() async throws {
        let site = try await Site(prompts: Self.prompts)
        let browser = try await BrowserTestClient.start(packageRoot: Self.packageRoot)
        defer { Task { await browser.stop() } }
        try await browser.open(site.url)
        try await browser.click("Begin een reflectie")
        try await browser.waitForText("Hoeveel tijd heb je nu?")
        try await browser.click("Tien minuten of meer")
        try await browser.waitForText("Wat zou een goede uitkomst van dit gesprek zijn?")
        try await browser.type("Dat ik weet waarom de groep na de speeltijd zo onrustig was")
        try await browser.waitForText("Welk moment uit je les blijft je het meest bij?")
        // The README's picture comes from this run: SPIEGEL_UPDATE_SCREENSHOT=1 writes it.
        let screenshot = ProcessInfo.processInfo.environment["SPIEGEL_UPDATE_SCREENSHOT"] == "1"
            ? Self.packageRoot.appendingPathComponent("docs/images/tryout-chat.png").path
            : site.root.appendingPathComponent("tryout-chat.png").path
        try await browser.screenshot(to: screenshot)
        #expect(try Data(contentsOf: URL(fileURLWithPath: screenshot)).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))

        // "Mijn gegevens": everything kept, in the page.
        try await browser.click("Mijn gegevens")
        try await browser.waitForText("jij/you: Dat ik weet waarom de groep na de speeltijd zo onrustig was")

        // "Vergeet mij", confirmed: the conversation is gone from the page, and stays gone.
        try await browser.click("Vergeet mij")
        try await browser.waitForText("Wil je echt dat ik alles wis wat je hier ooit schreef?")
        try await browser.type("ja")
        try await browser.waitForText("Gedaan. Alles wat je hier schreef is gewist")
        try await Poll.until("the page emptied") {
            try await browser.bubbles().map(\.from) == ["spiegel"]
        }
        try await browser.reload()
        try await browser.waitForText("Gedaan. Alles wat je hier schreef is gewist")
        #expect(try await browser.bubbles().map(\.from) == ["spiegel"])

        // Another browser is another try-out coachee: an English one sees none of it.
        let other = try await BrowserTestClient.start(packageRoot: Self.packageRoot, language: "en-US")
        defer { Task { await other.stop() } }
        #expect(try await other.open(site.url) == "Spiegel · try-out")
        #expect(try await other.waitUntilShown("intro").contains("Start a reflection"))
        #expect(try await other.bubbles().isEmpty)
        try await site.stop()
    }
}
