/* SPDX-License-Identifier: MIT */
/*
 * Tests for proxy/sentinel_reply.c on replies read from RESP bytes by hiredis with kvedge's reply functions (as the
 * link reads them): get-master-addr-by-name ([ip, port], nil, errors, host names and bad ports refused), SENTINEL
 * replicas (flat field lists; s_down, o_down and disconnected replicas skipped; malformed entries skipped; the cap),
 * and +switch-master messages (only the configured master's).
 */
#include "test.h"
#include "proxy/common.h"
#include "proxy/redis_reply.h"
#include "proxy/sentinel_reply.h"

#include <stdio.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

/* one whole reply from `bytes` (a reader of its own each time: the replies outlive it) */
static const kve_kv_reply_t *parse(const char *bytes)
{
    redisReader *reader = redisReaderCreateWithFunctions(&kve_redis_reply_functions);
    void *reply = NULL;

    redisReaderFeed(reader, bytes, strlen(bytes));
    CHECK_EQ_INT(redisReaderGetReply(reader, &reply), REDIS_OK);
    CHECK_NOT_NULL(reply);
    redisReaderFree(reader);
    return reply;
}

static void done(const kve_kv_reply_t *r)
{
    kve_redis_reply_functions.freeObject((void *)r);
}

static int master(const char *bytes, kve_sentinel_addr_t *out, char *err)
{
    const kve_kv_reply_t *r = parse(bytes);
    int ret = kve_sentinel_parse_master(r, out, err, 200);
    done(r);
    return ret;
}

TEST(master_address)
{
    kve_sentinel_addr_t a;
    char err[200];

    CHECK_EQ_INT(master("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n", &a, err), 0);
    CHECK_EQ_STR(a.host, "127.0.0.1");
    CHECK_EQ_INT(a.port, 6380);
    CHECK_EQ_INT(master("*2\r\n$3\r\n::1\r\n$5\r\n65535\r\n", &a, err), 0);
    CHECK_EQ_STR(a.host, "::1");
    CHECK(!kve_sentinel_numeric_host("127.0.0.1\0", 10)); /* a NUL inside: refused, not cut short */
    CHECK(kve_sentinel_numeric_host("127.0.0.1", 9));
    CHECK_EQ_INT(master("*-1\r\n", &a, err), -1);
    CHECK(strstr(err, "does not monitor") != NULL);
    CHECK_EQ_INT(master("$-1\r\n", &a, err), -1);
    CHECK_EQ_INT(master("-IDONTKNOW No such master with that name\r\n", &a, err), -1);
    CHECK(strstr(err, "IDONTKNOW") != NULL);
    CHECK_EQ_INT(master("*2\r\n$9\r\nlocalhost\r\n$4\r\n6380\r\n", &a, err), -1); /* a name: never resolved on a worker */
    CHECK(strstr(err, "numeric") != NULL);
    CHECK_EQ_INT(master("*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n", &a, err), -1);
    CHECK_EQ_INT(master("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n", &a, err), -1);
    CHECK_EQ_INT(master("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n+6380\r\n", &a, err), -1);
    CHECK_EQ_INT(master("*2\r\n$9\r\n127.0.0.1\r\n:6380\r\n", &a, err), -1); /* an integer, not a string */
    CHECK_EQ_INT(master("*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$1\r\nx\r\n", &a, err), -1);
    CHECK_EQ_INT(master("*2\r\n$60\r\n111111111111111111111111111111111111111111111111111111111111\r\n$4\r\n6380\r\n", &a, err),
                 -1);
}

static const char *replica(char *buf, size_t len, const char *ip, const char *port, const char *flags)
{
    snprintf(buf, len, "*6\r\n$2\r\nip\r\n$%zu\r\n%s\r\n$4\r\nport\r\n$%zu\r\n%s\r\n$5\r\nflags\r\n$%zu\r\n%s\r\n", strlen(ip), ip,
             strlen(port), port, strlen(flags), flags);
    return buf;
}

