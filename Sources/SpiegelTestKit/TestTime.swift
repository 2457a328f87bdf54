public import Foundation
import Glibc

/// The time a test run stands in, so that no test depends on when it runs.
///
/// By default a run stands in the real present. With `SPIEGEL_TEST_NOW` set to an ISO 8601 instant
/// (`2027-03-28T02:30:00+02:00`), the whole run stands at that instant, advancing in real time:
/// in-process services get ``now()`` as their injected clock, and the `spiegel` processes a test
/// starts run under libfaketime at the same offset (``processEnvironment(at:)``), since the test
/// runner itself cannot run under it. `make test-dates` runs the time suites this way at the
/// dates that break naive code: a Saturday, a DST night, a year's last seconds, a year ahead.
public enum TestTime {
    /// Seconds from the real clock to the run's "now"; 0 unless `SPIEGEL_TEST_NOW` is set.
    public static let offset: TimeInterval = {
        guard let value = ProcessInfo.processInfo.environment["SPIEGEL_TEST_NOW"], !value.isEmpty else { return 0 }
        guard let instant = ISO8601DateFormatter().date(from: value) else {
            fatalError("SPIEGEL_TEST_NOW=\(value) is not an ISO 8601 instant such as 2027-03-28T02:30:00+02:00")
        }
        return instant.timeIntervalSinceNow
    }()

    /// The run's "now": the real time, moved by ``offset``.
    @Sendable public static func now() -> Date {
        Date().addingTimeInterval(self.offset)
    }

    /// The environment that starts a process with its wall clock at `date` (then advancing in real
    /// time), or at the run's ``now()`` when `date` is `nil`. Empty when nothing is to be moved.
    ///
    /// Only the wall clock moves (`FAKETIME_DONT_FAKE_MONOTONIC`): timers and timeouts run as usual.
    /// - Throws: ``TestTimeError`` when libfaketime is not installed (Debian's `faketime`).
    public static func processEnvironment(at date: Date? = nil) throws -> [String: String] {
        let offset = date.map { $0.timeIntervalSinceNow } ?? self.offset
        guard offset != 0 else { return [:] }
        guard let library = self.libfaketime else {
            throw TestTimeError(message: "libfaketime is not installed: apt-get install faketime (make test does)")
        }
        let seconds = Int(offset.rounded())
        return [
            "LD_PRELOAD": library, "FAKETIME": seconds < 0 ? "\(seconds)" : "+\(seconds)",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_SHARED": try self.sharedState.get(),
        ]
    }

    /// libfaketime's shared state (a semaphore and a memory segment), held by one `faketime` process
    /// for the whole run.
    ///
    /// Without it, libfaketime makes its own and adds `FAKETIME_SHARED` to the environment in its
    /// constructor; that moves `environ`, and a Swift program then finds no command-line arguments.
    /// The holder is `faketime … cat` reading a pipe that only this process writes: it ends, and
    /// removes the state, when the test run exits.
    private static let sharedState: Result<String, TestTimeError> = {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/faketime")
        holder.arguments = ["-f", "+0", "/bin/cat"]
        holder.standardInput = TestTime.holderInput
        holder.standardOutput = FileHandle.nullDevice
        do { try holder.run() } catch {
            return .failure(TestTimeError(message: "faketime does not start (\(error)): apt-get install faketime (make test does)"))
        }
        let parent = holder.processIdentifier
        for _ in 0..<200 {
            let children = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
            if let child = children.split(separator: " ").first,
                let environment = FileManager.default.contents(atPath: "/proc/\(child)/environ"),
                let entry = environment.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }).first(where: { $0.hasPrefix("FAKETIME_SHARED=") })
            {
                return .success(String(entry.dropFirst("FAKETIME_SHARED=".count)))
            }
            usleep(10_000)
        }
        return .failure(TestTimeError(message: "faketime started but shared no state within 2 s"))
    }()

    /// The holder's standard input; kept open for the life of the test run.
    private static let holderInput = Pipe()

    /// Where Debian puts libfaketime, for any architecture.
    static let libfaketime: String? = {
        let lib = URL(fileURLWithPath: "/usr/lib")
        let architectures = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        return architectures.sorted().map { lib.appendingPathComponent($0).appendingPathComponent("faketime/libfaketime.so.1").path }
            .first { FileManager.default.fileExists(atPath: $0) }
    }()
}

/// A process cannot be moved in time on this machine.
public struct TestTimeError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { self.message }
}
