/// The open-relay pack, built into the binary so `relay-check` works without the repository.
///
/// It is byte-for-byte `scenarios/security/open-relay.yaml` (regenerate with `scripts/update-relay-pack`);
/// a test keeps the two identical.
enum RelayPack {
    static let displayPath = "relay-check/open-relay.yaml"

    static let yaml = #"""
        # yaml-language-server: $schema=../../schemas/scenario.schema.json
        suite: Open relay
        description: >
          The 16 envelope forms nmap's smtp-open-relay script tries, each in its own connection. Every RCPT must be
          refused (4xx or 5xx). F = from, T = to, D = a foreign test domain, IP = the server's address as connected,
          S = the name the server gives in its greeting. Test only servers you are responsible for.
          `smtp-scenario relay-check` runs this pack and prints a verdict.
        vars:
          from: antispam
          to: relaytest
          domain: relay-test.invalid
          client: relay-check.invalid
        scenarios:
          - name: Relay attempt
            tags: [security, relay]
            greeting:
              expect: 220
              capture:
                server_name: /^([^ ]+)/
            matrix:
              form:
                - {name: "<> -> <T@D>", mail: "<>", rcpt: "<${to}@${domain}>"}
                - {name: "<F@D> -> <T@D>", mail: "<${from}@${domain}>", rcpt: "<${to}@${domain}>"}
                - {name: "<F@S> -> <T@D>", mail: "<${from}@${server_name}>", rcpt: "<${to}@${domain}>"}
                - {name: "<F@[IP]> -> <T@D>", mail: "<${from}@[${server.ip}]>", rcpt: "<${to}@${domain}>"}
                - {name: "<T%D@[IP]>", mail: "<${from}@[${server.ip}]>", rcpt: "<${to}%${domain}@[${server.ip}]>"}
                - {name: "<T%D@S>", mail: "<${from}@[${server.ip}]>", rcpt: "<${to}%${domain}@${server_name}>"}
                - {name: "<\"T@D\">", mail: "<${from}@[${server.ip}]>", rcpt: "<\"${to}@${domain}\">"}
                - {name: "<\"T%D\">", mail: "<${from}@[${server.ip}]>", rcpt: "<\"${to}%${domain}\">"}
                - {name: "<T@D@[IP]>", mail: "<${from}@[${server.ip}]>", rcpt: "<${to}@${domain}@[${server.ip}]>"}
                - {name: "<\"T@D\"@[IP]>", mail: "<${from}@[${server.ip}]>", rcpt: "<\"${to}@${domain}\"@[${server.ip}]>"}
                - {name: "<T@D@S>", mail: "<${from}@[${server.ip}]>", rcpt: "<${to}@${domain}@${server_name}>"}
                - {name: "<@[IP]:T@D>", mail: "<${from}@[${server.ip}]>", rcpt: "<@[${server.ip}]:${to}@${domain}>"}
                - {name: "<@S:T@D>", mail: "<${from}@[${server.ip}]>", rcpt: "<@${server_name}:${to}@${domain}>"}
                - {name: "<D!T>", mail: "<${from}@[${server.ip}]>", rcpt: "<${domain}!${to}>"}
                - {name: "<D!T@[IP]>", mail: "<${from}@[${server.ip}]>", rcpt: "<${domain}!${to}@[${server.ip}]>"}
                - {name: "<D!T@S>", mail: "<${from}@[${server.ip}]>", rcpt: "<${domain}!${to}@${server_name}>"}
            steps:
              - send: EHLO ${client}
                expect: 250
              - name: MAIL FROM:${form.mail}
                send: MAIL FROM:${form.mail}
                expect: ["2xx", "4xx", "5xx"]
              - name: RCPT TO:${form.rcpt}
                send: RCPT TO:${form.rcpt}
                expect: ["4xx", "5xx"]

        """#
}
