/// The service extensions a server advertised in its EHLO reply (RFC 5321 section 4.1.1.1).
public struct EHLOCapabilities: Sendable, Hashable {
    /// Keyword (upper-cased) to its parameters (upper-cased, in order), e.g. `AUTH` -> `[PLAIN, LOGIN]`.
    public let extensions: [String: [String]]
    /// Keywords in the order advertised.
    public let keywords: [String]

    /// Reads the extension lines of an EHLO reply: every line after the first (which greets).
    public init(reply: Reply) {
        var extensions: [String: [String]] = [:]
        var keywords: [String] = []
        // Split on the bytes, decoding word by word: a server's reply is split this way once per EHLO.
        for line in reply.rawLines.dropFirst() {
            let words = line.dropFirst(4).split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
                .map { $0.withUnsafeBytes(SMTPCommandLine.upperCased) }
            guard let keyword = words.first else { continue }
            if extensions[keyword] == nil { keywords.append(keyword) }
            extensions[keyword, default: []].append(contentsOf: words.dropFirst())
        }
        self.extensions = extensions
        self.keywords = keywords
    }

    /// Whether `spec` is advertised: `PIPELINING` (a keyword) or `AUTH PLAIN` (a keyword with that parameter).
    ///
    /// Comparison ignores case; every parameter in `spec` must be among the keyword's parameters.
    public func advertises(_ spec: String) -> Bool {
        let words = spec.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(SMTPCommandLine.upperCased)
        guard let keyword = words.first, let parameters = extensions[keyword] else { return false }
        return words.dropFirst().allSatisfy(parameters.contains)
    }
}
