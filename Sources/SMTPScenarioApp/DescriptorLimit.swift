import Foundation
import ScenarioResults

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

    /// Descriptors open now (the entries of /proc/self/fd, less the one reading it); 0 when unreadable.
    static func openCount() -> Int {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return 0 }
        return max(0, entries.count - 1)
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
