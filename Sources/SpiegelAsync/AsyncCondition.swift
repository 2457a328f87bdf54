import Synchronization

/// Waiting for a condition that other tasks make true, without polling: a waiter checks, and
/// sleeps until someone calls ``signal()``, then checks again.
///
/// No signal is missed: one that comes between a waiter's check and its sleep wakes it at once.
/// A cancelled waiter stops waiting with `CancellationError`.
public final class AsyncCondition: Sendable {
    private struct State {
        /// Counts signals: a waiter that saw generation `n` and finds `n + 1` checks again.
        var generation: UInt64 = 0
        var nextTicket: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Returns the first non-`nil` value of `check`, called now and after every signal.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func wait<Value>(for check: () throws -> Value?) async throws -> Value {
        while true {
            let generation = self.state.withLock { $0.generation }
            if let value = try check() { return value }
            try await self.sleep(unlessChangedSince: generation)
        }
    }

    /// Like ``wait(for:)``, giving up after `timeout`. `check` runs in the waiting task only, so
    /// a value it takes (a slot, a lease) is never taken for a waiter that already gave up.
    /// - Returns: `nil` when `timeout` passed first.
    public func wait<Value>(for check: () throws -> Value?, timeout: Duration) async throws -> Value? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        // At the deadline every waiter checks again; the others find nothing changed and sleep on.
        let alarm = Task {
            try? await Task.sleep(until: deadline, clock: clock)
            self.signal()
        }
        defer { alarm.cancel() }
        while true {
            let generation = self.state.withLock { $0.generation }
            if let value = try check() { return value }
            if clock.now >= deadline { return nil }
            try await self.sleep(unlessChangedSince: generation)
        }
    }

    /// Wakes every waiter to check again.
    public func signal() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    private func sleep(unlessChangedSince generation: UInt64) async throws {
        let ticket = self.state.withLock { state -> UInt64 in
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Next { case checkAgain, wait, cancelled }
                let next = self.state.withLock { state -> Next in
                    if Task.isCancelled { return .cancelled }
                    if state.generation != generation { return .checkAgain }
                    state.waiters[ticket] = continuation
                    return .wait
                }
                switch next {
                case .checkAgain: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let cancelled = self.state.withLock { $0.waiters.removeValue(forKey: ticket) }
            cancelled?.resume(throwing: CancellationError())
        }
    }
}

/// Something that happens once (the server listens, the state is loaded): waiters before it
/// sleep until it happens, waiters after it go on at once.
public final class AsyncEvent: Sendable {
    private let happened = Mutex(false)
    private let condition = AsyncCondition()

    public init() {}

    /// Marks it happened and wakes every waiter.
    public func set() {
        self.happened.withLock { $0 = true }
        self.condition.signal()
    }

    /// Whether it happened.
    public var isSet: Bool { self.happened.withLock { $0 } }

    /// Waits until it happened.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func wait() async throws {
        try await self.condition.wait { self.isSet ? () : nil }
    }
}
