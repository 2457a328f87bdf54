import SpiegelDialogue
import Testing

@Suite struct ConditionTests {
    private let values = ["cijfer": "7", "doel": "Meer rust in de klas", "thema": "Leerling", "leeg": "", "vorige.cijfer": "5", "vast": "2"]

    @Test(arguments: [
        ("cijfer >= 7", true), ("cijfer > 7", false), ("cijfer < 10", true), ("cijfer <= 6", false),
        ("cijfer == 7", true), ("cijfer = 7", true), ("cijfer != 7", false), ("cijfer > vorige.cijfer", true),
        ("doel contains 'rust'", true), ("doel bevat \"RÚST\"", true), ("doel contains 'chaos'", false),
        ("thema == 'leerling'", true), ("thema != 'les'", true),
        ("doel", true), ("leeg", false), ("onbekend", false), ("not onbekend", true), ("niet doel", false),
        ("cijfer >= 7 and vast > 1", true), ("cijfer >= 8 or vast > 1", true), ("cijfer >= 8 en vast > 1", false),
        ("cijfer >= 8 of vast > 1", true), ("not (cijfer >= 8 or vast > 3)", true), ("onbekend > 3", false),
        ("onbekend != 3", true), ("-1 < cijfer", true), ("cijfer == 7.0", true),
    ])
    func conditionsEvaluateOverStoredValues(source: String, expected: Bool) throws {
        let condition = try Condition(source)
        #expect(condition.holds { self.values[$0] } == expected)
    }

    @Test func theNamesReadAreListed() throws {
        #expect(try Condition("cijfer > vorige.cijfer and not doel contains 'x'").variables == ["cijfer", "vorige.cijfer", "doel"])
    }

    @Test(arguments: [
        ("", 0), ("cijfer >", 8), ("cijfer >= 7 and", 15), ("(a or b", 7), ("'open", 0), ("a b", 2), ("and b", 0), ("a == == b", 5),
    ])
    func malformedConditionsSayWhere(source: String, offset: Int) {
        let error = #expect(throws: ConditionError.self) { try Condition(source) }
        #expect(error?.offset == offset, "\(String(describing: error))")
    }
}
