import SpiegelSchedule
import Testing

/// SplitMix64: a small seeded generator, so the random layouts are the same on every run.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func people(_ count: Int) -> [String] { (1...count).map { "T\($0)" } }

/// Whether every duo's members (those in `groups`) are in different groups.
private func everyDuoSplit(_ groups: [[String]], _ duos: [[String]]) -> Bool {
    duos.allSatisfy { duo in
        let placed = duo.compactMap { name in groups.firstIndex { $0.contains(name) } }
        return Set(placed).count == placed.count
    }
}

@Suite struct GroupSplitTests {
    @Test func fivePeopleMeetAsOneGroup() {
        let members = people(5)
        #expect(GroupSplit.plan(members: members, duos: [["T1", "T2"], ["T3", "T4"]]) == [members])
    }

    @Test func sixPeopleMeetAsOneGroup() {
        let members = people(6)
        #expect(GroupSplit.plan(members: members, duos: [["T1", "T2"], ["T3", "T4"], ["T5", "T6"]]) == [members])
    }

    @Test func sevenPeopleSplitFourAndThree() {
        let duos = [["T1", "T5"], ["T2", "T6"], ["T3", "T7"]]
        let groups = GroupSplit.plan(members: people(7), duos: duos)
        #expect(groups == [["T1", "T2", "T3", "T4"], ["T5", "T6", "T7"]])
        #expect(everyDuoSplit(groups, duos))
    }

    @Test func eightPeopleWithFourDuosSplitFourAndFourEveryDuoSplit() {
        let duos = [["T1", "T2"], ["T3", "T4"], ["T5", "T6"], ["T7", "T8"]]
        let groups = GroupSplit.plan(members: people(8), duos: duos)
        #expect(groups == [["T1", "T3", "T5", "T7"], ["T2", "T4", "T6", "T8"]])
        #expect(everyDuoSplit(groups, duos))
    }

    @Test func ninePeopleWithMembersOutsideDuosFillUpToBalance() {
        let members = ["Ann", "Bert", "Cas", "Dirk", "Eva", "Fred", "Gijs", "Hanne", "Ines"]
        let duos = [["Bert", "Eva"], ["Gijs", "Cas"], ["Hanne", "Ann"]]
        let groups = GroupSplit.plan(members: members, duos: duos)
        #expect(groups == [["Ann", "Bert", "Cas", "Dirk", "Ines"], ["Eva", "Fred", "Gijs", "Hanne"]])
        #expect(everyDuoSplit(groups, duos))

        // Nine with four duos and one teacher alone.
        let fourDuos = [["T1", "T2"], ["T3", "T4"], ["T5", "T6"], ["T7", "T8"]]
        let nine = GroupSplit.plan(members: people(9), duos: fourDuos)
        #expect(nine.map(\.count) == [5, 4])
        #expect(everyDuoSplit(nine, fourDuos))
    }

    @Test func edgeCases() {
        #expect(GroupSplit.plan(members: [], duos: []) == [])
        // Duplicates count once; duo names that are not members are ignored.
        #expect(GroupSplit.plan(members: ["A", "B", "A"], duos: [["A", "X"]]) == [["A", "B"]])
        let groups = GroupSplit.plan(members: people(7), duos: [["T1", "Nobody"], ["T2", "T3"]])
        #expect(groups.map(\.count) == [4, 3])
        #expect(everyDuoSplit(groups, [["T2", "T3"]]))
        // A trio is split two and one.
        let trio = GroupSplit.plan(members: people(8), duos: [["T1", "T2", "T3"], ["T4", "T5"]])
        #expect(trio.map(\.count).sorted() == [4, 4])
        #expect(trio.allSatisfy { group in ["T1", "T2", "T3"].contains { !group.contains($0) } })
    }

    @Test func deterministicForTheSameInput() {
        let members = people(11)
        let duos = [["T4", "T9"], ["T1", "T7"], ["T10", "T2"]]
        let first = GroupSplit.plan(members: members, duos: duos)
        for _ in 0..<5 {
            #expect(GroupSplit.plan(members: members, duos: duos) == first)
        }
    }

    /// Over many random layouts of disjoint duos: everyone placed once, no duo shares a group,
    /// the two sizes differ by at most one, and each group keeps the input order.
    @Test func propertyEveryDuoSplitAndSizesBalanced() {
        var generator = SplitMix64(state: 0x5349_4547_454C)
        for _ in 0..<500 {
            let count = Int.random(in: 1...20, using: &generator)
            let members = people(count).shuffled(using: &generator)
            let inDuos = members.shuffled(using: &generator).prefix(Int.random(in: 0...count, using: &generator))
            let duos = stride(from: 0, to: inDuos.count - 1, by: 2).map {
                [inDuos[inDuos.startIndex + $0], inDuos[inDuos.startIndex + $0 + 1]]
            }
            let groups = GroupSplit.plan(members: members, duos: duos)

            #expect(groups.flatMap { $0 }.sorted() == members.sorted())
            for group in groups {
                let positions = group.map { members.firstIndex(of: $0)! }
                #expect(positions == positions.sorted())
            }
            if count <= 6 {
                #expect(groups == [members])
            } else {
                #expect(groups.count == 2)
                #expect(abs(groups[0].count - groups[1].count) <= 1, "\(members) \(duos) → \(groups)")
                #expect(everyDuoSplit(groups, duos), "\(members) \(duos) → \(groups)")
            }
        }
    }
}
