import Foundation
import Logging
import SpiegelDialogue
import SpiegelSchedule
import SpiegelUnderstanding
import SpiegelVault

/// One message of a coachee through the service: what is said back and how the snapshot changes.
/// Everything but erasure is pure; the session journals the result.
struct Turn {
    let context: SessionContext
    /// Whose message it is: their chat user id.
    let coachee: String
    var snapshot: SessionSnapshot
    let now: Date
    /// What the message was recognised as (screened once by the session).
    let screening: Screening
    var outputs: [String] = []
    /// Consent decisions of this message, journalled with it.
    var consent: [ConsentRecord] = []
    /// What this message asks of other users' sessions (a coach, a coachee).
    var crossEffects: [CrossEffect] = []
    /// The coachee asked for their data ("mijn gegevens"): the session adds the transcript.
    var wantsExport = false
    /// The message was used up by the service itself ("nee" to "vergeet mij?").
    private var isAnswered = false

    init(context: SessionContext, coachee: String, snapshot: SessionSnapshot, now: Date, screening: Screening = .nothing) {
        self.context = context
        self.coachee = coachee
        self.snapshot = snapshot
        self.now = now
        self.screening = screening
    }

    var language: String {
        self.snapshot.state?.language ?? self.context.configuration.defaultLanguage
    }

    /// Handles the answer to "vergeet mij?": erases on yes (returns true), else clears the question.
    mutating func confirmErasure(_ text: String, coachee: CoacheeID) async throws -> Bool {
        guard self.snapshot.pendingConfirmation == "forget" else { return false }
        self.snapshot.pendingConfirmation = nil
        if self.context.library.command(in: text) == "confirm" {
            let language = self.language
            self.withdrawEverything()
            try await self.context.vault.forget(coachee)
            self.outputs = [self.context.text("forgotten", language)]
            return true
        }
        self.outputs.append(self.context.text("forget_cancelled", self.language))
        if Self.isShortReply(text) {
            // "nee", "laat maar": only the cancellation, then the question we were at; a longer
            // message is taken as the answer to that question.
            if let state = self.snapshot.state, let question = self.context.runner.currentQuestion(state) { self.outputs.append(question) }
            self.isAnswered = true
        }
        return false
    }

    /// Whether `text` is a short reply ("nee", "laat maar") rather than an answer to process.
    private static func isShortReply(_ text: String) -> Bool {
        text.split { !$0.isLetter }.count <= 3
    }

    /// Everything but erasure: flows by name, progress, starting, welcome back, the graphs.
    mutating func respond(to text: String) {
        if self.isAnswered { return }
        let library = self.context.library
        let distress = self.screening.contains(.distress)
        if !distress, let flow = library.flow(named: text) {
            self.start(flow.graph, language: flow.language)
            return
        }
        if let command = library.command(in: text), command == "followups_off" || command == "followups_on" {
            self.snapshot.followUpsOff = command == "followups_off"
            if self.snapshot.followUpsOff { self.snapshot.followUp = nil }
            self.outputs.append(self.context.text(command, self.language))
            if let state = self.snapshot.state, let question = self.context.runner.currentQuestion(state) { self.outputs.append(question) }
            return
        }
        if library.command(in: text) == "progress" {
            self.outputs += self.progress()
            if let state = self.snapshot.state, let question = self.context.runner.currentQuestion(state) { self.outputs.append(question) }
            return
        }
        guard var state = self.snapshot.state, state.status != .ended else {
            // "vergeet mij" and "mijn gegevens" hold after a conversation too; anything else starts one.
            if let ended = self.snapshot.state {
                let step = self.context.runner.advance(ended, input: text, now: self.now, screening: self.screening)
                if step.effects.contains(where: { if case .requestErasure = $0 { true } else if case .requestExport = $0 { true } else { false } }) {
                    self.apply(step)
                    return
                }
            }
            // A first message that shows distress (or may) gets the care flow, not a reflection.
            let care = distress ? DialogueRunner.careGraph : self.screening.distressUnsure ? DialogueRunner.careCheckGraph : nil
            self.start(care.flatMap { library.graphs[$0] == nil ? nil : $0 }, language: Self.language(of: text) ?? self.language)
            return
        }
        let idle = self.now.timeIntervalSince(state.updatedAt)
        let pauseAfter = Double(self.context.configuration.pauseAfter / .milliseconds(1)) / 1000
        if idle > pauseAfter && state.status == .active {
            // Back after a while: the conversation waits; "hervat" picks it up, a flow phrase starts anew.
            state.status = .paused
            self.snapshot.state = state
        }
        let step = self.context.runner.advance(state, input: text, now: self.now, screening: self.screening)
        if idle > pauseAfter && !step.effects.contains(.resume) && step.state.status == .paused {
            let title = state.position.flatMap { library.graphs[$0.graph]?.title.text(in: state.language, fallbacks: ["nl", "en"]) } ?? ""
            self.outputs.append(self.context.text("welcome_back", state.language, ["graph": title]))
            return
        }
        self.apply(step)
    }

