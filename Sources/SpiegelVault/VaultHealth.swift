import Synchronization

/// Whether the vault takes writes.
///
/// Reasons name the failing step and the system's error ("No space left on device"), never a
/// coachee or a record.
public enum VaultHealth: Sendable, Equatable {
    /// The last write landed.
    case healthy
    /// A write failed and was cut off the files; nothing acknowledged is lost. The next write
    /// tries again, so service resumes by itself once space or file descriptors come back.
    case degraded(reason: String)
    /// A sync failed: what the disk holds is no longer known, so the vault takes no more writes.
    /// Only a restart, which replays the write-ahead log, recovers.
    case failed(reason: String)
}

/// The vault's health, readable from any thread, with a wait for failure.
final class HealthMonitor: Sendable {
    private struct State {
        var health = VaultHealth.healthy
        var waiters: [Int: CheckedContinuation<String?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    var current: VaultHealth { self.state.withLock { $0.health } }

    /// Sets the health; a failed vault stays failed.
    /// - Returns: the health before, when it changed.
    @discardableResult
    func set(_ health: VaultHealth) -> VaultHealth? {
        let (previous, waiters): (VaultHealth?, [CheckedContinuation<String?, Never>]) = self.state.withLock { state in
            if case .failed = state.health { return (nil, []) }
            guard state.health != health else { return (nil, []) }
            let previous = state.health
            state.health = health
            guard case .failed = health else { return (previous, []) }
            defer { state.waiters = [:] }
            return (previous, Array(state.waiters.values))
        }
        if case .failed(let reason) = health {
            for waiter in waiters { waiter.resume(returning: reason) }
        }
        return previous
    }

    /// Returns the reason once the vault has failed, or `nil` when the task is cancelled first.
    func failure() async -> String? {
        let id = self.state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let immediate: String?? = self.state.withLock { state in
                    if case .failed(let reason) = state.health { return .some(reason) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
