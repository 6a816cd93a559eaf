import Foundation
import LocatedYAML
import NIOCore
import SMTPWire
import ScenarioLanguage
import ScenarioResults

/// A message as a server stored it: its envelope (from the trace headers the server added) and content.
public struct DeliveredMessage: Sendable, Hashable {
    /// The envelope sender: the `Return-Path` header, without angle brackets (empty for `<>`).
    public let sender: String?
    /// The envelope recipients: the `X-Envelope-To` (mock) or `Delivered-To` (local delivery) headers.
    public let recipients: [String]
    /// Every header field, unfolded, in order.
    public let headers: [(name: String, value: String)]
    /// The body after the blank line.
    public let body: String
    /// The whole message's size in bytes.
    public let size: Int

    public static func == (lhs: DeliveredMessage, rhs: DeliveredMessage) -> Bool {
        lhs.sender == rhs.sender && lhs.recipients == rhs.recipients && lhs.body == rhs.body && lhs.size == rhs.size
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(body) }

    /// Parses an RFC 5322 message (CRLF or LF line endings).
    public init(parsing bytes: [UInt8]) {
        size = bytes.count
        let text = String(decoding: bytes, as: UTF8.self)
        let separator = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n")
        let head = separator.map { String(text[..<$0.lowerBound]) } ?? text
        body = separator.map { String(text[$0.upperBound...]) } ?? ""
        var fields: [(String, String)] = []
        for line in head.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line[...]
            if let first = line.first, first == " " || first == "\t", !fields.isEmpty {
                fields[fields.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                fields.append(
                    (
                        String(line[..<colon]),
                        String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                    )
                )
            }
        }
        headers = fields
        func bare(_ value: String) -> String { value.trimmingCharacters(in: CharacterSet(charactersIn: "<> ")) }
        sender = fields.first { $0.0.equalsIgnoringCase("Return-Path") }.map { bare($0.1) }
        recipients = fields.filter {
            $0.0.equalsIgnoringCase("X-Envelope-To") || $0.0.equalsIgnoringCase("Delivered-To")
        }.map { bare($0.1) }
    }

    /// The value of the first header field named `name`, if any.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.equalsIgnoringCase(name) }?.value
    }

    /// The envelope and headers, for failure messages.
    var summary: String {
        var lines = [
            "envelope from <\(sender ?? "?")> to \(recipients.map { "<\($0)>" }.joined(separator: ", ")), \(size) bytes"
        ]
        lines += headers.prefix(20).map { "\($0.name): \($0.value)" }
        return lines.joined(separator: "\n")
    }
}

/// Where the runner finds messages the embedded mock accepted, by queue id. The application wires it to the
/// mock's store, so the runner never depends on the mock.
public protocol StoredMessageLookup: Sendable {
    /// The stored message (as written to disk) with queue id `id`, once it has arrived.
    func message(withID id: String) async -> [UInt8]?
}

extension ScenarioExecution {
    /// How often a `delivered` step looks again while it waits.
    static let deliveryPollInterval: Duration = .milliseconds(25)

    /// Waits up to the step's timeout for the message, then checks it.
    nonisolated(nonsending) func checkDelivery(_ check: DeliveryCheck, step: Step, at site: Site) async throws(Stop) {
        let started = NIODeadline.now()
        let deadline = started + TimeAmount(step.timeout)
        var newest: DeliveredMessage?
        var place = ""
        let wanted = describe(check)
        while true {
            let candidates: [DeliveredMessage]
            if let maildir = check.maildir {
                place = "in Maildir \(maildir)"
                let since = messageSentAt
                // File reads stay off the event loop the scenario runs on.
                candidates = await withTaskExecutorPreference(globalConcurrentExecutor) {
                    Self.maildirMessages(maildir, since: since)
                }
            } else {
                guard let id = check.id.map(resolve) ?? lastQueueID else {
                    throw stop(
                        .unexpectedReply,
                        at: site,
                        expected: wanted,
                        actual:
                            "no queue id: no reply in this scenario accepted a message naming one (\"queued as ID\"); give delivered: {id: ...}",
                        cleanup: .politeQuit
                    )
                }
                place = "in the mock's store as \(id)"
                guard let lookup = messageLookup else {
                    throw stop(
                        .setup,
                        at: site,
                        expected: nil,
                        actual: "no mock store to look into (a delivered step needs the embedded mock, or maildir:)",
                        cleanup: .drop
                    )
                }
                let stored = await withTaskExecutorPreference(globalConcurrentExecutor) {
                    await lookup.message(withID: id)
                }
                candidates = stored.map { [DeliveredMessage(parsing: $0)] } ?? []
            }
            newest = candidates.first ?? newest
            if let matching = candidates.first(where: { mismatch(of: $0, against: check) == nil }) {
                note(
                    "delivered \(place): from <\(matching.sender ?? "?")>, \(matching.recipients.count) recipient(s), \(matching.size) bytes"
                )
                keepRecord(of: step, at: site, .passed, since: started)
                return
            }
            // A message found by queue id does not change: only a Maildir may still receive the right one.
            if newest != nil, check.maildir == nil { break }
            if NIODeadline.now() >= deadline || Task.isCancelled { break }
            try? await Task.sleep(for: Self.deliveryPollInterval)
        }
        keepRecord(of: step, at: site, .failed, since: started)
        guard let newest else {
            throw stop(
                .unexpectedReply,
                at: site,
                expected: wanted,
                actual: "no message arrived \(place) within \(DurationSyntax.format(step.timeout))",
                cleanup: .politeQuit
            )
        }
        throw stop(
            .unexpectedReply,
            at: site,
            expected: wanted,
            actual:
                "\(mismatch(of: newest, against: check) ?? "a different message"); the stored message:\n\(newest.summary)",
            cleanup: .politeQuit
        )
    }