    /// The coachee opens the chat: `flow` starts when asked for or when nothing is going on;
    /// otherwise the question we are at, or "welcome back" after a pause.
    mutating func open(flow: String?) {
        guard flow == nil, var state = self.snapshot.state, state.status != .ended else {
            self.start(flow, language: self.language)
            return
        }
        let pauseAfter = Double(self.context.configuration.pauseAfter / .milliseconds(1)) / 1000
        if state.status == .active && self.now.timeIntervalSince(state.updatedAt) <= pauseAfter,
           let question = self.context.runner.currentQuestion(state) {
            self.outputs.append(question)
            return
        }
        state.status = .paused
        self.snapshot.state = state
        let title = state.position.flatMap { self.context.library.graphs[$0.graph]?.title.text(in: state.language, fallbacks: ["nl", "en"]) } ?? ""
        self.outputs.append(self.context.text("welcome_back", state.language, ["graph": title]))
    }

    private mutating func start(_ graph: String?, language: String) {
        do {
            let step = try self.context.runner.start(graph: graph, language: language, facts: self.snapshot.history.facts, now: self.now)
            self.apply(step)
        } catch {
            self.context.logger.error("a flow could not start", metadata: ["spiegel.graph": "\(graph ?? "default")", "spiegel.error": "\(error)"])
            self.outputs.append(self.context.library.message(.ended, in: language))
        }
    }

    private mutating func apply(_ step: DialogueStep) {
        self.snapshot.state = step.state
        self.outputs += step.outputs
        for effect in step.effects {
            switch effect {
            case .end(let graph, let summary):
                self.snapshot.history.append(.init(graph: graph, endedAt: self.now, summary: summary))
                self.proposeSummary(graph: graph, summary: summary)
            case .requestExport:
                self.wantsExport = true
            case .requestErasure:
                self.snapshot.pendingConfirmation = "forget"
                self.outputs.append(self.context.text("forget_confirm", step.state.language))
            case .requestShare:
                let paired = self.pairing?.accepted == true
                self.outputs.append(self.context.text(paired ? "share_at_end" : "pairing_none", step.state.language))
            case .scheduleFollowUp(let after, let graph):
                guard !self.snapshot.followUpsOff else { break }
                let plan = step.state.answers["plan"], sign = step.state.answers["teken"]
                let due = plan.flatMap(self.planDay) ?? step.state.answers["plan_wanneer"].flatMap(self.planDay) ?? self.now.addingTimeInterval(TimeInterval(after))
                self.snapshot.followUp = FollowUpProposal(graph: graph, due: due, plan: plan, sign: sign)
            case .storeAnswer, .pause, .resume:
                break
            }
        }
    }

    /// "mijn voortgang": the scores as a sparkline, and the goals and plans, in the coachee's words.
    private func progress() -> [String] {
        let history = self.snapshot.history
        guard !history.sessions.isEmpty else { return [self.context.text("progress_nothing", self.language)] }
        var lines: [String] = []
        let scores = history.scores
        if !scores.isEmpty {
            lines.append(self.context.text("progress_scores", self.language, [
                "sparkline": Self.sparkline(scores.map(\.score)),
                "scores": scores.map { String($0.score) }.joined(separator: ", "),
            ]))
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "d/M"
        formatter.timeZone = TimeZone(identifier: self.context.configuration.timeZone)
        var plans = [self.context.text("progress_plans", self.language)]
        for session in history.sessions.suffix(10) {
            let parts = ["doel", "plan"].compactMap { key in session.summary[key].map { "\(key): \($0)" } }
            if !parts.isEmpty { plans.append("– \(formatter.string(from: session.endedAt)): " + parts.joined(separator: "; ")) }
        }
        if plans.count > 1 { lines.append(plans.joined(separator: "\n")) }
        return lines
    }

    /// The afternoon of the day a plan names ("donderdag in 2C", "next Monday"), at the hour
    /// follow-ups go out; `nil` when it names none within the coming eight weeks.
    func planDay(_ plan: String) -> Date? {
        let zone = TimeZone(identifier: self.context.configuration.timeZone) ?? TimeZone(identifier: "Europe/Brussels")!
        guard let parsed = DutchDateParser.parse(plan, now: self.now, timeZone: zone) else { return nil }
        var day = parsed.day
        day.hour = Self.followUpHour
        day.minute = 0
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard let date = calendar.date(from: day), date > self.now, date < self.now.addingTimeInterval(56 * 86400) else { return nil }
        return date
    }

    /// Follow-ups go out after school, on the day of the plan.
    static let followUpHour = 16

    /// Scores 1 to 10 as eight block heights: 1 "▁", 4 "▃", 7 "▆", 10 "█".
    static func sparkline(_ scores: [Int]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        return String(scores.map { blocks[min(7, max(0, Int((Double($0 - 1) * 7 / 9).rounded())))] })
    }

    /// The language a first message is written in, when its words say so clearly.
    static func language(of text: String) -> String? {
        LanguageGuess.language(of: text)
    }
}
