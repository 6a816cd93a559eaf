import ScenarioResults

/// `run --list`: the testcases a run would report (after tag filters and sharding), one per line or as JSON.
public enum PlanListing {
    /// What the listing needs of a planned scenario.
    public struct Entry: Sendable {
        public let identity: ScenarioIdentity
        /// Why it would be skipped, if it would.
        public let skipReason: String?

        /// Creates an entry.
        public init(identity: ScenarioIdentity, skipReason: String?) {
            self.identity = identity
            self.skipReason = skipReason
        }
    }

    /// `PATH:LINE NAME [tags]`, one line per testcase.
    public static func text(_ entries: [Entry]) -> String {
        entries.map { entry in
            let identity = entry.identity
            var line = "\(identity.location.fileAndLine) \(identity.name)"
            if !identity.tags.isEmpty { line += " [\(identity.tags.joined(separator: ", "))]" }
            return line + "\n"
        }.joined()
    }

    /// The same as JSON, for machines.
    public static func json(_ entries: [Entry], shard: String?) -> String {
        JSONValue.object([
            ("shard", .string(shard)),
            ("count", .int(entries.count)),
            (
                "scenarios",
                .array(
                    entries.map { entry in
                        .object([
                            ("file", .string(entry.identity.file)),
                            ("line", .int(entry.identity.location.line)),
                            ("name", .string(entry.identity.name)),
                            ("suite", .string(entry.identity.suite)),
                            ("tags", .array(entry.identity.tags.map(JSONValue.string))),
                            ("parameters", .object(entry.identity.parameters.map { ($0.name, .string($0.value)) })),
                            ("skipReason", .string(entry.skipReason)),
                        ])
                    }
                )
            ),
        ]).text + "\n"
    }
}
