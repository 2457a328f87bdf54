/// NIVEA ("niet invullen voor een ander"): the bot asks open questions and gives no unasked advice.
/// Warnings, since wording is a coach's judgement; `closed: true` and `advice: true` on a node say
/// the wording is on purpose.
enum NiveaCheck {
    /// First words that make a question closed (answered with yes or no).
    static let closedStarts: [String: Set<String>] = [
        "nl": ["is", "ben", "bent", "zijn", "was", "waren", "heb", "hebt", "heeft", "hebben", "had", "kan", "kun", "kunt", "kon",
               "wil", "wilt", "zou", "zal", "moet", "mag", "vind", "vond", "denk", "dacht", "doe", "deed", "weet", "ga", "gaat",
               "lukt", "lukte", "klopt", "snap", "begrijp", "voel", "voelde"],
        "en": ["is", "are", "was", "were", "do", "does", "did", "can", "could", "would", "will", "should", "have", "has",
               "had", "may", "might", "shall", "am"],
    ]
    /// Questions that put an answer in the coachee's mouth.
    static let suggestive: [String: [String]] = [
        "nl": ["vind je niet dat", "vindt u niet dat", "zou het niet beter zijn", "denk je niet dat", "is het niet zo dat",
               "ben je het niet eens", "moet je niet", "zou je niet beter", "had je niet beter", "was het niet beter"],
        "en": ["don t you think", "wouldn t it be better", "isn t it true", "shouldn t you", "wouldn t you agree", "don t you agree"],
    ]
    /// Wording that gives advice.
    static let advice: [String: [String]] = [
        "nl": ["je moet", "jij moet", "je zou beter", "probeer eens", "mijn advies", "ik raad je aan", "ik raad aan", "het is beter om",
               "je kan best", "je kunt best", "doe gewoon", "ik zou"],
        "en": ["you should", "you must", "try to", "i suggest", "my advice", "i recommend", "it is better to", "if i were you"],
    ]

    /// Wording that interprets what the coachee said or labels the coachee: a mirror repeats their
    /// words, it does not explain them.
    static let interpreting: [String: [String]] = [
        "nl": ["dat betekent", "dit betekent", "het zegt dat", "dat zegt dat", "dit zegt dat", "wat zegt dat", "je bent een",
               "jij bent een", "je bent gewoon", "je bent te", "je bent dus", "eigenlijk bedoel je", "wat je eigenlijk bedoelt",
               "je voelt je dus", "dus eigenlijk", "zegt dat het je", "zegt dat je"],
        "en": ["that means", "this means", "it says that", "that says that", "which says that", "you are a", "you are an",
               "you re a", "you are just", "you are too", "what you really mean", "so you feel", "so really", "it says this", "that says you"],
    ]

    static func check(_ graph: DialogueGraph) -> [LintFinding] {
        var findings: [LintFinding] = []
        for id in graph.nodeOrder {
            guard let node = graph.nodes[id] else { continue }
            let question: LocalizedText? = if case .ask(let text, _, _, _, _) = node.kind { text } else { nil }
            if let question, !node.isClosedOnPurpose {
                for (language, text) in question.translations.sorted(by: { $0.key < $1.key }) {
                    let first = TextMatching.normalize(text).split(separator: " ").first.map(String.init) ?? ""
                    if self.closedStarts[language]?.contains(first) == true {
                        findings.append(.init(.warning, .closedQuestion, at: question.location ?? node.location,
                                              "node `\(id)` (\(language)): “\(first) …” asks for yes or no; an open question (wat, hoe, welke…) lets the coachee answer in their own words, or mark the node `closed: true`"))
                    }
                }
            }
            for text in node.texts {
                // The neutral form is said as well: it is held to the same rules.
                for (language, words) in (text.translations.map { ($0.key, $0.value) } + text.neutral.map { ($0.key, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
                    let padded = " " + TextMatching.normalize(words) + " "
                    if let phrase = self.suggestive[language]?.first(where: { padded.contains(" \($0) ") }) {
                        findings.append(.init(.warning, .suggestiveQuestion, at: text.location ?? node.location,
                                              "node `\(id)` (\(language)): “\(phrase)…” suggests the answer; ask openly instead"))
                    }
                    if let phrase = self.interpreting[language]?.first(where: { padded.contains(" \($0) ") }) {
                        findings.append(.init(.warning, .interpreting, at: text.location ?? node.location,
                                              "node `\(id)` (\(language)): “\(phrase)…” interprets or labels the coachee; mirror their own words instead"))
                    }
                    if !node.isAdvice, let phrase = self.advice[language]?.first(where: { padded.contains(" \($0) ") }) {
                        findings.append(.init(.warning, .advice, at: text.location ?? node.location,
                                              "node `\(id)` (\(language)): “\(phrase)…” gives advice; let the coachee find their own step, or mark the node `advice: true`"))
                    }
                }
            }
        }
        return findings
    }
}
