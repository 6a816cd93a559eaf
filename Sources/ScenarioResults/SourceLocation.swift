/// A place in a source file, 1-based, as editors and compilers print it.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file as shown to the user (usually relative to the working directory).
    public let file: String
    // 32-bit: every YAML node and step carries a location, and files are at most 64 MiB (24 bytes, not 32).
    private let storedLine: UInt32
    private let storedColumn: UInt32

    /// Line, starting at 1.
    public var line: Int { Int(storedLine) }
    /// Column in Unicode scalars, starting at 1.
    public var column: Int { Int(storedColumn) }

    /// Creates a location (values beyond 32 bits are clamped; no file within the compiler's limits has them).
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.storedLine = UInt32(clamping: line)
        self.storedColumn = UInt32(clamping: column)
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }

    /// `file:line`, for reports that point at a step.
    public var fileAndLine: String { "\(file):\(line)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}
