import Synchronization

/// A lock for async code: waiters take it in arrival order, and a waiter whose task is cancelled
/// leaves the queue at once with `CancellationError`.
///
/// Meant for short critical sections around durable writes (a document's snapshot, an outbox's
/// journal), where two writers must not interleave at an `await`.
public final class AsyncLock: Sendable {
    private struct State {
        var isLocked = false
        var nextTicket: UInt64 = 0
        /// Waiters in arrival order, by ticket.
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Waits until the lock is free and takes it.
    /// - Throws: `CancellationError` when the task is cancelled before it gets the lock (it then
    ///   does not hold it).
    public func lock() async throws {
        // A free lock is taken without suspending (the common case: no one else holds it).
        enum Free { case taken, cancelled, held(ticket: UInt64) }
        let free = self.state.withLock { state -> Free in
            if Task.isCancelled { return .cancelled }
            if !state.isLocked {
                state.isLocked = true
                return .taken
            }
            defer { state.nextTicket += 1 }
            return .held(ticket: state.nextTicket)
        }
        let ticket: UInt64
        switch free {
        case .taken: return
        case .cancelled: throw CancellationError()
        case .held(let held): ticket = held
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Next { case take, wait, cancelled }
                let next = self.state.withLock { state -> Next in
                    if Task.isCancelled { return .cancelled }
                    if !state.isLocked {
                        state.isLocked = true
                        return .take
                    }
                    state.waiters.append((ticket, continuation))
                    return .wait
                }
                switch next {
                case .take: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let cancelled = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Hands the lock to the next waiter, or frees it.
    public func unlock() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiters.isEmpty else {
                state.isLocked = false
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    /// How many tasks wait for the lock (for tests and metrics).
    public var waiterCount: Int { self.state.withLock { $0.waiters.count } }

    /// Runs `body` holding the lock.
    public func withLock<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await self.lock()
        defer { self.unlock() }
        return try await body()
    }
}
