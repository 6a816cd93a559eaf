/// Selecting scenarios by tag (`--tag`, `--exclude-tag`).
extension Plan {
    /// Keeps scenarios having any of `included` (all when empty) and none of `excluded`; files left without
    /// scenarios are dropped.
    public func filtered(includingTags included: [String], excludingTags excluded: [String]) -> Plan {
        // No tags keep every scenario: the plan as it is (when no file is empty), not a copy of each scenario.
        if included.isEmpty && excluded.isEmpty && !files.contains(where: \.scenarios.isEmpty) { return self }
        let files = self.files.compactMap { file -> ScenarioFile? in
            let kept = file.scenarios.filter { scenario in
                (included.isEmpty || scenario.tags.contains(where: included.contains))
                    && !scenario.tags.contains(where: excluded.contains)
            }
            guard !kept.isEmpty else { return nil }
            return ScenarioFile(
                displayPath: file.displayPath,
                suiteName: file.suiteName,
                scenarios: kept,
                serverNames: file.serverNames
            )
        }
        return Plan(files: files)
    }
}

/// Splitting a run across machines (`--shard K/N`).
extension Plan {
    /// Shard `index` (from 1) of `count`: every `count`-th scenario of the plan, starting with the `index`-th, so
    /// the split is deterministic (the same files and flags give the same shards on every machine) and balanced
    /// (shard sizes differ by at most one). Files left without scenarios are dropped.
    public func shard(_ index: Int, of count: Int) -> Plan {
        precondition(count >= 1 && (1...count).contains(index), "shard \(index)/\(count) is out of range")
        var position = 0
        let files = self.files.compactMap { file -> ScenarioFile? in
            let kept = file.scenarios.filter { _ in
                defer { position += 1 }
                return position % count == index - 1
            }
            guard !kept.isEmpty else { return nil }
            return ScenarioFile(
                displayPath: file.displayPath,
                suiteName: file.suiteName,
                scenarios: kept,
                serverNames: file.serverNames
            )
        }
        return Plan(files: files)
    }
}
