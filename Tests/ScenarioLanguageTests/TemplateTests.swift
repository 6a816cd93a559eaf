import Testing

@testable import ScenarioLanguage

@Suite("Templates")
struct TemplateTests {
    @Test func partsAreMergedAndEmptyLiteralsDropped() {
        #expect(Template(parts: [.literal("")]).parts.isEmpty)
        #expect(Template(parts: []).parts.isEmpty)
        #expect(Template(parts: [.variable("x")]).parts == [.variable("x")])
        let merged = Template(parts: [.literal("a"), .literal(""), .literal("b"), .variable("x"), .literal("c")])
        #expect(merged.parts == [.literal("ab"), .variable("x"), .literal("c")])
    }

    @Test func resolveFillsRuntimeVariablesAndShowsUnknownOnes() {
        let lookup: (String) -> String? = { $0 == "id" ? "42" : nil }
        #expect(Template(literal: "EHLO client").resolve(lookup) == "EHLO client")
        #expect(Template(parts: []).resolve(lookup) == "")
        #expect(Template(parts: [.variable("id")]).resolve(lookup) == "42")
        #expect(Template(parts: [.variable("other")]).resolve(lookup) == "${other}")
        let mixed = Template(parts: [
            .literal("RCPT TO:<"), .variable("id"), .literal("@"), .variable("other"), .literal(">"),
        ])
        #expect(mixed.resolve(lookup) == "RCPT TO:<42@${other}>")
        #expect(mixed.description == "RCPT TO:<${id}@${other}>")
    }

    @Test func staticTextOnlyWithoutRuntimeVariables() {
        #expect(Template(literal: "DATA").staticText == "DATA")
        #expect(Template(parts: []).staticText == "")
        #expect(Template(parts: [.literal("a"), .variable("x")]).staticText == nil)
        #expect(Template(parts: [.variable("x")]).staticText == nil)
    }
}
