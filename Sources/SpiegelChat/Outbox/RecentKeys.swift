/// The last `limit` distinct keys seen, for taking a repeated key once: the oldest is forgotten
/// as a new one comes, at a constant cost on average (the order is compacted now and then, not
/// shifted for every key).
struct RecentKeys {
    let limit: Int
    private var known: Set<String> = []
    private var order: [String] = []
    /// How many of `order`'s first keys are forgotten already.
    private var forgotten = 0

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    func contains(_ key: String) -> Bool {
        self.known.contains(key)
    }

    /// Remembers `key`; `false` when it was known already.
    @discardableResult
    mutating func insert(_ key: String) -> Bool {
        guard self.known.insert(key).inserted else { return false }
        self.order.append(key)
        if self.known.count > self.limit {
            self.known.remove(self.order[self.forgotten])
            self.forgotten += 1
            if self.forgotten >= max(1, self.limit / 2) {
                self.order.removeFirst(self.forgotten)
                self.forgotten = 0
            }
        }
        return true
    }

    var count: Int { self.known.count }
}
