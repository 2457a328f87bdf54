/// The proposed groups for an intervision meeting.
///
/// Up to six people meet as one plenary group. With more than six the team splits in two, as
/// equal in size as possible, and the teachers of each lesson duo go to DIFFERENT groups (each
/// brings the shared lesson to their own group). Deterministic: the same input gives the same
/// proposal.
public enum GroupSplit {
    /// The largest team that meets as one group.
    public static let maximumPlenarySize = 6

    /// Splits `members` into groups for intervision.
    ///
    /// - `members`: the people, in a stable order; duplicates count once. Only they are placed:
    ///   duo entries that are not members are ignored.
    /// - `duos`: the lesson duos (a group of three is split 2–1).
    /// - Returns no group for no members; one group, all members in input order, for up to
    ///   ``maximumPlenarySize``; else two groups, each in input order, the group holding the
    ///   earliest member first.
    ///
    /// How two groups are made: the duos link their members; each linked set is coloured in
    /// two sides (breadth-first, in input order), and the sets are placed in order of their
    /// earliest member, the larger side into the currently smaller group (ties: the first
    /// group). Members not in a duo come last, each into the smaller group. So with disjoint
    /// duos every duo is split and the sizes differ by at most one.
    public static func plan(members: [String], duos: [[String]]) -> [[String]] {
        var people: [String] = []
        var index: [String: Int] = [:]
        for member in members where index[member] == nil {
            index[member] = people.count
            people.append(member)
        }
        guard !people.isEmpty else { return [] }
        guard people.count > maximumPlenarySize else { return [people] }

        var neighbours = Array(repeating: [Int](), count: people.count)
        for duo in duos {
            var seen: Set<Int> = []
            let linked = duo.compactMap { index[$0] }.filter { seen.insert($0).inserted }
            for (position, a) in linked.enumerated() {
                for b in linked[(position + 1)...] {
                    neighbours[a].append(b)
                    neighbours[b].append(a)
                }
            }
        }

        var side = Array(repeating: -1, count: people.count)
        var group = Array(repeating: -1, count: people.count)
        var sizes = [0, 0]
        var singles: [Int] = []
        func smaller() -> Int { sizes[0] <= sizes[1] ? 0 : 1 }

        for start in people.indices where side[start] == -1 {
            guard !neighbours[start].isEmpty else {
                singles.append(start)
                side[start] = 0
                continue
            }
            // Colour the linked set breadth-first; a conflict (an odd cycle) keeps the first colour.
            var component = [start]
            side[start] = 0
            var next = 0
            while next < component.count {
                let person = component[next]
                next += 1
                for other in neighbours[person].sorted() where side[other] == -1 {
                    side[other] = 1 - side[person]
                    component.append(other)
                }
            }
            let count = [component.filter { side[$0] == 0 }.count, component.filter { side[$0] == 1 }.count]
            let larger = count[0] >= count[1] ? 0 : 1
            let target = smaller()
            for person in component {
                group[person] = side[person] == larger ? target : 1 - target
            }
            sizes[target] += count[larger]
            sizes[1 - target] += count[1 - larger]
        }
        for person in singles {
            let target = smaller()
            group[person] = target
            sizes[target] += 1
        }

        let groups = [0, 1].map { number in people.indices.filter { group[$0] == number }.map { people[$0] } }
            .filter { !$0.isEmpty }
        return groups.sorted { index[$0[0]]! < index[$1[0]]! }
    }
}
