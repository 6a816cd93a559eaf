import Testing

@testable import ScenarioLanguage

@Suite("Redactor")
struct RedactorTests {
    @Test func masksEverySecretAndIgnoresEmptyOnes() {
        let redactor = Redactor(secrets: ["hunter2", ""])
        #expect(redactor.mask("AUTH PLAIN hunter2 and hunter2") == "AUTH PLAIN *** and ***")
        #expect(redactor.mask("nothing secret") == "nothing secret")
        #expect(Redactor(secrets: [""]).mask("") == "")
        #expect(Redactor(secrets: []) == Redactor(secrets: [""]))
    }

    @Test func longerSecretsAreMaskedFirst() {
        // "pass" inside "password1" must not leave "***word1" behind.
        let redactor = Redactor(secrets: ["pass", "password1"])
        #expect(redactor.mask("user password1 pass") == "user *** ***")
    }

    @Test func secretsLearnedLaterAreAddedOnce() {
        var redactor = Redactor(secrets: ["alpha"])
        let before = redactor
        redactor.add([])
        redactor.add(["", "alpha"])
        #expect(redactor == before)
        redactor.add(["token-xyz", "token-xyz", "tok"])
        #expect(redactor != before)
        #expect(redactor.mask("alpha token-xyz tok") == "*** *** ***")
        #expect(redactor == Redactor(secrets: ["tok", "token-xyz", "alpha"]))
    }
}
