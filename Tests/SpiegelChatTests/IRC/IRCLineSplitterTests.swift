import SpiegelChat
import SpiegelTestKit
import Testing

/// Cutting replies into PRIVMSG texts that fit a relayed 512-byte line.
@Suite struct IRCLineSplitterTests {
    private let splitter = IRCLineSplitter()

    /// What a piece may hold for `target` after `prefixBytes`.
    private func budget(_ target: String, prefixBytes: Int, maxLineBytes: Int = 512) -> Int {
        maxLineBytes - prefixBytes - "PRIVMSG \(target) :".utf8.count - 2
    }

    @Test func shortTextIsOneLine() {
        #expect(splitter.lines(for: "Hoe ging je les?", target: "an", prefixBytes: 20) == ["Hoe ging je les?"])
    }

    @Test func eachLineOfTheTextIsItsOwnMessageAndEmptyLinesAreDropped() {
        let text = "Dank je.\n\nWat ging goed?\r\nEn wat niet?\rVertel.\n   \n\u{2028}Tot zo.\n"
        #expect(splitter.lines(for: text, target: "an", prefixBytes: 20) == ["Dank je.", "Wat ging goed?", "En wat niet?", "Vertel.", "Tot zo."])
    }

    @Test func controlCharactersIRCCannotCarryAreRemoved() {
        #expect(splitter.lines(for: "a\u{0}b \u{1}ACTION zwaait\u{1}", target: "an", prefixBytes: 20) == ["ab ACTION zwaait"])
        #expect(splitter.lines(for: "\u{0}\u{1}  \n", target: "an", prefixBytes: 20) == [])
    }

    @Test func pieceOfExactlyTheBudgetFitsAndOneByteMoreIsSplit() {
        let size = budget("an", prefixBytes: 100)
        let exact = String(repeating: "a", count: size)
        #expect(splitter.lines(for: exact, target: "an", prefixBytes: 100) == [exact])
        #expect(splitter.lines(for: exact + "b", target: "an", prefixBytes: 100) == [exact, "b"])

        let words = String(repeating: "a", count: size - 3) + " bb"
        #expect(splitter.lines(for: words, target: "an", prefixBytes: 100) == [words])
        #expect(splitter.lines(for: words + "b", target: "an", prefixBytes: 100) == [String(repeating: "a", count: size - 3), "bbb"])
    }

    @Test func longLinesAreCutAfterTheLastWordThatFits() {
        let small = IRCLineSplitter(maxLineBytes: 60)
        let text = "Wat zou je morgen anders doen als de klas weer zo onrustig is na de pauze?"
        let pieces = small.lines(for: text, target: "an", prefixBytes: 20)
        let size = budget("an", prefixBytes: 20, maxLineBytes: 60)
        #expect(pieces.joined(separator: " ") == text)
        for (piece, next) in zip(pieces, pieces.dropFirst()) {
            #expect(piece.utf8.count <= size)
            // The next word would not have fitted.
            #expect((piece + " " + next.prefix { $0 != " " }).utf8.count > size)
        }
    }

    @Test func wordLongerThanALineIsCutBetweenCharacters() {
        let url = "https://example.org/" + String(repeating: "lesvoorbereiding/", count: 60)
        let size = budget("#staff", prefixBytes: IRCLineSplitter.unknownPrefixBytes)
        let pieces = splitter.lines(for: "Zie \(url) voor meer.", target: "#staff", prefixBytes: IRCLineSplitter.unknownPrefixBytes)
        #expect(pieces.first == "Zie")
        #expect(pieces.dropFirst().first?.utf8.count == size)
        #expect(pieces.joined() == "Zie" + url + " voor meer.")
    }

    @Test func multiByteCharactersAreNeverCut() {
        // An odd budget filled with two-byte letters leaves one byte unused.
        let prefixBytes = budget("an", prefixBytes: 0) % 2 == 1 ? 30 : 31
        let size = budget("an", prefixBytes: prefixBytes)
        let pieces = splitter.lines(for: String(repeating: "é", count: size / 2 + 1), target: "an", prefixBytes: prefixBytes)
        #expect(pieces == [String(repeating: "é", count: size / 2), "é"])
    }

    @Test(arguments: ["👍🏽", "👩🏾‍🏫", "👨‍👩‍👧‍👦", "🇳🇱", "e\u{0301}", "a\u{0308}\u{0301}"])
    func graphemeClustersAreNeverCut(cluster: String) {
        let small = IRCLineSplitter(maxLineBytes: 80)
        for count in 1...40 {
            let text = String(repeating: cluster, count: count)
            let pieces = small.lines(for: text, target: "an", prefixBytes: 21)
            #expect(pieces.allSatisfy { $0.utf8.count <= budget("an", prefixBytes: 21, maxLineBytes: 80) })
            #expect(pieces.allSatisfy { Array($0).allSatisfy { $0 == Character(cluster) } })
            #expect(pieces.joined() == text)
        }
    }

