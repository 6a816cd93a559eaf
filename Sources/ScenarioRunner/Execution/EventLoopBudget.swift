import Foundation
import NIOCore

/// What the shared event loops cost in file descriptors, for checking a process's limit before they start: NIO
/// stops the process with a fatal error when it cannot create a loop's descriptors.
public enum EventLoopBudget {
    /// Loops of the group every connection uses (`MultiThreadedEventLoopGroup.singleton`), without starting them.
    public static var loops: Int { NIOSingletons.groupLoopCountSuggestion }

    /// Descriptors each loop holds from its start: its epoll instance, the eventfd that wakes it, and its timerfd.
    public static let descriptorsPerLoop = 3

    /// The environment variable through which NIO lets a process set the shared group's loop count.
    static let loopCountVariable = "NIO_SINGLETON_GROUP_LOOP_COUNT"

    /// Makes the shared group a single loop, unless ``loopCountVariable`` sets the count. For a process whose
    /// connections are a client's (run, relay-check): their sessions wait on the network, one loop carried 4,400
    /// of them a second on a 2-core machine, and a second loop only competed for the cores with the server under
    /// test on the same machine (2,000 sessions against `smtp-sink` at `--jobs 50`: 0.454 s, 440 ms of CPU and
    /// 2,600 context switches with one loop; 0.514-0.535 s, 544-603 ms and 3,200-3,900 with two; against the
    /// embedded mock, 1.45 s and 1.71 s). `smtp-source` runs its sessions on one thread as well. Must be called
    /// before anything uses the group: NIO stops a process that sets the count once it has been read.
    public static func preferOneLoop() {
        guard getenv(loopCountVariable) == nil else { return }
        NIOSingletons.groupLoopCountSuggestion = 1
    }
}
