/// Waiting for a condition instead of sleeping for a guessed time.
public enum Poll {
    /// Checks `condition` every 20 ms until it holds.
    /// - Throws: ``PollTimeout`` (naming `what`) when it still does not hold after `timeout`, so a
    ///   test that waited in vain fails rather than going on as if it had not.
    public static func until(
        _ what: @autoclosure () -> String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw PollTimeout(what: what(), timeout: timeout) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// A condition a test waited for did not come true in time.
public struct PollTimeout: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration
    public var description: String { "waited \(self.timeout) in vain for: \(self.what)" }
}
