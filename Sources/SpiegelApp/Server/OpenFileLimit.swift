import Glibc
import Logging

/// The open-file limit `serve` works under, and the descriptors libdispatch needs before it runs
/// short of them.
///
/// Running out of file descriptors (EMFILE) is worse than a refused message here: libdispatch,
/// which runs Swift's tasks on Linux, checks its worker threads once a second by opening
/// `/proc/<tid>/stat` and kills the process (SIGILL, "workq: registered worker exited
/// prematurely") when that open fails. So `serve` raises its soft limit to the hard one at start,
/// as Go's runtime does: systemd gives 1,024 soft under a hard limit of 524,288 unless the unit
/// says otherwise (ours sets `LimitNOFILE=65536`).
enum OpenFileLimit {
    /// Raises the soft limit to the hard limit; returns the limit in effect.
    @discardableResult
    static func raiseToHardLimit(logger: Logger) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        guard limit.rlim_cur < limit.rlim_max else { return UInt64(limit.rlim_cur) }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            logger.warning("spiegel.open_file_limit.unchanged", metadata: ["spiegel.limit": "\(before)"])
            return UInt64(before)
        }
        logger.info("spiegel.open_file_limit.raised", metadata: ["spiegel.from": "\(before)", "spiegel.to": "\(limit.rlim_cur)"])
        return UInt64(limit.rlim_cur)
    }

    /// Arms one timer of each clock Spiegel's tasks sleep on (continuous and suspending; none
    /// uses the wall clock), so libdispatch makes its descriptors for them (its event loop's and
    /// each clock's `timerfd`, made at the first timer) while there are some to spare: made for the
    /// first time with none left, libdispatch stops the process or the timer never fires. Not
    /// awaited: under libfaketime (the date tests) a faked clock's first tick may be far away.
    static func armTimers() {
        Task.detached { try? await Task.sleep(for: .milliseconds(1)) }
        Task.detached { try? await Task.sleep(for: .milliseconds(1), clock: .suspending) }
    }
}
