import Foundation
import SpiegelDialogue
import SpiegelVault

/// Sharing with a coach, and the pairing behind it. Nothing leaves without the coachee's "ja" on
/// the exact text; no answer means nothing is shared.
extension Turn {
    /// The coachee's coach: asked for in chat, or paired in config (accepted by definition).
    var pairing: CoachPairing? {
        if let pairing = self.snapshot.pairing { return pairing }
        return self.context.configuration.pairings[self.coachee].map { CoachPairing(coach: $0, accepted: true, since: .distantPast) }
    }

    /// Handles a sharing or pairing command, or an answer about a summary; returns whether the
    /// message was used up. Anything else while a summary waits means "no answer": nothing is
    /// shared, and the message goes on to the conversation.
    mutating func handleSharing(_ text: String) -> Bool {
        let command = SharingCommand(text)
        if let draft = self.snapshot.shareDraft {
            if self.answer(draft, text: text, command: command) { return true }
            self.record(.declined, draft, text: nil)
            self.snapshot.shareDraft = nil
        }
        guard let command else { return false }
        switch command {
        case .coachIs(let coach):
            guard coach != self.coachee else {
                self.say("pairing_self")
                return true
            }
            if let current = self.snapshot.pairing, current.coach != coach {
                self.crossEffects.append(.endPairing(coach: current.coach, coachee: self.coachee))
            }
            self.snapshot.pairing = CoachPairing(coach: coach, accepted: false, since: self.now)
            self.crossEffects.append(.requestPairing(coach: coach, coachee: self.coachee))
            self.say("pairing_requested", ["coach": coach])
        case .endPairing:
            guard let pairing = self.snapshot.pairing else {
                self.say("pairing_none")
                return true
            }
            self.snapshot.pairing = nil
            self.crossEffects.append(.endPairing(coach: pairing.coach, coachee: self.coachee))
            self.say("pairing_ended")
        case .accept(let coachee), .decline(let coachee):
            let accepted = command == .accept(coachee)
            guard let index = self.snapshot.pairingRequests.firstIndex(where: { $0.coachee == coachee }) else {
                self.say("pairing_no_request", ["coachee": coachee])
                return true
            }
            self.snapshot.pairingRequests.remove(at: index)
            if accepted, !self.snapshot.coachees.contains(coachee) { self.snapshot.coachees.append(coachee) }
            self.crossEffects.append(.answerPairing(coachee: coachee, coach: self.coachee, accepted: accepted))
            self.say(accepted ? "pairing_accepted_coach" : "pairing_declined_coach", ["coachee": coachee])
        case .invite(let user):
            guard user != self.coachee else { return false }
            self.crossEffects.append(.invite(user: user, coach: self.coachee))
        case .overview:
            self.overview()
        case .sharedList:
            self.sharedList()
        case .withdraw(let number):
            self.withdraw(number)
        case .all, .nothing, .numbers, .edit, .no:
            // Without a summary waiting these are answers to the conversation ("1", "nee").
            return false
        }
        return true
    }

    /// At the end of a flow, with an accepted coach: the summary in the coachee's words, numbered.
    mutating func proposeSummary(graph: String, summary: [String: String]) {
        guard let pairing = self.pairing, pairing.accepted else { return }
        var parts: [SharePart] = []
        let previousScore = self.snapshot.history.sessions.dropLast().last(where: { $0.summary["cijfer"] != nil })?.summary["cijfer"]
        for (name, label) in self.context.library.answerLabels(in: graph, language: self.language) {
            guard var text = summary[name]?.trimmingWhitespace(), !text.isEmpty else { continue }
            if name == "cijfer", let previousScore {
                text = self.context.text("share_score_change", self.language, ["score": text, "previous": previousScore])
            }
            parts.append(SharePart(label: label, text: text))
        }
        guard !parts.isEmpty else { return }
        let draft = ShareDraft(id: RandomID.make(), coach: pairing.coach, graph: graph, endedAt: self.now, parts: parts, stage: .question)
        self.snapshot.shareDraft = draft
        self.record(.shown, draft, text: Self.list(parts))
        self.outputs.append(self.context.text("share_intro", self.language) + "\n" + Self.list(parts))
        self.say("share_ask_question", ["coach": pairing.coach])
    }

    /// An answer while a summary waits; `false` when the message is about something else.
    private mutating func answer(_ draft: ShareDraft, text: String, command: SharingCommand?) -> Bool {
        var draft = draft
        switch draft.stage {
        case .question:
            // "alles", "niets", numbers or an edit right at the summary are the choice itself.
            switch command {
            case .all, .nothing, .numbers, .edit:
                draft.stage = .choose
                self.snapshot.shareDraft = draft
                return self.answer(draft, text: text, command: command)
            default:
                break
            }
            if self.context.library.flow(named: text) != nil || (command != nil && command != .no) { return false }
            if command != .no {
                draft.parts.append(SharePart(label: self.context.text("share_label_question", self.language), text: text.trimmingWhitespace()))
            }
            draft.stage = .choose
            self.snapshot.shareDraft = draft
            self.outputs.append(Self.list(draft.parts))
            self.say("share_choose", ["coach": draft.coach])
        case .choose:
            switch command {
            case .all:
                self.preview(&draft, selected: Array(draft.parts.indices))
            case .numbers(let numbers):
                guard numbers.allSatisfy({ (1...draft.parts.count).contains($0) }) else {
                    self.say("share_bad_number", ["max": String(draft.parts.count)])
                    return true
                }
                self.preview(&draft, selected: Array(Set(numbers.map { $0 - 1 })).sorted())
            case .edit(let number, let newText):
                guard (1...draft.parts.count).contains(number) else {
                    self.say("share_bad_number", ["max": String(draft.parts.count)])
                    return true
                }
                draft.parts[number - 1].text = newText
                self.snapshot.shareDraft = draft
                self.record(.edited, draft, text: "\(number). " + newText)
                self.outputs.append(self.context.text("share_edited", self.language) + "\n" + Self.list(draft.parts))
                self.say("share_choose", ["coach": draft.coach])
            case .nothing, .no:
                self.record(.declined, draft, text: nil)
                self.snapshot.shareDraft = nil
                self.say("share_nothing", ["coach": draft.coach])
            default:
                return false
            }
        case .confirm:
            if self.context.library.command(in: text) == "confirm" {
                self.send(draft)
            } else if command == .no || command == .nothing {
                draft.stage = .choose
                draft.selected = []
                self.snapshot.shareDraft = draft
                self.say("share_not_sent")
            } else {
                return false
            }
        }
        return true
    }

