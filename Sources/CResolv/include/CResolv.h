#ifndef SMTP_SCENARIO_CRESOLV_H
#define SMTP_SCENARIO_CRESOLV_H

// DNS lookups for `mx:` targets through glibc's resolver (res_nquery and the ns_* record parser of libresolv),
// optionally against one given server (--dns-server). Blocking: call them off the event loops.

/// One MX record: its preference and its exchange host (absolute name without the final dot; "" for the root,
/// which is RFC 7505's null MX).
typedef struct {
    int preference;
    char host[256];
} smtp_mx_record;

/// One address, as text.
typedef struct {
    char text[64];
} smtp_address;

/// Negative results of the queries.
static const int SMTP_DNS_NXDOMAIN = -1;   // the name does not exist
static const int SMTP_DNS_TRY_AGAIN = -2;  // a temporary failure (timeout, SERVFAIL)
static const int SMTP_DNS_FAILURE = -3;    // any other failure (refused, malformed answer)
static const int SMTP_DNS_BAD_SERVER = -4; // the --dns-server address is not an IPv4 address

/// Queries the MX records of `name`. Returns how many were written to `out` (0: the name exists and has none),
/// or a negative SMTP_DNS_* value. `server_ip` NULL or "" uses the system's resolver configuration.
int smtp_query_mx(const char *name, const char *server_ip, int server_port, smtp_mx_record *out, int capacity);

/// Queries the A (family 4) or AAAA (family 6) records of `name`, as in smtp_query_mx.
int smtp_query_addresses(const char *name, int family, const char *server_ip, int server_port, smtp_address *out,
                         int capacity);

#endif
