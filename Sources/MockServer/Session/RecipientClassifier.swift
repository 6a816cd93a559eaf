import SMTPWire

/// Decides whether a recipient is local or a relay attempt, reading addresses as an MTA does: source routes are
/// dropped and the final mailbox used, and the `%` hack, bang paths and quoted `"user@domain"` local parts name
/// the domain they really route to. This is why every one of nmap's 16 relay forms is refused by a closed policy.
struct RecipientClassifier {
    enum Destination: Equatable {
        /// Delivered here, to this local part.
        case local(String)
        /// Delivered elsewhere: relaying.
        case foreign(String)
    }

    let localDomains: [String]
    let hostname: String
    let serverAddresses: [String]

    func classify(_ mailbox: Mailbox) -> Destination {
        guard let domain = mailbox.domain else {
            // No domain: `<Postmaster>` or an address routed inside its local part (`<D!T>`, `<"T%D">`).
            if let embedded = mailbox.embeddedDomain { return classifyEmbedded(mailbox.localPart, embedded) }
            return .local(mailbox.localPart)
        }
        guard isLocal(domain) else { return .foreign(domain.description) }
        if let embedded = mailbox.embeddedDomain { return classifyEmbedded(mailbox.localPart, embedded) }
        return .local(mailbox.localPart)
    }

    private func classifyEmbedded(_ localPart: String, _ embedded: String) -> Destination {
        let domain: MailDomain =
            embedded.hasPrefix("[") && embedded.hasSuffix("]")
            ? .literal(String(embedded.dropFirst().dropLast())) : .name(embedded)
        guard isLocal(domain) else { return .foreign(embedded) }
        // A route back to ourselves: the part before the separator is the local user.
        let user: String
        if let bang = localPart.lastIndex(of: "!") {
            user = String(localPart[localPart.index(after: bang)...])
        } else {
            user = localPart.split(whereSeparator: { $0 == "@" || $0 == "%" }).first.map(String.init) ?? localPart
        }
        return .local(user)
    }

    func isLocal(_ domain: MailDomain) -> Bool {
        switch domain {
        case .name(let name):
            let lowered = name.lowercased()
            return lowered == hostname.lowercased() || localDomains.contains { $0.lowercased() == lowered }
        case .literal(let literal):
            let address = literal.lowercased().hasPrefix("ipv6:") ? String(literal.dropFirst(5)) : literal
            return serverAddresses.contains(address)
        }
    }
}
