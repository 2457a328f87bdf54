import SpiegelAsync
import Synchronization
import Testing

@Suite struct AsyncLockTests {
    @Test func waitersTakeTheLockInArrivalOrder() async throws {
        let lock = AsyncLock()
        let order = Shared<[Int]>([])
        try await lock.lock()
        var tasks: [Task<Void, any Error>] = []
        for index in 0..<5 {
            tasks.append(Task {
                try await lock.withLock { order.withLock { $0.append(index) } }
            })
            // Each waiter is queued before the next one starts.
            try await Self.until { lock.waiterCount == index + 1 }
        }
        lock.unlock()
        for task in tasks { try await task.value }
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
    }

    @Test func aCancelledWaiterLeavesTheQueueAndDoesNotGetTheLock() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let cancelled = Task { try await lock.lock() }
        try await Self.until { lock.waiterCount == 1 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(lock.waiterCount == 0)
        // The holder hands over to nobody: the lock is free for the next one at once.
        lock.unlock()
        try await lock.lock()
        lock.unlock()
    }

    /// Waits for a state another task reaches, yielding in between (a test helper, bounded).
    static func until(_ condition: () -> Bool) async throws {
        for _ in 0..<100_000 where !condition() { await Task.yield() }
        #expect(condition())
    }
}

@Suite struct AsyncConditionTests {
    @Test func aWaiterWakesWhenTheConditionIsSignalledTrue() async throws {
        let condition = AsyncCondition()
        let value = Shared<Int?>(nil)
        let waiter = Task { try await condition.wait { value.withLock { $0 } } }
        condition.signal()  // Still nil: the waiter checks and sleeps again.
        value.withLock { $0 = 7 }
        condition.signal()
        #expect(try await waiter.value == 7)
    }

    @Test func aTimeoutReturnsNilAndACancelledWaiterThrows() async throws {
        let condition = AsyncCondition()
        let never = try await condition.wait(for: { () -> Int? in nil }, timeout: .milliseconds(20))
        #expect(never == nil)
        let waiter = Task { try await condition.wait { () -> Int? in nil } }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test func anEventSetBeforeOrAfterTheWaitEndsIt() async throws {
        let event = AsyncEvent()
        let early = Task { try await event.wait() }
        event.set()
        try await early.value
        try await event.wait()
        #expect(event.isSet)
    }
}

/// A value several tasks share.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        self.mutex.withLock { body(&$0) }
    }
}
