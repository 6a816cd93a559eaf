import LocatedYAML
import SMTPWire
import ScenarioResults

/// One compiled step of a scenario, with everything the runner needs and the location reports point at.
public struct Step: Sendable, Hashable {
    /// The step's own level of its path: `.step(3)`, or `.pipelined(2)` inside a pipeline. The runner builds the
    /// whole path (`3 repeat i=737 > 1`) as it descends.
    @inlinable public var position: StepPath.Component { fields.value.position }
    /// The step's `name:`, if given (it may use variables, like every string of a step).
    @inlinable public var name: Template? { fields.value.name }
    /// What the step does.
    @inlinable public var action: StepAction { fields.value.action }
    /// What it expects afterwards.
    @inlinable public var expectation: Expectation { fields.value.expectation }
    /// Variables captured from the reply.
    @inlinable public var captures: [Capture] { fields.value.captures }
    /// How long the reply may take, counted from the send to the complete reply.
    @inlinable public var timeout: Duration { fields.value.timeout }
    /// Where the step starts in its file.
    @inlinable public var location: SourceLocation { fields.value.location }

    @usableFromInline
    struct Fields: Sendable, Hashable {
        @usableFromInline let position: StepPath.Component
        @usableFromInline let name: Template?
        @usableFromInline let action: StepAction
        @usableFromInline let expectation: Expectation
        @usableFromInline let captures: [Capture]
        @usableFromInline let timeout: Duration
        @usableFromInline let location: SourceLocation
    }

    /// Shared by every copy: the runner takes each step out of its list, and the matrix compile reuses steps
    /// across combinations.
    @usableFromInline
    let fields: SharedFields<Fields>

    /// Creates a step.
    public init(
        position: StepPath.Component,
        name: Template?,
        action: StepAction,
        expectation: Expectation,
        captures: [Capture],
        timeout: Duration,
        location: SourceLocation
    ) {
        fields = SharedFields(
            Fields(
                position: position,
                name: name,
                action: action,
                expectation: expectation,
                captures: captures,
                timeout: timeout,
                location: location
            )
        )
    }

    /// How many leaf steps this step runs at most (repeats multiplied, every retry attempt counted once).
    public var expandedCount: Int {
        switch action {
        case .pipeline(let pipeline): return max(1, pipeline.steps.count)
        case .call(let call): return call.steps.reduce(0) { $0 + $1.expandedCount }
        case .repeatSteps(let loop):
            let body = loop.steps.reduce(0) { $0 + $1.expandedCount }
            return body.multipliedReportingOverflow(by: loop.count).overflow ? Int.max : body * loop.count
        case .retry(let retry): return retry.steps.reduce(0) { $0 + $1.expandedCount }
        default: return 1
        }
    }
}

/// What a step does on the connection.
public enum StepAction: Sendable, Hashable {
    /// Send a command line followed by CRLF.
    case send(Template)
    /// Send message content after a 354: CRLF-normalised, dot-stuffed, terminated by CRLF.CRLF.
    case data(Template)
    /// Send one BDAT chunk (RFC 3030): `BDAT n [LAST]` and the bytes, in one write.
    case bdat(BDATAction)
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
    case pipeline(PipelineAction)
    /// Run a step group's body (compiled for this call site).
    case call(GroupCall)
    /// Run a body a fixed number of times.
    case repeatSteps(RepeatAction)
    /// Run a body until it passes, at most `attempts` times, retrying on the failures it names.
    case retry(RetryAction)
    /// Fail on purpose, with this reason (self-tests of suites).
    case fail(Template)
    /// Open the connection (for `connect: false` scenarios); the expectation applies to the greeting.
    case connect(ConnectAction)
    /// Drop the connection without QUIT.
    case disconnect
    /// Wait for the message just accepted to arrive (in the embedded mock's store, or a Maildir) and check it.
    case delivered(DeliveryCheck)
}

/// The bytes of a `raw` step.
public enum RawPayload: Sendable, Hashable {
    /// The UTF-8 bytes of a text (which may contain run-time variables).
    case text(Template)
    /// Arbitrary bytes given as hex.
    case bytes([UInt8])
}

/// A `delivered` step: where to look for the message, and what must hold of it. Every check is optional.
public struct DeliveryCheck: Sendable, Hashable {
    /// The message's queue id; nil: the id the server named when it accepted this scenario's last message.
    public let id: Template?
    /// A Maildir folder to watch instead of the embedded mock's store (for servers that deliver locally).
    public let maildir: String?
    /// The envelope sender, as given in MAIL FROM (without angle brackets; empty for `<>`).
    public let from: Template?
    /// The envelope recipients, in any order.
    public let to: [Template]?
    /// Header fields: each named field must be present and match (a case-insensitive substring or a regex).
    public let headers: [(name: String, match: TextMatch)]
    /// The body (after the header section) must match.
    public let body: TextMatch?
    /// The stored message (headers and body) may be at most this many bytes.
    public let maxSize: Int?

