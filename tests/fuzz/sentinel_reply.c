/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the readers of Sentinel's replies (proxy/sentinel_reply.c: get-master-addr-by-name, SENTINEL replicas,
 * +switch-master messages), on replies built by hiredis 0.14's reader with kvedge's reply functions from bytes as a
 * sentinel (an outside party) could send them.
 *
 * Input: byte 0 is the cap on replicas (0..16) and picks the master name ("mymaster" or ""), the rest is the byte
 * stream; every complete reply goes to each of the three readers.
 *
 * Oracles: an accepted address is a NUL-terminated numeric IPv4 or IPv6 address (inet_pton agrees) and a port in
 * 1..65535; a refusal has a message; the replicas list never passes its cap and each entry is an address as above;
 * +switch-master only for a message whose third element starts with the name and a space.
 */
#include "fuzz.h"
#include "proxy/redis_reply.h"
#include "proxy/sentinel_reply.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

static void check_addr(const kve_sentinel_addr_t *a)
{
    unsigned char buf[16];
    size_t len = strnlen(a->host, sizeof(a->host));
    FUZZ_CHECK(len != 0 && len < sizeof(a->host), "host not NUL-terminated in its room");
    FUZZ_CHECK(inet_pton(AF_INET, a->host, buf) == 1 || inet_pton(AF_INET6, a->host, buf) == 1, "host %s not numeric", a->host);
    FUZZ_CHECK(a->port >= 1 && a->port <= 65535, "port %d", a->port);
}

static void check_reply(const kve_kv_reply_t *r, size_t cap, const char *master)
{
    kve_sentinel_addr_t one, list[16];
    char err[256];
    int n;

    err[0] = '\0';
    if (kve_sentinel_parse_master(r, &one, err, sizeof(err)) == 0)
        check_addr(&one);
    else
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
    err[0] = '\0';
    n = kve_sentinel_parse_replicas(r, list, cap, err, sizeof(err));
    FUZZ_CHECK(n >= -1 && n <= (int)cap, "%d replicas for a cap of %zu", n, cap);
    if (n < 0)
        FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
    for (int i = 0; i < n; ++i)
        check_addr(list + i);
    if (kve_sentinel_is_switch(r, master)) {
        size_t mlen = strlen(master);
        FUZZ_CHECK(r->elements == 3 && r->element[2]->len > mlen && memcmp(r->element[2]->str, master, mlen) == 0 &&
                       r->element[2]->str[mlen] == ' ',
                   "a switch that does not name the master");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *reader;
    void *reply;
    size_t cap;
    const char *master;

    if (size < 1)
        return 0;
    cap = data[0] % (16 + 1);
    master = (data[0] & 0x80) != 0 ? "" : "mymaster";
    reader = redisReaderCreateWithFunctions(&kve_redis_reply_functions);
    FUZZ_CHECK(reader != NULL, "redisReaderCreateWithFunctions");
    redisReaderFeed(reader, (const char *)data + 1, size - 1);
    while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != NULL) {
        check_reply(reply, cap, master);
        kve_redis_reply_functions.freeObject(reply);
    }
    redisReaderFree(reader);
    kve_redis_reply_release_thread();
    return 0;
}
