/// Selecting scenarios by tag (`--tag`, `--exclude-tag`).
extension Plan {
    /// Keeps scenarios having any of `included` (all when empty) and none of `excluded`; files left without
    /// scenarios are dropped.
    public func filtered(includingTags included: [String], excludingTags excluded: [String]) -> Plan {
        let files = self.files.compactMap { file -> ScenarioFile? in
            let kept = file.scenarios.filter { scenario in
                (included.isEmpty || scenario.tags.contains(where: included.contains))
                    && !scenario.tags.contains(where: excluded.contains)
            }
            guard !kept.isEmpty else { return nil }
            return ScenarioFile(displayPath: file.displayPath, suiteName: file.suiteName, scenarios: kept)
        }
        return Plan(files: files)
    }
}
