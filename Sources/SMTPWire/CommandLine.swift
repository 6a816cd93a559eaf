import NIOCore

/// A command line as a server sees it: the verb (upper-cased) and the rest of the line.
public struct SMTPCommandLine: Sendable, Hashable {
    /// The command verb, upper-cased (`MAIL`, `RCPT`, `EHLO`, ...).
    public let verb: String
    /// Everything after the verb and one separating space, as sent.
    public let argument: String

    /// Splits a received line (without CRLF) into verb and argument; bytes are decoded leniently.
    public init(_ line: ByteBuffer) {
        let text = String(decoding: line.readableBytesView, as: UTF8.self)
        self.init(text)
    }

    /// Splits a line of text into verb and argument.
    public init(_ text: String) {
        if let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }) {
            verb = text[..<space].uppercased()
            argument = String(text[text.index(after: space)...])
        } else {
            verb = text.uppercased()
            argument = ""
        }
    }

    /// Encodes a command line for the wire: the text followed by CRLF.
    public static func encode(_ line: String, into buffer: inout ByteBuffer) {
        buffer.writeString(line)
        buffer.writeStaticString("\r\n")
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
        for (index, text) in texts.enumerated() {
            buffer.writeString(String(code))
            buffer.writeString(index == texts.count - 1 ? " " : "-")
            if let enhanced {
                buffer.writeString(enhanced.description)
                if !text.isEmpty { buffer.writeString(" ") }
            }
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
        }
    }
}
