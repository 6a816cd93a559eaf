import Crypto
import Foundation

/// The byte formats of each mechanism, used by both ends: the client encodes with them, the server decodes with
/// them, so the two cannot drift apart.
public enum SASLEncoding {
    /// Base64 of the UTF-8 text.
    public static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// The text of a base64 line (`=` is the empty response of RFC 4954), or nil when it is not base64.
    public static func decodeBase64(_ line: String) -> String? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed == "=" { return "" }
        return Data(base64Encoded: trimmed).map { String(decoding: $0, as: UTF8.self) }
    }

    /// PLAIN (RFC 4616): `authzid \0 authcid \0 password`, base64; the client sends an empty authzid.
    public static func plain(username: String, password: String) -> String {
        base64("\0\(username)\0\(password)")
    }

    /// The user name and password of a decoded PLAIN response; nil when malformed or when the authorization
    /// identity names someone else.
    public static func parsePlain(_ text: String) -> (username: String, password: String)? {
        let parts = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts[0].isEmpty || parts[0] == parts[1] else { return nil }
        return (parts[1], parts[2])
    }

    /// XOAUTH2: `user=NAME^Aauth=Bearer TOKEN^A^A`, base64.
    public static func xoauth2(username: String, token: String) -> String {
        base64("user=\(username)\u{1}auth=Bearer \(token)\u{1}\u{1}")
    }

    /// The user and token of a decoded XOAUTH2 response.
    public static func parseXOAUTH2(_ text: String) -> (username: String, token: String)? {
        var user: String?
        var token: String?
        for field in text.split(separator: "\u{1}") {
            if field.hasPrefix("user=") { user = String(field.dropFirst(5)) }
            if field.hasPrefix("auth=Bearer ") { token = String(field.dropFirst(12)) }
        }
        guard let user, let token else { return nil }
        return (user, token)
    }

    /// CRAM-MD5 (RFC 2195): the lower-case hex HMAC-MD5 of the challenge text, keyed with the password.
    public static func cramMD5Digest(challenge: String, password: String) -> String {
        let mac = HMAC<Insecure.MD5>.authenticationCode(
            for: Data(challenge.utf8),
            using: SymmetricKey(data: Data(password.utf8))
        )
        let digits = Array("0123456789abcdef")
        return String(mac.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }

    /// The CRAM-MD5 response: base64 of `user digest`.
    public static func cramMD5Response(username: String, password: String, challenge: String) -> String {
        base64("\(username) \(cramMD5Digest(challenge: challenge, password: password))")
    }

    /// The user name and digest of a decoded CRAM-MD5 response.
    public static func parseCRAMMD5(_ text: String) -> (username: String, digest: String)? {
        guard let space = text.lastIndex(of: " ") else { return nil }
        return (String(text[..<space]), text[text.index(after: space)...].lowercased())
    }
}
