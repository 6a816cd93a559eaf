import Foundation
import Reports

/// Where `record` reads what the user types: a terminal (line editing and history through libedit) or any
/// other standard input (a pipe, a file), line by line.
public protocol LineInput: AnyObject {
    /// Whether a person is typing (prompts are shown, the password is asked for without echo).
    var isTerminal: Bool { get }
    /// The next line without its line ending; nil at the end of input (Ctrl-D, a closed pipe).
    func line(prompt: String) async -> String?
    /// A line read without echo (a password); nil at the end of input.
    func secret(prompt: String) async -> String?
}

/// Standard input: libedit's `readline` on a terminal, plain reads otherwise (and on a terminal without libedit).
public final class StandardInput: LineInput {
    public let isTerminal: Bool
    private let editor: LineEditor?

    /// Reads standard input; on a terminal with line editing, history, and signals left to the caller.
    public init() {
        isTerminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        editor = isTerminal ? LineEditor.load() : nil
    }

    public func line(prompt: String) async -> String? {
        guard let editor else { return await Self.blocking { readLine(strippingNewline: true) } }
        return await Self.blocking { editor.line(prompt: prompt) }
    }

    public func secret(prompt: String) async -> String? {
        guard isTerminal else { return nil }
        return await Self.blocking {
            StandardStream.output.write(prompt)
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                StandardStream.output.write("\n")
            }
            return readLine(strippingNewline: true)
        }
    }

    /// Runs a blocking read on a thread of its own, so neither the event loops nor the task pool wait on a person.
    private static func blocking(_ read: @escaping @Sendable () -> String?) async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: read()) }
        }
    }
}

/// The readline interface of Debian's libedit (NetBSD's editline), opened with `dlopen` when `record` starts on a
/// terminal. Linking it instead made every command load libedit and its three dependencies at start-up (0.55 ms
/// of each start, for one interactive command), and made the binary refuse to start where libedit is missing;
/// now such a terminal reads plain lines.
struct LineEditor: @unchecked Sendable {  // C function pointers into a library that is never closed.
    private typealias ReadLine = @convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>?
    private typealias AddHistory = @convention(c) (UnsafePointer<CChar>?) -> Int32
    private typealias UsingHistory = @convention(c) () -> Void

    /// The run-time name of Debian's libedit (package libedit2, which every Swift toolchain installs).
    static let library = "libedit.so.2"

    private let readline: ReadLine
    private let addHistory: AddHistory

    /// Opens libedit and starts its history, with SIGINT and SIGTERM left to the program (Ctrl-C is the caller's:
    /// it leaves nothing half-written); nil when the library or one of its symbols is missing.
    static func load() -> LineEditor? {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else { return nil }
        guard let readline = dlsym(handle, "readline"), let addHistory = dlsym(handle, "add_history"),
            let usingHistory = dlsym(handle, "using_history"), let catchSignals = dlsym(handle, "rl_catch_signals")
        else {
            dlclose(handle)
            return nil
        }
        catchSignals.assumingMemoryBound(to: Int32.self).pointee = 0
        unsafeBitCast(usingHistory, to: UsingHistory.self)()
        return LineEditor(
            readline: unsafeBitCast(readline, to: ReadLine.self),
            addHistory: unsafeBitCast(addHistory, to: AddHistory.self)
        )
    }

    /// The next line, edited on the terminal; a line that is not blank goes into the history (Up brings it back).
    func line(prompt: String) -> String? {
        guard let raw = readline(prompt) else { return nil }
        defer { free(raw) }
        let text = String(cString: raw)
        if !text.trimmingCharacters(in: .whitespaces).isEmpty { _ = addHistory(raw) }
        return text
    }
}
