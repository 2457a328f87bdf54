internal import CCurl
import Foundation
import Synchronization

/// The thread that drives every transfer of one ``CurlHTTPClient`` through a curl multi handle.
///
/// Other threads only touch the ``Inbox`` (under its lock) and call `curl_multi_wakeup`, which curl
/// allows from any thread; the multi handle, the easy handles and the transfers in flight belong to
/// the loop's thread alone.
final class CurlMultiLoop: @unchecked Sendable {
    /// What other threads hand to the loop.
    fileprivate struct Inbox {
        var submitted: [CurlTransfer] = []
        var cancelled: [CurlTransfer] = []
        var isStopRequested = false
        /// A wake-up is on its way and the loop has not taken the inbox since: no need for another.
        var isWakeupPending = false
        /// Wake-ups decided under the lock and not yet made; the loop does not clean up the multi
        /// handle until this is 0.
        var wakeupsInProgress = 0
        /// Set by the loop, under the lock, before the multi handle is cleaned up: from then on
        /// nobody may call `curl_multi_wakeup`.
        var isClosed = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let inbox = Mutex(Inbox())
    private let multi: UnsafeMutableRawPointer
    /// Easy handles kept for reuse (they keep their DNS cache and TLS session); loop thread only.
    private var idleHandles: [UnsafeMutableRawPointer] = []
    /// Transfers added to the multi handle, by easy handle; loop thread only.
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private static let maxIdleHandles = 64

    init(maxConnectionsPerHost: Int) {
        guard let multi = curl_multi_init() else {
            fatalError("curl_multi_init failed: out of memory")
        }
        self.multi = multi
        _ = spiegel_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost))
        _ = spiegel_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(4, maxConnectionsPerHost * 2))
        let thread = Thread { [self] in
            // Named from inside: a thread inherits its creator's name otherwise (`top -H` shows it).
            spiegel_name_current_thread("spiegel-curl")
            self.run()
        }
        thread.start()
    }

    /// Hands `transfer` to the loop.
    /// - Throws: `CancellationError` if the task was cancelled before, ``HTTPClientError`` with
    ///   code `shutDown` once a stop was requested.
    func submit(_ transfer: CurlTransfer) throws {
        let mustWake = try self.inbox.withLock { inbox in
            if transfer.isCancelledBeforeSubmit {
                throw CancellationError()
            }
            guard !inbox.isStopRequested else {
                throw HTTPClientError(.shutDown, message: "the HTTP client was shut down")
            }
            transfer.isSubmitted = true
            inbox.submitted.append(transfer)
            return inbox.claimWakeup()
        }
        if mustWake { self.wake() }
    }

    /// Asks the loop to end `transfer` with `CancellationError`, unless it has completed already.
    func cancel(_ transfer: CurlTransfer) {
        let mustWake = self.inbox.withLock { inbox in
            guard transfer.isSubmitted else {
                transfer.isCancelledBeforeSubmit = true
                return false
            }
            guard !inbox.isClosed else { return false }
            inbox.cancelled.append(transfer)
            return inbox.claimWakeup()
        }
        if mustWake { self.wake() }
    }

    /// Asks the loop to stop once the transfers in flight are done, without waiting.
    func requestStop() {
        let mustWake = self.inbox.withLock { inbox in
            inbox.isStopRequested = true
            return !inbox.isClosed && inbox.claimWakeup()
        }
        if mustWake { self.wake() }
    }

    /// Stops the loop once the transfers in flight are done, and waits for it.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (closedAlready, mustWake) = self.inbox.withLock { inbox in
                guard !inbox.isClosed else { return (true, false) }
                inbox.isStopRequested = true
                inbox.stopWaiters.append(continuation)
                return (false, inbox.claimWakeup())
            }
            if mustWake { self.wake() }
            if closedAlready { continuation.resume() }
        }
    }

    /// Wakes the loop from `curl_multi_poll`, outside the lock so the loop does not wake only to
    /// wait for it. Only after ``Inbox/claimWakeup()`` returned true.
    private func wake() {
        curl_multi_wakeup(self.multi)
        self.inbox.withLock { $0.wakeupsInProgress -= 1 }
    }

    // MARK: - Loop thread

    private func run() {
        while true {
            let (submitted, cancelled, isStopRequested) = self.inbox.withLock { inbox in
                defer {
                    inbox.submitted.removeAll(keepingCapacity: true)
                    inbox.cancelled.removeAll(keepingCapacity: true)
                    inbox.isWakeupPending = false
                }
                return (inbox.submitted, inbox.cancelled, inbox.isStopRequested)
            }
            for transfer in submitted { self.start(transfer) }
            for transfer in cancelled { self.cancelIfActive(transfer) }
            if isStopRequested && self.active.isEmpty { break }

            var running: Int32 = 0
            curl_multi_perform(self.multi, &running)
            self.finishCompletedTransfers()
            if isStopRequested && self.active.isEmpty { break }
            curl_multi_poll(self.multi, nil, 0, 1000, nil)
        }
        self.close()
    }

    private func start(_ transfer: CurlTransfer) {
        guard let easy = self.idleHandles.popLast() ?? curl_easy_init() else {
            self.finish(transfer, with: .failure(HTTPClientError(.transport, message: "curl_easy_init failed")))
            return
        }
        let code = transfer.configure(easy)
        guard code == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(code))
            self.finish(transfer, with: .failure(HTTPClientError(.invalidRequest, message: reason)))
            return
        }
        self.active[easy] = transfer
        curl_multi_add_handle(self.multi, easy)
    }

    private func cancelIfActive(_ transfer: CurlTransfer) {
        guard let easy = transfer.easy, self.active[easy] === transfer else { return }
        self.finish(transfer, with: .failure(CancellationError()))
    }

    private func finishCompletedTransfers() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = self.active[easy]
            else { continue }
            let code = message.pointee.data.result
            self.finish(transfer, with: transfer.result(for: code).mapError { $0 })
        }
    }

    /// Removes the transfer from curl, recycles its handle and resumes its caller, exactly once.
    private func finish(_ transfer: CurlTransfer, with result: Result<HTTPClientResponse, any Error>) {
        if let easy = transfer.detachHandle() {
            if self.active.removeValue(forKey: easy) != nil {
                curl_multi_remove_handle(self.multi, easy)
            }
            self.recycle(easy)
        }
        let continuation = transfer.continuation
        transfer.continuation = nil
        continuation?.resume(with: result)
    }

    private func recycle(_ easy: UnsafeMutableRawPointer) {
        if self.idleHandles.count < Self.maxIdleHandles {
            curl_easy_reset(easy)
            self.idleHandles.append(easy)
        } else {
            curl_easy_cleanup(easy)
        }
    }

    private func close() {
        // A thread that decided to wake the loop may not have done so yet; the multi handle must
        // outlive that call.
        while self.inbox.withLock({ $0.wakeupsInProgress }) > 0 {
            sched_yield()
        }
        let (waiters, stragglers) = self.inbox.withLock { inbox in
            inbox.isClosed = true
            defer {
                inbox.stopWaiters = []
                inbox.submitted = []
            }
            return (inbox.stopWaiters, inbox.submitted)
        }
        for transfer in stragglers {
            transfer.continuation?.resume(throwing: HTTPClientError(.shutDown, message: "the HTTP client was shut down"))
            transfer.continuation = nil
        }
        for easy in self.idleHandles { curl_easy_cleanup(easy) }
        self.idleHandles = []
        curl_multi_cleanup(self.multi)
        for waiter in waiters { waiter.resume() }
    }
}

extension CurlMultiLoop.Inbox {
    /// Whether the caller must wake the loop (counted until it has); false when a wake-up is
    /// already on its way.
    fileprivate mutating func claimWakeup() -> Bool {
        guard !self.isWakeupPending else { return false }
        self.isWakeupPending = true
        self.wakeupsInProgress += 1
        return true
    }
}
