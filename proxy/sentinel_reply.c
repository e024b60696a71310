/* SPDX-License-Identifier: MIT */
/* Sentinel's replies (see sentinel_reply.h). */
#include "proxy/sentinel_reply.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static int is_text(const kve_kv_reply_t *r)
{
    return r != NULL && (r->type == KVE_REPLY_STRING || r->type == KVE_REPLY_STATUS);
}

static int text_is(const kve_kv_reply_t *r, const char *s)
{
    return is_text(r) && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

int kve_sentinel_numeric_host(const char *s, size_t len)
{
    char buf[KVE_SENTINEL_HOST_MAX];
    unsigned char addr[16];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* a port in decimal, 1..65535, no sign, no spaces */
static int parse_port(const char *s, size_t len)
{
    int v = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i != len; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* host and port from two strings */
static int set_addr(kve_sentinel_addr_t *out, const char *host, size_t hostlen, const char *port, size_t portlen)
{
    int p;
    if (!kve_sentinel_numeric_host(host, hostlen) || (p = parse_port(port, portlen)) < 0)
        return -1;
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    out->port = p;
    return 0;
}

int kve_sentinel_parse_master(const kve_kv_reply_t *r, kve_sentinel_addr_t *out, char *err, size_t errlen)
{
    if (r == NULL || r->type == KVE_REPLY_NIL) {
        snprintf(err, errlen, "the sentinel does not monitor this master");
        return -1;
    }
    if (r->type == KVE_REPLY_ERROR) {
        snprintf(err, errlen, "the sentinel answered an error: %.*s", (int)(r->len > 120 ? 120 : r->len), r->str);
        return -1;
    }
    if (r->type != KVE_REPLY_ARRAY || r->elements != 2 || !is_text(r->element[0]) || !is_text(r->element[1])) {
        snprintf(err, errlen, "the sentinel's answer is not [ip, port]");
        return -1;
    }
    if (set_addr(out, r->element[0]->str, r->element[0]->len, r->element[1]->str, r->element[1]->len) != 0) {
        snprintf(err, errlen, "the sentinel named no numeric address and port (use `sentinel announce-ip`, not host names)");
        return -1;
    }
    return 0;
}

/* whether the comma-separated `flags` name a replica that must not be used */
static int flags_down(const char *flags, size_t len)
{
    static const char *const down[] = {"s_down", "o_down", "disconnected"};
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && flags[j] != ',')
            ++j;
        for (size_t k = 0; k != sizeof(down) / sizeof(down[0]); ++k)
            if (j - i == strlen(down[k]) && memcmp(flags + i, down[k], j - i) == 0)
                return 1;
        i = j + 1;
    }
    return 0;
}

/* one replica's field list: 1 usable (out set), 0 skipped */
static int read_replica(const kve_kv_reply_t *r, kve_sentinel_addr_t *out)
{
    const kve_kv_reply_t *ip = NULL, *port = NULL, *flags = NULL;

    if (r == NULL || r->type != KVE_REPLY_ARRAY || r->elements % 2 != 0)
        return 0;
    for (size_t i = 0; i != r->elements; i += 2) {
        const kve_kv_reply_t *name = r->element[i], *value = r->element[i + 1];
        if (!is_text(name) || !is_text(value))
            return 0;
        if (text_is(name, "ip"))
            ip = value;
        else if (text_is(name, "port"))
            port = value;
        else if (text_is(name, "flags"))
            flags = value;
    }
    if (ip == NULL || port == NULL || flags == NULL || flags_down(flags->str, flags->len))
        return 0;
    return set_addr(out, ip->str, ip->len, port->str, port->len) == 0;
}

int kve_sentinel_parse_replicas(const kve_kv_reply_t *r, kve_sentinel_addr_t *out, size_t max, char *err, size_t errlen)
{
    size_t n = 0;

    if (r == NULL || r->type != KVE_REPLY_ARRAY) {
        if (r != NULL && r->type == KVE_REPLY_ERROR)
            snprintf(err, errlen, "the sentinel answered an error: %.*s", (int)(r->len > 120 ? 120 : r->len), r->str);
        else
            snprintf(err, errlen, "the sentinel's list of replicas is not an array");
        return -1;
    }
    for (size_t i = 0; i != r->elements && n != max; ++i)
        if (read_replica(r->element[i], out + n))
            ++n;
    return (int)n;
}

int kve_sentinel_is_switch(const kve_kv_reply_t *r, const char *master)
{
    size_t mlen = strlen(master);

    if (r == NULL || (r->type != KVE_REPLY_ARRAY && r->type != KVE_REPLY_PUSH) || r->elements != 3 ||
        !text_is(r->element[0], "message") || !text_is(r->element[1], "+switch-master") || !is_text(r->element[2]))
        return 0;
    /* "<master> <old-ip> <old-port> <new-ip> <new-port>": the name is the first word */
    return r->element[2]->len > mlen && memcmp(r->element[2]->str, master, mlen) == 0 && r->element[2]->str[mlen] == ' ';
}
