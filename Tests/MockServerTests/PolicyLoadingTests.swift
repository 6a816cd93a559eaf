import LocatedYAML
import Testing

@testable import MockServer

@Suite("Mock policy files")
struct PolicyLoadingTests {
    @Test func everyKey() throws {
        let loaded = MockPolicy.parse(
            """
            hostname: mail.test
            greeting: ESMTP hi
            local-domains: [a.test]
            mailboxes: "*"
            relay: [10.0.0.0/8, "::1/128"]
            max-message-size: 2MB
            max-recipients: 5
            require-tls: yes
            require-auth: true
            auth-requires-tls: false
            users: {u1: p1, u2: {password: p2, token: t2}}
            greylisting: {delay: 2s}
            bare-line-endings: normalize
            vrfy: confirm
            advertise: [X-FOO]
            hide: [PIPELINING]
            split-multiline-replies: true
            execute-plaintext-after-starttls: true
            improper-pipelining: reject
            limits: {max-connections: 3, idle-timeout: 5s, session-timeout: 1m, max-command-length: 1000, max-errors: 9}
            faults:
              - {delay: 1s, at: rcpt}
              - {close-after: 4}
              - {drop-at: data-end}
              - {fail-recipients: "/^x/", code: 452}
            """,
            file: "p.yaml"
        )
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
        let policy = try #require(loaded.policy)
        #expect(policy.hostname == "mail.test")
        #expect(policy.mailboxes == nil)
        #expect(policy.maxMessageSize == 2 * 1024 * 1024)
        #expect(policy.users["u2"] == MockPolicy.User(password: "p2", token: "t2"))
        #expect(policy.greylisting?.delay == .seconds(2))
        #expect(policy.bareLineEndings == .normalize)
        #expect(policy.verify == .confirm)
        #expect(policy.limits.maxConnections == 3)
        #expect(policy.faults.count == 4)
        if case .networks(let networks) = policy.relay {
            #expect(networks.count == 2)
            #expect(networks[0].contains("10.9.8.7"))
            #expect(!networks[0].contains("11.0.0.1"))
            #expect(networks[1].contains("::1"))
        } else {
            Issue.record("relay should be networks")
        }
    }

    @Test func errorsAreLocatedAndExplained() {
        let loaded = MockPolicy.parse(
            """
            hostnam: x
            relay: sometimes
            faults:
              - {delay: 1s, at: rcp}
              - {drop-at: data, delay: 2s}
            max-message-size: lots
            """,
            file: "p.yaml"
        )
        #expect(loaded.policy == nil)
        let text = loaded.diagnostics.map(\.description)
        #expect(text.count == 5, "\(text)")
        #expect(
            text[0].hasPrefix(
                "p.yaml:1:1: error: unknown key 'hostnam' in a mock policy\n  hint: did you mean 'hostname'?"
            )
        )
        #expect(text[1].hasPrefix("p.yaml:2:8: error: relay must be closed, open, or a list"))
        #expect(text[2].hasPrefix("p.yaml:4:21: error: unknown stage \"rcp\"\n  hint: did you mean 'rcpt'?"))
        #expect(text[3].hasPrefix("p.yaml:5:5: error: a fault has one kind, found drop-at and delay"))
        #expect(text[4].hasPrefix("p.yaml:6:19: error: max-message-size is not a size"))
    }

    @Test func improperPipeliningIsAcceptOrRejectAndWorksWhenPipeliningIsHidden() {
        let loaded = MockPolicy.parse("improper-pipelining: reject\nhide: [pipelining]\n", file: "p.yaml")
        #expect(loaded.policy?.refusesImproperPipelining == true)
        #expect(
            MockPolicy.parse("improper-pipelining: reject\n", file: "p.yaml").policy?.refusesImproperPipelining == false
        )
        let bad = MockPolicy.parse("improper-pipelining: sometimes\n", file: "p.yaml")
        #expect(bad.policy == nil)
        #expect(
            bad.diagnostics.first?.description.hasPrefix(
                "p.yaml:1:22: error: improper-pipelining must be accept or reject"
            ) == true
        )
    }

    /// `advertise: ["X\r\n250 Y"]` ended the EHLO reply early and left a stray `250 Y` that the client read as the
    /// answer to its next command. Texts the mock writes into reply lines may not hold a line break.
    @Test func replyTextsWithALineBreakAreRefused() {
        let loaded = MockPolicy.parse(
            "hostname: \"mx\\r\\n250 fake\"\ngreeting: \"hi\\n554 x\"\nadvertise: [X-OK, \"X\\r\\n250 Y\"]\n",
            file: "p.yaml"
        )
        #expect(loaded.policy == nil)
        #expect(
            loaded.diagnostics.map(\.description) == [
                "p.yaml:1:11: error: hostname goes into a reply line, which cannot hold a line break\n"
                    + "  hint: write it on one line",
                "p.yaml:2:11: error: greeting goes into a reply line, which cannot hold a line break\n"
                    + "  hint: write it on one line",
                "p.yaml:3:19: error: an advertise entry goes into a reply line, which cannot hold a line break\n"
                    + "  hint: each advertise entry is one line of the EHLO reply: give each its own entry",
            ]
        )
        let zero = MockPolicy.parse("limits: {idle-timeout: 0s, session-timeout: 0}\n", file: "p.yaml")
        #expect(zero.policy == nil, "a zero idle or session timeout would close every session at once")
        #expect(zero.diagnostics.count == 2)
        let good = MockPolicy.parse("advertise: [X-ONE, X-TWO 2]\n", file: "p.yaml")
        #expect(good.policy?.advertise == ["X-ONE", "X-TWO 2"])
    }

    @Test func anEmptyFileIsTheDefaultPolicy() {
        #expect(MockPolicy.parse("", file: "p.yaml").policy == MockPolicy())
    }
}