TEST(replicas_list)
{
    char a[200], b[200], c[200], d[200], e[200], bytes[1200], err[200];
    kve_sentinel_addr_t out[4];
    const kve_kv_reply_t *r;

    snprintf(bytes, sizeof(bytes), "*5\r\n%s%s%s%s%s", replica(a, sizeof(a), "127.0.0.1", "7001", "slave"),
             replica(b, sizeof(b), "127.0.0.1", "7002", "s_down,slave"),
             replica(c, sizeof(c), "127.0.0.1", "7003", "slave,disconnected"),
             replica(d, sizeof(d), "10.0.0.4", "7004", "o_down,slave"),
             replica(e, sizeof(e), "10.0.0.5", "7005", "slave,s_downish"));
    r = parse(bytes);
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 4, err, sizeof(err)), 2);
    CHECK_EQ_STR(out[0].host, "127.0.0.1");
    CHECK_EQ_INT(out[0].port, 7001);
    CHECK_EQ_STR(out[1].host, "10.0.0.5"); /* "s_downish" is not s_down: flags are whole words */
    CHECK_EQ_INT(out[1].port, 7005);
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 1, err, sizeof(err)), 1); /* the cap */
    done(r);
    /* Sentinel's real field list: more fields, any order */
    r = parse("*1\r\n*10\r\n$4\r\nname\r\n$14\r\n127.0.0.1:7009\r\n$5\r\nflags\r\n$5\r\nslave\r\n$4\r\nport\r\n$4\r\n7009\r\n"
              "$2\r\nip\r\n$9\r\n127.0.0.1\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n");
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 4, err, sizeof(err)), 1);
    CHECK_EQ_INT(out[0].port, 7009);
    done(r);
    /* malformed entries are skipped: odd length, no flags, an integer value, a host name, not an array */
    r = parse(
        "*5\r\n*3\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$2\r\n99\r\n"
        "*6\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n:99\r\n$5\r\nflags\r\n$5\r\nslave\r\n"
        "*6\r\n$2\r\nip\r\n$4\r\nhost\r\n$4\r\nport\r\n$2\r\n99\r\n$5\r\nflags\r\n$5\r\nslave\r\n$2\r\nip\r\n");
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 4, err, sizeof(err)), 0);
    done(r);
    r = parse("*0\r\n");
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 4, err, sizeof(err)), 0);
    done(r);
    r = parse("-ERR No such master with that name\r\n");
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 4, err, sizeof(err)), -1);
    CHECK(strstr(err, "No such master") != NULL);
    done(r);
    r = parse("$5\r\nhello\r\n");
    CHECK_EQ_INT(kve_sentinel_parse_replicas(r, out, 4, err, sizeof(err)), -1);
    done(r);
}

TEST(switch_master_message)
{
    const kve_kv_reply_t *r;

    r = parse("*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$46\r\nmymaster 127.0.0.1 7000 127.0.0.1 7001 (extra)\r\n");
    CHECK(kve_sentinel_is_switch(r, "mymaster"));
    CHECK(!kve_sentinel_is_switch(r, "mymast")); /* a prefix is another master */
    CHECK(!kve_sentinel_is_switch(r, "mymaster2"));
    done(r);
    r = parse("*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n");
    CHECK(!kve_sentinel_is_switch(r, "mymaster"));
    done(r);
    r = parse("*3\r\n$7\r\nmessage\r\n$11\r\n+sdown-test\r\n$8\r\nmymaster\r\n");
    CHECK(!kve_sentinel_is_switch(r, "mymaster"));
    done(r);
    r = parse("*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$8\r\nmymaster\r\n"); /* the name alone */
    CHECK(!kve_sentinel_is_switch(r, "mymaster"));
    done(r);
    CHECK(!kve_sentinel_is_switch(NULL, "mymaster"));
}

void kve_suite_sentinel_reply(void)
{
    RUN(master_address);
    RUN(replicas_list);
    RUN(switch_master_message);
    kve_redis_reply_release_thread();
}
