#if canImport(Glibc)
import Glibc
#endif

/// The processor time this process has used so far (user and system, every thread), from
/// `getrusage`: the load generator, the sink and the server under test together, since they share
/// the process and the machine's cores.
enum ProcessorTime {
    /// Seconds of processor time used since the process started.
    static func now() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        let seconds = { (time: timeval) in Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