    @Test func listItemsStaySeparateAndContinuationsAreIndented() {
        let small = IRCLineSplitter(maxLineBytes: 70)
        let text = """
            Drie ideeën:
            – Begin de les met een korte, duidelijke opdracht die iedereen kan doen.
            - Noem de regels van tevoren en herhaal ze na de pauze nog een keer.
            • Kort.
            12. Sluit af met een vraag aan de hele klas over wat ze hebben geleerd.
            Een gewone zin die ook lang genoeg is om over meer regels te gaan, zonder inspringen.
            """
        let pieces = small.lines(for: text, target: "an", prefixBytes: 20)
        let size = budget("an", prefixBytes: 20, maxLineBytes: 70)
        #expect(pieces.allSatisfy { $0.utf8.count <= size })
        #expect(pieces.filter { $0.hasPrefix("– ") || $0.hasPrefix("- ") || $0.hasPrefix("• ") || $0.hasPrefix("12. ") }.count == 4)
        #expect(pieces.contains("• Kort."))
        let continued = pieces.filter { $0.hasPrefix("  ") }
        #expect(continued.count >= 3)
        #expect(continued.allSatisfy { !$0.dropFirst(2).hasPrefix(" ") })
        let sentence = pieces.drop { !$0.hasPrefix("Een gewone zin") }
        #expect(sentence.count >= 2)
        #expect(sentence.allSatisfy { !$0.hasPrefix(" ") })
        let firstItem = pieces.drop { !$0.hasPrefix("– ") }.prefix { !$0.hasPrefix("- ") }
        #expect(firstItem.count >= 2)
        #expect(firstItem.dropFirst().allSatisfy { $0.hasPrefix("  ") })
        #expect(firstItem.map { $0.trimmingSpaces }.joined(separator: " ") == "– Begin de les met een korte, duidelijke opdracht die iedereen kan doen.")
    }

    @Test func absurdTargetGivesOneClusterPerPieceInsteadOfLooping() {
        let target = String(repeating: "x", count: 600)
        #expect(splitter.lines(for: "hé 👍🏽", target: target, prefixBytes: 20) == ["h", "é", "👍🏽"])
    }

    @Test func clusterLongerThanALineIsCutBetweenItsScalars() {
        let zalgo = "e" + String(repeating: "\u{0301}", count: 400)  // 801 bytes, one grapheme cluster
        let size = budget("an", prefixBytes: 20)
        let pieces = splitter.lines(for: "ok " + zalgo + " ok", target: "an", prefixBytes: 20)
        #expect(pieces.allSatisfy { $0.utf8.count <= size })
        #expect(pieces.count == 3)
        #expect(pieces.first == "ok")
        #expect(Array(pieces.dropFirst().joined().unicodeScalars) == Array((zalgo + " ok").unicodeScalars))
    }

    /// The 512-byte promise, and no lost, added or cut characters, over many generated texts.
    @Test func everyPieceFitsOverGeneratedTexts() {
        var random = SeededGenerator(seed: 0x1BC_512)
        let words = [
            "de", "les", "klas", "één", "coördinatie", "reële", "ideeën", "privé", "café", "Curaçao", "naïef",
            "👍🏽", "👩🏾‍🏫", "👨‍👩‍👧‍👦", "🇳🇱🇧🇪", "e\u{0301}", "ä\u{0323}", "—", "“citaat”", "日本語", "\t", "a\u{0}b",
            "https://example.org/lessen/\(String(repeating: "ab", count: 300))", String(repeating: "z", count: 700),
        ]
        let separators = [" ", " ", " ", " ", "  ", "\n", "\n\n", "\r\n", "\n– ", "\n- ", "\n• ", "\n3. ", "\n   "]
        let targets = ["an", "#staff", String(repeating: "n", count: 30), "&lokaal"]
        for _ in 0..<400 {
            var text = ""
            for _ in 0..<Int.random(in: 0...120, using: &random) {
                text += separators.randomElement(using: &random)! + words.randomElement(using: &random)!
            }
            let target = targets.randomElement(using: &random)!
            let maxLineBytes = [512, 512, 160, 100].randomElement(using: &random)!
            // Leave room for the longest cluster in `words` (25 bytes), so the promise can hold.
            let widestPrefix = min(IRCLineSplitter.unknownPrefixBytes, budget(target, prefixBytes: 0, maxLineBytes: maxLineBytes) - 30)
            let prefixBytes = Int.random(in: 2...widestPrefix, using: &random)
            let pieces = IRCLineSplitter(maxLineBytes: maxLineBytes).lines(for: text, target: target, prefixBytes: prefixBytes)

            for piece in pieces {
                #expect(prefixBytes + "PRIVMSG \(target) :".utf8.count + piece.utf8.count + 2 <= maxLineBytes)
                #expect(piece.contains { !$0.isWhitespace })
                #expect(!piece.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\u{0}" })
                #expect(piece.last?.isWhitespace == false)
                let body = piece.hasPrefix("  ") ? piece.dropFirst(2) : piece[...]
                #expect(body.first?.isWhitespace == false)
            }
            // Comparing per piece catches a cluster cut in two: its halves are other characters.
            let sent = pieces.flatMap { Array($0) }.filter { !$0.isWhitespace }
            let written = Array(text.replacingZero).filter { !$0.isWhitespace }
            #expect(sent == written)
        }
    }
}

extension String {
    fileprivate var replacingZero: String {
        String(String.UnicodeScalarView(unicodeScalars.filter { $0 != "\u{0}" }))
    }

    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
