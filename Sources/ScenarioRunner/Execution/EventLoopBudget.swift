import NIOCore

/// What the shared event loops cost in file descriptors, for checking a process's limit before they start: NIO
/// stops the process with a fatal error when it cannot create a loop's descriptors.
public enum EventLoopBudget {
    /// Loops of the group every connection uses (`MultiThreadedEventLoopGroup.singleton`), without starting them.
    public static var loops: Int { NIOSingletons.groupLoopCountSuggestion }

    /// Descriptors each loop holds from its start: its epoll instance, the eventfd that wakes it, and its timerfd.
    public static let descriptorsPerLoop = 3
}
