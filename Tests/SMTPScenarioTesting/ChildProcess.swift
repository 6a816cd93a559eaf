import Foundation

/// A child process started with posix_spawn and reaped with a blocking waitpid on its own thread.
///
/// Foundation's `Process` on Linux can miss the exit of a child that started daemons (the Postfix fixture
/// script), leaving a zombie and a spinning waiter; this does the minimum, reliably.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t

    /// Starts `executable` with `arguments`; output and errors go to `output` (a file path), input is /dev/null.
    /// With `closedStandardOutput`, standard output is instead a pipe whose reading end is already closed, so the
    /// first write to it fails with EPIPE, deterministically (`| head` whose reader has gone). With
    /// `standardOutput`, it is that descriptor (the writing end of a pipe the test holds), errors still to `output`.
    init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        currentDirectory: String?,
        output: String,
        closedStandardOutput: Bool = false,
        standardOutput: Int32? = nil
    ) throws {
        var argv = [executable] + arguments
        var path = executable
        if let currentDirectory {
            // posix_spawn has no portable chdir: let a shell change directory, then exec the program.
            argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", currentDirectory, executable] + arguments
            path = "/bin/sh"
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipeEnds: [Int32] = [-1, -1]
        if let standardOutput {
            posix_spawn_file_actions_addopen(&actions, 2, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        } else if closedStandardOutput {
            // Close-on-exec, so no other child spawned meanwhile keeps an end; dup2 onto 1 clears it for this one.
            guard systemPipe2(&pipeEnds, O_CLOEXEC) == 0 else {
                throw FixtureError(description: "pipe2: \(String(cString: strerror(errno)))")
            }
            close(pipeEnds[0])
            posix_spawn_file_actions_addopen(&actions, 2, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        defer { if pipeEnds[1] >= 0 { close(pipeEnds[1]) } }
        // Only the three standard streams: whatever else the test process has open (hundreds of sockets and files
        // while the suites run in parallel, not all close-on-exec) is not the child's, and would count against
        // a descriptor limit a test sets for it.
        guard systemAddCloseFrom(&actions, 3) == 0 else {
            throw FixtureError(description: "posix_spawn_file_actions_addclosefrom_np failed")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal handling, whatever this process ignores.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var noneBlocked = sigset_t()
        sigemptyset(&noneBlocked)
        posix_spawnattr_setsigmask(&attributes, &noneBlocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, &attributes, cArguments, cEnvironment)
        guard status == 0 else {
            throw FixtureError(description: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
    }

    /// Waits for the exit; 128 + the signal number when a signal ended it.
    func wait() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                let exited = status & 0x7F == 0
                continuation.resume(returning: exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
            }
        }
    }

    /// Sends a signal (ignored if it already exited).
    func signal(_ number: Int32) { kill(pid, number) }
}

/// glibc's pipe2, which the Glibc module does not import (it needs _GNU_SOURCE): both ends close-on-exec from the
/// start, so no child that another test spawns at the same moment inherits the reading end.
@_silgen_name("pipe2")
private func systemPipe2(_ ends: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// glibc's (2.34 and later) request that the child close every descriptor from `lowest` up, which the Glibc module
/// does not import either.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func systemAddCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32