    /// Shows the exact text that would go out and asks to confirm.
    private mutating func preview(_ draft: inout ShareDraft, selected: [Int]) {
        draft.selected = selected
        draft.stage = .confirm
        self.snapshot.shareDraft = draft
        let text = self.outgoingText(draft)
        self.record(.approved, draft, text: text)
        self.outputs.append(self.context.text("share_preview", self.language, ["coach": draft.coach]) + "\n\n" + text)
        self.say("share_confirm")
    }

    /// The coachee said "ja": the approved text goes to the coach, and nothing else.
    private mutating func send(_ draft: ShareDraft) {
        let text = self.outgoingText(draft)
        self.record(.sent, draft, text: text)
        self.snapshot.shareDraft = nil
        self.snapshot.shared.append(SharedSummary(id: draft.id, coach: draft.coach, sentAt: self.now, text: text))
        self.crossEffects.append(.deliverSummary(coach: draft.coach, summary: ReceivedSummary(id: draft.id, from: self.coachee, sentAt: self.now, text: text)))
        self.say("share_sent", ["coach": draft.coach])
    }

    /// The coachee's name and the date, then the chosen parts: exactly what the coach gets.
    private func outgoingText(_ draft: ShareDraft) -> String {
        let header = self.context.text("share_header", self.language, ["coachee": self.coachee, "date": self.date(draft.endedAt)])
        return ([header] + draft.selected.map { "– \(draft.parts[$0].label): \(draft.parts[$0].text)" }).joined(separator: "\n")
    }

    /// "wat heb ik gedeeld?": every shared summary, numbered, withdrawn ones marked.
    private mutating func sharedList() {
        guard !self.snapshot.shared.isEmpty else {
            self.say("shared_none")
            return
        }
        let withdrawn = self.context.text("shared_withdrawn", self.language)
        let lines = self.snapshot.shared.enumerated().map { index, summary in
            "\(index + 1). \(self.date(summary.sentAt)), \(summary.coach)\(summary.withdrawn ? " " + withdrawn : ""):\n\(summary.text)"
        }
        self.outputs.append(([self.context.text("shared_intro", self.language)] + lines).joined(separator: "\n\n"))
    }

    /// "trek in [N]": the latest (or the N-th) shared summary is withdrawn and its coach told.
    private mutating func withdraw(_ number: Int?) {
        let candidates = self.snapshot.shared.indices.filter { !self.snapshot.shared[$0].withdrawn }
        let index = number.map { $0 - 1 } ?? candidates.last
        guard let index, self.snapshot.shared.indices.contains(index), !self.snapshot.shared[index].withdrawn else {
            self.say("withdraw_nothing")
            return
        }
        let summary = self.snapshot.shared[index]
        self.snapshot.shared[index].withdrawn = true
        self.consent.append(ConsentRecord(event: .withdrawn, summary: summary.id, coach: summary.coach, text: summary.text))
        self.crossEffects.append(.withdrawSummary(coach: summary.coach, id: summary.id, coachee: self.coachee, sentAt: summary.sentAt))
        self.say("withdrawn", ["coach": summary.coach])
    }

    /// "overzicht", for a coach: the summaries shared with them, from their own record.
    private mutating func overview() {
        guard !self.snapshot.received.isEmpty else {
            self.say("overview_none")
            return
        }
        let withdrawn = self.context.text("shared_withdrawn", self.language)
        let lines = self.snapshot.received.map { summary in
            summary.withdrawn ? "– \(self.date(summary.sentAt)), \(summary.from) \(withdrawn)" : summary.text
        }
        self.outputs.append(([self.context.text("overview_intro", self.language)] + lines).joined(separator: "\n\n"))
    }

    /// Before erasure: every shared summary withdrawn at its coach, the pairing ended.
    mutating func withdrawEverything() {
        for summary in self.snapshot.shared where !summary.withdrawn {
            self.crossEffects.append(.withdrawSummary(coach: summary.coach, id: summary.id, coachee: self.coachee, sentAt: summary.sentAt))
        }
        if let pairing = self.snapshot.pairing {
            self.crossEffects.append(.endPairing(coach: pairing.coach, coachee: self.coachee))
        }
    }

    private mutating func record(_ event: ConsentRecord.Event, _ draft: ShareDraft, text: String?) {
        self.consent.append(ConsentRecord(event: event, summary: draft.id, coach: draft.coach, text: text))
    }

    private mutating func say(_ key: String, _ values: [String: String] = [:]) {
        self.outputs.append(self.context.text(key, self.language, values))
    }

    private func date(_ date: Date) -> String {
        self.context.day(date)
    }

    static func list(_ parts: [SharePart]) -> String {
        parts.enumerated().map { "\($0.offset + 1). \($0.element.label): \($0.element.text)" }.joined(separator: "\n")
    }
}
