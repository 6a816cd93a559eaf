import CEditLine
import Foundation

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

/// Standard input: libedit's `readline` on a terminal, plain reads otherwise.
public final class StandardInput: LineInput {
    public let isTerminal: Bool

    /// Reads standard input; on a terminal with line editing, history, and signals left to the caller.
    public init() {
        isTerminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        if isTerminal {
            // Ctrl-C is the caller's (it leaves nothing half-written); libedit must not install handlers of its own.
            smtp_editline_leave_signals()
            using_history()
        }
    }

    public func line(prompt: String) async -> String? {
        let terminal = isTerminal
        return await Self.blocking {
            guard terminal else { return readLine(strippingNewline: true) }
            guard let raw = readline(prompt) else { return nil }
            defer { free(raw) }
            let text = String(cString: raw)
            if !text.trimmingCharacters(in: .whitespaces).isEmpty { add_history(raw) }
            return text
        }
    }

    public func secret(prompt: String) async -> String? {
        guard isTerminal else { return nil }
        return await Self.blocking {
            FileHandle.standardOutput.write(Data(prompt.utf8))
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardOutput.write(Data("\n".utf8))
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
