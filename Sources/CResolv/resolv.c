#include "CResolv.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

// A resolver state of our own (res_ninit), pointed at `server_ip` when one is given; short timeouts, two tries.
static int open_state(res_state state, const char *server_ip, int server_port) {
    memset(state, 0, sizeof(*state));
    if (res_ninit(state) != 0) return SMTP_DNS_FAILURE;
    if (server_ip != NULL && server_ip[0] != '\0') {
        struct in_addr address;
        if (inet_pton(AF_INET, server_ip, &address) != 1) {
            res_nclose(state);
            return SMTP_DNS_BAD_SERVER;
        }
        state->nscount = 1;
        state->nsaddr_list[0].sin_family = AF_INET;
        state->nsaddr_list[0].sin_addr = address;
        state->nsaddr_list[0].sin_port = htons((unsigned short)server_port);
    }
    state->retrans = 2;
    state->retry = 2;
    return 0;
}

// res_nquery into `answer`; its length, 0 when the name has no records of the type, or a negative status.
static int query(res_state state, const char *name, int type, unsigned char *answer, int size) {
    int length = res_nquery(state, name, ns_c_in, type, answer, size);
    if (length >= 0) return length;
    switch (state->res_h_errno) {
    case HOST_NOT_FOUND: return SMTP_DNS_NXDOMAIN;
    case NO_DATA: return 0;
    case TRY_AGAIN: return SMTP_DNS_TRY_AGAIN;
    default: return SMTP_DNS_FAILURE;
    }
}

// A `type` query for `name` with a resolver of our own, its answer parsed into `message` (which points into
// `answer`): the number of answer records, 0 when the name has none of the type, or a negative status.
static int query_answers(const char *name, int type, const char *server_ip, int server_port, unsigned char *answer,
                         int size, ns_msg *message) {
    struct __res_state state;
    int status = open_state(&state, server_ip, server_port);
    if (status != 0) return status;
    int length = query(&state, name, type, answer, size);
    res_nclose(&state);
    if (length <= 0) return length;
    if (ns_initparse(answer, length, message) < 0) return SMTP_DNS_FAILURE;
    return ns_msg_count(*message, ns_s_an);
}

int smtp_query_mx(const char *name, const char *server_ip, int server_port, smtp_mx_record *out, int capacity) {
    unsigned char answer[8192];
    ns_msg message;
    int count = query_answers(name, ns_t_mx, server_ip, server_port, answer, sizeof(answer), &message);
    if (count <= 0) return count;
    int written = 0;
    for (int index = 0; index < count && written < capacity; index++) {
        ns_rr record;
        if (ns_parserr(&message, ns_s_an, index, &record) < 0) continue;
        if (ns_rr_type(record) != ns_t_mx || ns_rr_rdlen(record) < 3) continue;
        const unsigned char *data = ns_rr_rdata(record);
        char host[NS_MAXDNAME];
        if (ns_name_uncompress(ns_msg_base(message), ns_msg_end(message), data + 2, host, sizeof(host)) < 0) continue;
        out[written].preference = ns_get16(data);
        // The root is "." (RFC 7505's null MX): reported as "".
        strncpy(out[written].host, strcmp(host, ".") == 0 ? "" : host, sizeof(out[written].host) - 1);
        out[written].host[sizeof(out[written].host) - 1] = '\0';
        written++;
    }
    return written;
}

int smtp_query_addresses(const char *name, int family, const char *server_ip, int server_port, smtp_address *out,
                         int capacity) {
    unsigned char answer[8192];
    int type = family == 6 ? ns_t_aaaa : ns_t_a;
    ns_msg message;
    int count = query_answers(name, type, server_ip, server_port, answer, sizeof(answer), &message);
    if (count <= 0) return count;
    int written = 0;
    for (int index = 0; index < count && written < capacity; index++) {
        ns_rr record;
        if (ns_parserr(&message, ns_s_an, index, &record) < 0) continue;
        if (ns_rr_type(record) != type) continue;
        int expected = family == 6 ? 16 : 4;
        if (ns_rr_rdlen(record) != expected) continue;
        if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, ns_rr_rdata(record), out[written].text,
                      sizeof(out[written].text)) == NULL)
            continue;
        written++;
    }
    return written;
}
