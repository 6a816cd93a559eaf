import NIOCore

/// The SMTP command verbs (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 3030 BDAT, LMTP's LHLO, and the
/// obsolete ones servers refuse): one vocabulary for the compiler, the runner and the mock.
public enum SMTPVerb: String, Sendable, Hashable, CaseIterable {
    case ehlo = "EHLO"
    case helo = "HELO"
    case lhlo = "LHLO"
    case mail = "MAIL"
    case rcpt = "RCPT"
    case data = "DATA"
    case bdat = "BDAT"
    case rset = "RSET"
    case noop = "NOOP"
    case quit = "QUIT"
    case vrfy = "VRFY"
    case expn = "EXPN"
    case help = "HELP"
    case starttls = "STARTTLS"
    case auth = "AUTH"
    case etrn = "ETRN"
    case turn = "TURN"
    case atrn = "ATRN"
    case send = "SEND"
    case soml = "SOML"
    case saml = "SAML"

    /// Whether the command greets (and so resets what the client knows of the session's extensions).
    public var isGreeting: Bool { self == .ehlo || self == .helo || self == .lhlo }

    /// The verb named `keyword` (already upper-cased), found by its bytes: `init(rawValue:)` compares the string
    /// with every name in turn, and the mock looks up every command line it receives.
    init?(keyword: String) {
        guard let packed = Self.pack(keyword), let index = Self.packedNames.firstIndex(of: packed) else { return nil }
        self = Self.allCases[index]
    }

    /// Up to eight bytes of a name in one integer; nil for a longer name or a NUL byte (which no verb has, and which
    /// would otherwise pack like a shorter name).
    private static func pack(_ name: String) -> UInt64? {
        var packed: UInt64 = 0
        var count = 0
        for byte in name.utf8 {
            guard count < 8, byte != 0 else { return nil }
            packed = packed << 8 | UInt64(byte)
            count += 1
        }
        return packed
    }

    private static let packedNames: [UInt64] = allCases.map { pack($0.rawValue)! }
}

/// A command line as a server sees it: the verb (upper-cased) and the rest of the line.
public struct SMTPCommandLine: Sendable, Hashable {
    /// The first word, upper-cased (`MAIL`, `RCPT`, `X-UNKNOWN`, ...).
    public let keyword: String
    /// The verb, when the first word is one SMTP knows.
    public let verb: SMTPVerb?
    /// Everything after the verb and one separating space, as sent.
    public let argument: String

    /// Splits a received line (without CRLF) into verb and argument; bytes are decoded leniently.
    public init(_ line: ByteBuffer) {
        self = line.withUnsafeReadableBytes { Self(bytes: $0) }
    }

