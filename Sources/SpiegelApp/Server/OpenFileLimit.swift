import Glibc
import Logging

/// The open-file limit `serve` works under.
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
}
