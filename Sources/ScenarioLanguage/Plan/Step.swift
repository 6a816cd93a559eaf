import LocatedYAML
import SMTPWire

/// One compiled step of a scenario, with everything the runner needs and the location reports point at.
public struct Step: Sendable, Hashable {
    /// The step's position: `3`, or `3.2` for the second step inside a `pipeline`.
    public let number: String
    /// The step's `name:`, if given (it may use variables, like every string of a step).
    public let name: Template?
    /// What the step does.
    public let action: StepAction
    /// What it expects afterwards.
    public let expectation: Expectation
    /// Variables captured from the reply.
    public let captures: [Capture]
    /// How long the reply may take, counted from the send to the complete reply.
    public let timeout: Duration
    /// Where the step starts in its file.
    public let location: SourceLocation

    /// Creates a step.
    public init(
        number: String,
        name: Template?,
        action: StepAction,
        expectation: Expectation,
        captures: [Capture],
        timeout: Duration,
        location: SourceLocation
    ) {
        self.number = number
        self.name = name
        self.action = action
        self.expectation = expectation
        self.captures = captures
        self.timeout = timeout
        self.location = location
    }
}

/// What a step does on the connection.
public enum StepAction: Sendable, Hashable {
    /// Send a command line followed by CRLF.
    case send(Template)
    /// Send message content after a 354: CRLF-normalised, dot-stuffed, terminated by CRLF.CRLF.
    case data(Template)
    /// Send bytes exactly as given.
    case raw(RawPayload)
    /// Pause.
    case wait(Duration)
    /// Close the connection and open a new one; the expectation applies to the new greeting.
    case reconnect
    /// Read the next reply without sending anything.
    case read
    /// Upgrade the connection to TLS (RFC 3207).
    case startTLS(StartTLSAction)
    /// Authenticate (RFC 4954).
    case auth(AuthAction)
    /// Send several commands in one write and check each reply in order (RFC 2920).
    case pipeline([Step])
}

/// The bytes of a `raw` step.
public enum RawPayload: Sendable, Hashable {
    /// The UTF-8 bytes of a text (which may contain run-time variables).
    case text(Template)
    /// Arbitrary bytes given as hex.
    case bytes([UInt8])
}

/// Options of a `starttls` step.
public struct StartTLSAction: Sendable, Hashable {
    /// Whether to send `STARTTLS` and read its reply first; false when a `raw` step already sent it.
    public let sendsCommand: Bool

    /// Creates the action.
    public init(sendsCommand: Bool) { self.sendsCommand = sendsCommand }
}

/// An `auth` step: the whole SASL exchange.
public struct AuthAction: Sendable, Hashable {
    /// The mechanism.
    public let mechanism: SASLMechanism
    /// The user name (or e-mail for XOAUTH2).
    public let username: Template
    /// The password, or the bearer token for XOAUTH2; always masked in outputs.
    public let secret: Template

    /// Creates the action.
    public init(mechanism: SASLMechanism, username: Template, secret: Template) {
        self.mechanism = mechanism
        self.username = username
        self.secret = secret
    }
}