    /// What the check wants, in words.
    private func describe(_ check: DeliveryCheck) -> String {
        var parts = ["a delivered message"]
        if let from = check.from { parts.append("from <\(resolve(from))>") }
        if let to = check.to { parts.append("to \(to.map { "<\(resolve($0))>" }.joined(separator: ", "))") }
        for (name, match) in check.headers {
            parts.append("\(name): \(ReplyCheck.describeMatch(match, lookup: lookup))")
        }
        if let body = check.body { parts.append("body \(ReplyCheck.describeMatch(body, lookup: lookup))") }
        if let maxSize = check.maxSize { parts.append("at most \(maxSize) bytes") }
        return parts.joined(separator: ", ")
    }

    /// Nil when `message` meets `check`; otherwise what differs.
    private func mismatch(of message: DeliveredMessage, against check: DeliveryCheck) -> String? {
        if let from = check.from.map(resolve), message.sender?.equalsIgnoringCase(from) != true {
            return "the envelope sender is <\(message.sender ?? "?")>, not <\(from)>"
        }
        if let to = check.to?.map(resolve) {
            let have = Set(message.recipients.map { $0.lowercased() })
            let want = Set(to.map { $0.lowercased() })
            if have != want {
                return
                    "the envelope recipients are \(message.recipients.map { "<\($0)>" }.joined(separator: ", ")), not \(to.map { "<\($0)>" }.joined(separator: ", "))"
            }
        }
        for (name, match) in check.headers {
            guard let value = message.header(name) else { return "the message has no \(name) header" }
            if !ReplyCheck.textMatches(match, value, lookup: lookup) {
                return "\(name): \(value) does not have \(ReplyCheck.describeMatch(match, lookup: lookup))"
            }
        }
        if let body = check.body, !ReplyCheck.textMatches(body, message.body, lookup: lookup) {
            return "the body does not have \(ReplyCheck.describeMatch(body, lookup: lookup))"
        }
        if let maxSize = check.maxSize, message.size > maxSize {
            return "the message is \(message.size) bytes, more than \(maxSize)"
        }
        return nil
    }

    /// The messages of a Maildir's `new/` and `cur/` that arrived since `since` (a second of slack for file
    /// system clocks), newest first.
    static func maildirMessages(_ folder: String, since: Date?) -> [DeliveredMessage] {
        let manager = FileManager.default
        var found: [(Date, URL)] = []
        for sub in ["new", "cur"] {
            let directory = URL(fileURLWithPath: folder).appendingPathComponent(sub)
            guard let names = try? manager.contentsOfDirectory(atPath: directory.path) else { continue }
            for name in names where !name.hasPrefix(".") {
                let url = directory.appendingPathComponent(name)
                let modified =
                    (try? manager.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
                if let since, modified < since.addingTimeInterval(-1) { continue }
                found.append((modified, url))
            }
        }
        return found.sorted { $0.0 > $1.0 }.prefix(50).compactMap { _, url in
            guard let handle = try? FileHandle(forReadingFrom: url),
                let data = try? handle.read(upToCount: 16 << 20)
            else { return nil }
            try? handle.close()
            return DeliveredMessage(parsing: Array(data))
        }
    }
}
