/// Words for reply codes, so failure messages explain `550` to people who do not know it by heart.
public enum ReplyCodeMeaning {
    /// A short meaning of `code` (RFC 5321 section 4.2.2/4.2.3, RFC 4954, RFC 3207), or of its class when the code
    /// has no specific entry.
    public static func describe(_ code: Int) -> String {
        if let known = known[code] { return known }
        switch code / 100 {
        case 2: return "success"
        case 3: return "intermediate, more input expected"
        case 4: return "temporary failure"
        case 5: return "permanent failure"
        default: return "unknown code"
        }
    }

    private static let known: [Int: String] = [
        211: "system status",
        214: "help message",
        220: "service ready",
        221: "service closing connection",
        235: "authentication succeeded",
        250: "requested action completed",
        251: "user not local, will forward",
        252: "cannot verify user, will attempt delivery",
        334: "authentication challenge",
        354: "start mail input",
        421: "service not available, closing connection",
        432: "password transition needed",
        450: "mailbox unavailable (temporary)",
        451: "local error in processing",
        452: "insufficient system storage or too many recipients",
        454: "temporary authentication failure or TLS not available",
        455: "server unable to accommodate parameters",
        500: "syntax error, command unrecognised",
        501: "syntax error in parameters or arguments",
        502: "command not implemented",
        503: "bad sequence of commands",
        504: "command parameter not implemented",
        521: "server does not accept mail",
        530: "authentication required",
        534: "authentication mechanism too weak",
        535: "authentication credentials invalid",
        538: "encryption required for requested authentication mechanism",
        550: "mailbox unavailable",
        551: "user not local",
        552: "exceeded storage allocation",
        553: "mailbox name not allowed",
        554: "transaction failed",
        555: "MAIL/RCPT parameters not recognised",
    ]
}
