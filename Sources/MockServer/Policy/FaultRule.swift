import Foundation
import LocatedYAML
import SMTPWire

/// A fault the mock injects on purpose, to test how clients and scenarios handle misbehaving servers.
public enum FaultRule: Sendable, Hashable {
    /// Wait before replying to the given stage.
    case delay(stage: Stage, duration: Duration)
    /// After this many commands, answer the next one with `421 4.7.0` and close.
    case closeAfterCommands(Int)
    /// Close the connection without replying at the given stage.
    case drop(stage: Stage)
    /// Answer recipients matching the pattern with `code` (451/452 temporary, 550/553/554 permanent).
    case failRecipients(pattern: RecipientPattern, code: Int)

    /// Where in a session a fault applies.
    public enum Stage: String, Sendable, Hashable, CaseIterable {
        case greeting, ehlo, helo, mail, rcpt, data
        case dataEnd = "data-end"
        case rset, noop, vrfy, quit, starttls, auth
    }
}

/// A recipient pattern: `/regex/` (ICU syntax, always case-insensitive) or an exact address without case.
public struct RecipientPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let source: String
    private let regex: PatternRegex?

    /// Compiles `source`; throws when a `/regex/` does not compile.
    public init(_ source: String) throws {
        self.source = source
        if let (pattern, _) = PatternRegex.split(source) {
            regex = try PatternRegex(pattern: pattern, caseInsensitive: true)
        } else {
            regex = nil
        }
    }

    /// Whether `address` (without angle brackets) matches.
    public func matches(_ address: String) -> Bool {
        guard let regex else { return address.equalsIgnoringCase(source) }
        return regex.matches(address)
    }

    public var description: String { source }
}

extension FaultRule.Stage {
    /// The stage of a command verb, if faults can target it.
    init?(verb: SMTPVerb) {
        switch verb {
        case .ehlo: self = .ehlo
        case .helo: self = .helo
        case .mail: self = .mail
        case .rcpt: self = .rcpt
        case .data: self = .data
        case .rset: self = .rset
        case .noop: self = .noop
        case .vrfy: self = .vrfy
        case .quit: self = .quit
        case .starttls: self = .starttls
        case .auth: self = .auth
        default: return nil
        }
    }
}
