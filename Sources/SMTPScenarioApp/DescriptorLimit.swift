import Foundation
import ScenarioResults
import ScenarioRunner

/// The process's budget of open file descriptors, which bounds how many scenarios can run at once.
public enum DescriptorLimit {
    /// Descriptors kept free for everything but the connections: event loops, standard streams, report and spill
    /// files, DNS sockets, the embedded mock's listener and store files.
    static let reserve = 64

    /// Raises the soft limit on open file descriptors to the hard limit, as Go programs and many servers do at start.
    /// The usual soft limit, 1,024, is there for programs that use select(2), which nothing here does; it is below
    /// what `--jobs` in the hundreds or a busy `serve` needs. Nothing is spawned that could inherit the raised limit.
    public static func raise() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        // An unlimited hard limit is refused for descriptors (the kernel's nr_open caps it); keep the soft one then.
        _ = setrlimit(resource, &limit)
    }

    /// How many scenarios may run at once within `limit` descriptors, `open` of them in use already: each holds
    /// up to two (its connection, and the other end of it when the target is the embedded mock, which runs in this
    /// process).
    static func jobs(fitting limit: Int, open: Int) -> Int { max(1, (limit - open - reserve) / 2) }

    /// Descriptors open now (the entries of /proc/self/fd, less the one reading it); 0 when unreadable. Counted with
    /// readdir: FileManager's listing built a `String` a name, and cost 400,000 instructions of every run's start.
    static func openCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            // Every entry is a descriptor's number but the folder's own "." and "..".
            if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { count += 1 }
        }
        return max(0, count - 1)
    }

    /// Descriptors needed beyond the event loops' before a first connection can be made: the Swift runtime's own
    /// (Dispatch's poll and wake-up, the signal handlers'), a scenario file being read, and a connection to the
    /// embedded mock with its listener, with room to spare. Below it a run could only fail every scenario.
    static let startupMargin = 16

    /// Why this process cannot start its event loops and open a connection within `limit` descriptors, `open` of
    /// them in use already; nil when it can. Checked before the loops start, because NIO stops the process with a
    /// fatal error (exit 132, no report) when it cannot create a loop's descriptors.
    public static func startupProblem() -> String? {
        startupProblem(limit: SystemError.descriptorLimit, open: openCount(), loops: EventLoopBudget.loops)
    }

    /// The check on given numbers: `limit` nil is no limit.
    static func startupProblem(limit: Int?, open: Int, loops: Int) -> String? {
        let needed = open + loops * EventLoopBudget.descriptorsPerLoop + startupMargin
        guard let limit, limit < needed else { return nil }
        return "error: too few file descriptors: this process may have \(limit) open (`ulimit -n`, already raised to "
            + "its hard limit), and smtp-scenario needs at least \(needed) to start its \(loops) event "
            + "loop\(loops == 1 ? "" : "s") and connect (\(open) \(open == 1 ? "is" : "are") open now); raise the "
            + "limit, e.g. `ulimit -n 1024`\n"
    }

    /// `requested` lowered to what fits within the process's descriptor limit, with the warning to print when it
    /// had to be lowered. Running out of descriptors part-way would fail every scenario that could not connect.
    static func clamp(
        jobs requested: Int,
        limit: Int? = SystemError.descriptorLimit,
        open: Int = openCount()
    ) -> (jobs: Int, warning: String?) {
        guard let limit, requested > jobs(fitting: limit, open: open) else { return (requested, nil) }
        let fitting = jobs(fitting: limit, open: open)
        return (
            fitting,
            "warning: --jobs \(requested) needs up to \(requested * 2 + open + reserve) open files, above this "
                + "process's limit of \(limit) (`ulimit -n`, already raised to its hard limit): running \(fitting) "
                + "scenario\(fitting == 1 ? "" : "s") at a time\n"
        )
    }
}