    /// Splits a line of text into verb and argument.
    public init(_ text: String) {
        var text = text
        self = text.withUTF8 { Self(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Splits by bytes, decoding each part once: the separator is ASCII, so no UTF-8 sequence spans it and the
    /// parts decode as the whole line would. (Decoding the line first and splitting the string cost the mock and
    /// the runner about 2,700 instructions a command.)
    private init(bytes: UnsafeRawBufferPointer) {
        let space = bytes.firstIndex { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") } ?? bytes.endIndex
        keyword = Self.upperCased(UnsafeRawBufferPointer(rebasing: bytes[..<space]))
        argument = space < bytes.endIndex ? String(decoding: bytes[(space + 1)...], as: UTF8.self) : ""
        verb = SMTPVerb(keyword: keyword)
    }

    /// `word` upper-cased: ASCII byte by byte (every verb is ASCII), anything else as Unicode says.
    static func upperCased(_ word: Substring) -> String {
        var word = word
        return word.withUTF8 { upperCased(UnsafeRawBufferPointer($0)) }
    }

    /// The same for a word's bytes, decoded leniently.
    static func upperCased(_ word: UnsafeRawBufferPointer) -> String {
        guard word.allSatisfy({ $0 < 0x80 }) else { return String(decoding: word, as: UTF8.self).uppercased() }
        return String(unsafeUninitializedCapacity: word.count) { buffer in
            for (offset, byte) in word.enumerated() {
                buffer[offset] = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
            }
            return word.count
        }
    }

    /// Whether `text` holds a CR or LF. A command line or reply text with one would end early on the wire, and
    /// what follows would arrive as a command, or a reply, of its own.
    public static func containsLineBreak(_ text: String) -> Bool {
        text.containsUTF8Byte { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
    }

    /// Encodes a command line for the wire: the text followed by CRLF.
    public static func encode(_ line: String, into buffer: inout ByteBuffer) {
        // One write of the line and its CRLF: each ByteBuffer write checks capacity and exclusivity again, and a
        // second write into a buffer sized for the first may grow it.
        var line = line
        _ = line.withUTF8 { text in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: text.count + 2) { memory in
                memory.copyMemory(from: UnsafeRawBufferPointer(text))
                memory[text.count] = UInt8(ascii: "\r")
                memory[text.count + 1] = UInt8(ascii: "\n")
                return text.count + 2
            }
        }
    }
}

/// Encodes replies for the wire, multi-line as RFC 5321 section 4.2.1 describes.
public enum ReplyEncoder {
    /// Writes `code` with each text line; every line but the last uses `NNN-`. An enhanced code is put at the start
    /// of every line's text, as RFC 2034 asks.
    public static func encode(
        code: Int,
        enhanced: EnhancedStatusCode? = nil,
        lines: [String],
        into buffer: inout ByteBuffer
    ) {
        let texts = lines.isEmpty ? [""] : lines
        // Written straight into the buffer's memory in one call: each ByteBuffer write costs a few hundred
        // instructions (capacity and exclusivity checks) and formatting a number as a String more; a reply cost
        // 3,900 instructions as six writes per line.
        let codeWidth = decimalWidth(code)
        let enhancedWidths = enhanced.map {
            (decimalWidth($0.statusClass), decimalWidth($0.subject), decimalWidth($0.detail))
        }
        let enhancedWidth = enhancedWidths.map { $0.0 + 1 + $0.1 + 1 + $0.2 } ?? 0
        let total = texts.reduce(0) { $0 + codeWidth + 1 + enhancedWidth + 1 + $1.utf8.count + 2 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { memory in
            var at = 0
            for (index, text) in texts.enumerated() {
                at = writeDecimal(code, width: codeWidth, into: memory, at: at)
                memory[at] = index == texts.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-")
                at += 1
                if let enhanced, let widths = enhancedWidths {
                    at = writeDecimal(enhanced.statusClass, width: widths.0, into: memory, at: at)
                    memory[at] = UInt8(ascii: ".")
                    at = writeDecimal(enhanced.subject, width: widths.1, into: memory, at: at + 1)
                    memory[at] = UInt8(ascii: ".")
                    at = writeDecimal(enhanced.detail, width: widths.2, into: memory, at: at + 1)
                    if !text.isEmpty {
                        memory[at] = UInt8(ascii: " ")
                        at += 1
                    }
                }
                UnsafeMutableRawBufferPointer(rebasing: memory[at...]).copyBytes(from: text.utf8)
                at += text.utf8.count
                memory[at] = UInt8(ascii: "\r")
                memory[at + 1] = UInt8(ascii: "\n")
                at += 2
            }
            return at
        }
    }

    /// How many bytes the decimal text of `value` takes, its minus sign included.
    private static func decimalWidth(_ value: Int) -> Int {
        var width = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 {
            rest /= 10
            width += 1
        }
        return width
    }

    /// Writes the `width` bytes of `value`'s decimal text at `start`; returns the index after them.
    private static func writeDecimal(
        _ value: Int,
        width: Int,
        into memory: UnsafeMutableRawBufferPointer,
        at start: Int
    ) -> Int {
        var rest = value.magnitude
        var index = start + width - 1
        repeat {
            memory[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        } while rest > 0
        if value < 0 { memory[start] = UInt8(ascii: "-") }
        return start + width
    }
}