    /// Creates a check.
    public init(
        id: Template?,
        maildir: String?,
        from: Template?,
        to: [Template]?,
        headers: [(name: String, match: TextMatch)],
        body: TextMatch?,
        maxSize: Int?
    ) {
        self.id = id
        self.maildir = maildir
        self.from = from
        self.to = to
        self.headers = headers
        self.body = body
        self.maxSize = maxSize
    }

    public static func == (lhs: DeliveryCheck, rhs: DeliveryCheck) -> Bool {
        lhs.id == rhs.id && lhs.maildir == rhs.maildir && lhs.from == rhs.from && lhs.to == rhs.to
            && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.match) == rhs.headers.map(\.match)
            && lhs.body == rhs.body && lhs.maxSize == rhs.maxSize
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(maildir)
        hasher.combine(headers.map(\.name))
    }
}

/// A `bdat` step's chunk.
public struct BDATAction: Sendable, Hashable {
    /// Text (line endings become CRLF, no dot-stuffing) or exact bytes.
    public let payload: RawPayload
    /// Whether this is the message's last chunk (`BDAT n LAST`).
    public let last: Bool

    /// Creates the action.
    public init(payload: RawPayload, last: Bool) {
        self.payload = payload
        self.last = last
    }
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

/// A `pipeline` step: `send` steps written at once (RFC 2920).
public struct PipelineAction: Sendable, Hashable {
    /// The commands, each with its own expectation.
    public let steps: [Step]
    /// Send even when PIPELINING was not advertised, to test a server's defence against improper pipelining.
    public let unadvertised: Bool

    /// Creates the action.
    public init(steps: [Step], unadvertised: Bool = false) {
        self.steps = steps
        self.unadvertised = unadvertised
    }
}

/// A `call` step: a group's body, compiled with this call's arguments.
public struct GroupCall: Sendable, Hashable {
    /// The group as called (`envelope`, `s.envelope`).
    public let group: String
    /// Where the group is defined.
    public let definition: SourceLocation
    /// Its body.
    public let steps: [Step]

    /// Creates the call.
    public init(group: String, definition: SourceLocation, steps: [Step]) {
        self.group = group
        self.definition = definition
        self.steps = steps
    }
}

/// A `repeat` step.
public struct RepeatAction: Sendable, Hashable {
    /// How many times (1 or more), known at compile time.
    public let count: Int
    /// The index variable as written (`i`), if any.
    public let indexName: String?
    /// The run-time key the index is stored under, counting from 0.
    public let indexKey: String?
    /// The body.
    public let steps: [Step]

    /// Creates the action.
    public init(count: Int, indexName: String?, indexKey: String?, steps: [Step]) {
        self.count = count
        self.indexName = indexName
        self.indexKey = indexKey
        self.steps = steps
    }
}

/// Which failures a `retry` tries again.
public enum RetryCondition: Sendable, Hashable, CustomStringConvertible {
    /// A reply with one of these codes failed a check.
    case codes([CodePattern])
    /// The server closed (or reset) the connection.
    case closed
    /// No reply arrived in time.
    case nothing

    public var description: String {
        switch self {
        case .codes(let codes): return codes.map(\.description).joined(separator: ", ")
        case .closed: return "closed"
        case .nothing: return "nothing"
        }
    }
}

/// A `retry` step (greylisting, rate limits).
public struct RetryAction: Sendable, Hashable {
    /// Every try, the first included (2...100).
    public let attempts: Int
    /// The pause after a failed attempt.
    public let interval: Duration
    /// Which failures are retried; any other fails at once.
    public let retryOn: [RetryCondition]
    /// The body; its expectations are the success condition.
    public let steps: [Step]

    /// Creates the action.
    public init(attempts: Int, interval: Duration, retryOn: [RetryCondition], steps: [Step]) {
        self.attempts = attempts
        self.interval = interval
        self.retryOn = retryOn
        self.steps = steps
    }
}

/// A `connect` step.
public struct ConnectAction: Sendable, Hashable {
    /// Where to connect; nil is the scenario's server.
    public let server: ServerRef?

    /// Creates the action.
    public init(server: ServerRef?) { self.server = server }
}
