import Foundation
import LocatedYAML
import ScenarioResults

/// `delivered:`: the check that the message just accepted arrived, and what it looks like.
extension FileCompiler {
    static let deliveredKeys = ["id", "maildir", "from", "to", "headers", "body", "max-size"]

    /// `delivered: {}` or `delivered: {from, to, headers, body, max-size, id, maildir}`.
    mutating func compileDelivered(
        _ input: StepInput,
        scope: inout VariableScope,
        context: inout StepContext
    ) -> CompiledAction? {
        guard !context.insidePipeline else { return refuseInPipeline(input) }
        refuseReplyKeys(input, what: "a `delivered` step")
        let mapping: YAMLMapping
        if input.value.isNull {
            mapping = YAMLMapping(entries: [], location: input.value.location)
        } else {
            guard let value = input.value.mapping("delivered", into: &diagnostics) else { return nil }
            mapping = value
        }
        mapping.checkKeys(allowed: Self.deliveredKeys, context: "delivered", into: &diagnostics)
        func template(_ key: String) -> Template? {
            guard let value = mapping[key], let text = value.string(key, into: &diagnostics) else { return nil }
            return scope.template(value, text: text, into: &diagnostics)
        }
        var maildir: String?
        if let value = mapping["maildir"], let raw = value.string("maildir", into: &diagnostics),
            let path = scope.staticString(value, text: raw, what: "maildir", into: &diagnostics)
        {
            maildir = PathText.anchored(path, in: context.unit.directory)
        }
        var headers: [(String, TextMatch)] = []
        if let value = mapping["headers"], let fields = value.mapping("headers", into: &diagnostics) {
            for field in fields.entries {
                guard let match = textMatch(field.value, scope: scope) else { continue }
                headers.append((field.key, match))
            }
        }
        let to = mapping["to"].map { templateList($0, "to", scope: scope) }
        let body = mapping["body"].flatMap { textMatch($0, scope: scope) }
        let maxSize = mapping["max-size"].flatMap { $0.byteSize("max-size", into: &diagnostics) }
        if maildir == nil, let server = context.scenarioServer, !server.target.isMock {
            diagnostics.error(
                .badServer,
                at: input.entry.keyLocation,
                "`delivered` looks into the embedded mock's store, but this scenario's server is \(server)",
                hint:
                    "run it against the mock (no server, mock or mock:FILE), or watch a Maildir: delivered: {maildir: PATH}"
            )
        }
        return CompiledAction(
            action: .delivered(
                DeliveryCheck(
                    id: template("id"),
                    maildir: maildir,
                    from: template("from"),
                    to: to,
                    headers: headers,
                    body: body,
                    maxSize: maxSize
                )
            ),
            expectation: .noReply
        )
    }
}
