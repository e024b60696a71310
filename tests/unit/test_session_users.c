/* SPDX-License-Identifier: MIT */
/*
 * Tests for a user's sessions' pure parts (issue 10; handlers/session_users.h): the index key (the user's slot tag,
 * any byte of the uid hex-encoded), public ids from index members (the same as from the handle; malformed members
 * refused), the DESTROY / REVOKE_ALL / LIST commands' keys and arguments, and the listing's summaries (User-Agent cut
 * and made printable, the peer's /24 or /48), and the endpoints' gate on a loopback server with no store at all: what
 * it refuses (404, 405 with Allow, 403 cross-site) never reaches the session handler, and what it lets through finds
 * the store unavailable (503).
 */
#include "test.h"
#include "loopback.h"
#include "handlers/session_endpoint.h"
#include "handlers/session_cookie.h"
#include "handlers/session_script.h"
#include "handlers/session_users.h"
#include "proxy/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static const char key[] = "0123456789abcdef0123456789abcdef-session";
static const char handle[] = "AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789a";

static int arg_is(const kve_session_users_cmd_t *c, size_t i, const char *s)
{
    return i < c->cmd.argc && c->cmd.argvlen[i] == strlen(s) && memcmp(c->cmd.argv[i], s, strlen(s)) == 0;
}

TEST(index_key)
{
    h2o_mem_pool_t pool;
    char k[KVE_SESSION_KEY_SIZE], uid[KVE_SESSION_UID_MAX + 1];
    h2o_iovec_t idx;

    h2o_mem_init_pool(&pool);
    kve_session_key(k, handle);
    idx = kve_session_users_index(&pool, k, "a:}{\xff");
    CHECK_EQ_STR(idx.base, "kvs1:{AAAAAAAAAAA}:u:613a7d7bff"); /* no byte of the uid can reach the key's syntax */
    CHECK_EQ_UINT(idx.len, strlen(idx.base));
    memset(uid, 'z', KVE_SESSION_UID_MAX);
    uid[KVE_SESSION_UID_MAX] = '\0';
    idx = kve_session_users_index(&pool, k, uid);
    CHECK_EQ_UINT(idx.len, 21 + 2 * KVE_SESSION_UID_MAX);
    h2o_mem_clear_pool(&pool);
}

TEST(pid_of_member)
{
    char k[KVE_SESSION_KEY_SIZE], a[KVE_SESSION_PID_SIZE], b[KVE_SESSION_PID_SIZE], bad[KVE_SESSION_HASH_HEX + 1];
    const char *member;

    kve_session_key(k, handle);
    member = k + strlen(k) - KVE_SESSION_HASH_HEX;
    kve_session_pid(a, (const uint8_t *)key, 32, handle);
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, member, KVE_SESSION_HASH_HEX), 0);
    CHECK_EQ_STR(a, b); /* the listing's pid is the JWTs' sid */
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, member, KVE_SESSION_HASH_HEX - 1), -1);
    memcpy(bad, member, sizeof(bad));
    bad[0] = (char)(bad[0] >= 'a' ? 'A' : 'g'); /* upper case, or not hex */
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, bad, KVE_SESSION_HASH_HEX), -1);
    bad[0] = 'x';
    CHECK_EQ_INT(kve_session_users_pid(b, (const uint8_t *)key, 32, bad, KVE_SESSION_HASH_HEX), -1);
}

TEST(commands)
{
    h2o_mem_pool_t pool;
    kve_session_users_cmd_t c;
    char k[KVE_SESSION_KEY_SIZE];
    const kve_session_scripts_t *s = kve_session_scripts();

    h2o_mem_init_pool(&pool);
    kve_session_key(k, handle);
    kve_session_users_destroy(&pool, &c, k, NULL); /* anonymous: no index */
    CHECK(c.cmd.script == &s->destroy);
    CHECK_EQ_UINT(c.cmd.argc, 4);
    CHECK(arg_is(&c, 0, "EVALSHA") && arg_is(&c, 2, "1") && arg_is(&c, 3, k));
    kve_session_users_destroy(&pool, &c, k, "u1");
    CHECK_EQ_UINT(c.cmd.argc, 5);
    CHECK(arg_is(&c, 2, "2") && arg_is(&c, 3, k) && arg_is(&c, 4, "kvs1:{AAAAAAAAAAA}:u:7531"));
    kve_session_users_revoke_all(&pool, &c, k, "u1");
    CHECK(c.cmd.script == &s->revoke_all);
    CHECK(arg_is(&c, 2, "2") && arg_is(&c, 3, "kvs1:{AAAAAAAAAAA}:u:7531") && arg_is(&c, 4, k));
    kve_session_users_list(&pool, &c, k, "u1", 1234567890123);
    CHECK(c.cmd.script == &s->list);
    CHECK_EQ_UINT(c.cmd.argc, 6);
    CHECK(arg_is(&c, 3, "kvs1:{AAAAAAAAAAA}:u:7531") && arg_is(&c, 4, k) && arg_is(&c, 5, "1234567890123"));
    h2o_mem_clear_pool(&pool);
}

static int peer_family;

static socklen_t fake_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    if (peer_family == AF_INET) {
        struct sockaddr_in *in = (void *)sa;
        memset(in, 0, sizeof(*in));
        in->sin_family = AF_INET;
        inet_pton(AF_INET, "203.0.113.77", &in->sin_addr);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (void *)sa;
    memset(in6, 0, sizeof(*in6));
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1:2:3::5", &in6->sin6_addr);
    return sizeof(*in6);
}

TEST(summaries)
{
    static const h2o_conn_callbacks_t with = {.get_peername = fake_peername}, without = {NULL};
    h2o_conn_t conn;
    h2o_req_t req;
    char ua[300];
    h2o_iovec_t v;

    memset(&conn, 0, sizeof(conn));
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    req.conn = &conn;
    conn.callbacks = &with;
    v = kve_session_users_ua(&req.pool, &req);
    CHECK_EQ_UINT(v.len, 0); /* no User-Agent */
    memset(ua, 'a', sizeof(ua));
    memcpy(ua, "x\001\xe9\x7f\n", 5);
    h2o_add_header(&req.pool, &req.headers, H2O_TOKEN_USER_AGENT, NULL, ua, sizeof(ua));
    v = kve_session_users_ua(&req.pool, &req);
    CHECK_EQ_UINT(v.len, KVE_SESSION_UA_MAX);
    CHECK(memcmp(v.base, "x????aaa", 8) == 0);
    peer_family = AF_INET;
    v = kve_session_users_ip(&req.pool, &req);
    CHECK_EQ_MEM(v.base, v.len, "203.0.113.0/24", 14);
    peer_family = AF_INET6;
    v = kve_session_users_ip(&req.pool, &req);
    CHECK_EQ_MEM(v.base, v.len, "2001:db8:1::/48", 15);
    conn.callbacks = &without;
    v = kve_session_users_ip(&req.pool, &req);
    CHECK_EQ_UINT(v.len, 0);
    h2o_mem_clear_pool(&req.pool);
}

/* one request to the endpoints of `lb`; returns its status (and its Allow header in *allow when asked) */
static int endpoint_status(kve_loopback_t *lb, const char *method, const char *path, const char *origin, char *allow)
{
    kve_loopback_req_t *r = kve_loopback_req(lb, method, path);
    const char *a;
    int status;
    kve_loopback_req_header(r, "cookie", "__Host-sid=AAAAAAAAAAA0123456789abcdefghijABCDEFGHIJ-_0123456789a");
    if (origin != NULL)
        kve_loopback_req_header(r, "origin", origin);
    CHECK_EQ_INT(kve_loopback_req_run(r, 5000), 0);
    status = r->status;
    if (allow != NULL)
        snprintf(allow, 32, "%s", (a = kve_loopback_res_header(r, "allow")) != NULL ? a : "");
    CHECK_EQ_STR(kve_loopback_res_header(r, "cache-control"), "no-store");
    kve_loopback_req_free(r);
    return status;
}

TEST(endpoint_gate)
{
    static const struct {
        const char *method, *path, *origin;
        int status;
        const char *allow;
    } rows[] = {
        {"GET", "/_session/list", NULL, 503, ""}, /* through the gate: the session handler has no store link */
        {"GET", "/_session/auth", NULL, 503, ""},
        {"PUT", "/_session/auth", NULL, 503, ""},
        {"POST", "/_session/logout", NULL, 503, ""}, /* no Origin: not a browser */
        {"GET", "/_session/logout", NULL, 405, "POST"},
        {"PUT", "/_session/list", NULL, 405, "GET, HEAD"},
        {"GET", "/_session/0123456789abcdef0123456789abcdef", NULL, 405, "DELETE"},
        {"POST", "/_session/logout", "https://evil.example", 403, ""},
        {"DELETE", "/_session/0123456789abcdef0123456789abcdef", "null", 403, ""},
        {"DELETE", "/_session/0123456789ABCDEF0123456789abcdef", NULL, 404, ""},
        {"DELETE", "/_session/0123456789abcdef0123456789abcde", NULL, 404, ""},
        {"GET", "/_session", NULL, 404, ""},
        {"GET", "/_session/", NULL, 404, ""},
        {"GET", "/_session/listx", NULL, 404, ""},
        {"GET", "/_session/list/", NULL, 404, ""},
    };
    static kve_session_conf_t conf;
    kve_loopback_t *lb = kve_loopback_create();
    h2o_pathconf_t *pc = kve_loopback_register_path(lb, "/_session");
    char allow[32], longpath[200];

    conf.present = 1, conf.mode = KVE_SESSION_REQUIRED, conf.write = 1; /* the endpoints use their own copy: optional */
    conf.cookie_name = "__Host-sid", conf.secure = 1;
    conf.idle_ms = 60000, conf.absolute_ms = 600000, conf.touch_threshold_ms = 1000;
    conf.jwt_key = (char *)key, conf.jwt_ttl_ms = 60000, conf.max_data = 4096;
    conf.store_timeout_ms = 100, conf.route = "/app", conf.max_sessions = 100, conf.endpoint = "/_session";
    conf.csrf.enabled = 0; /* the endpoints turn it on for themselves */
    kve_session_endpoint_register(pc, &conf);
    kve_loopback_start(lb);
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        CHECK_EQ_INT(endpoint_status(lb, rows[i].method, rows[i].path, rows[i].origin, allow), rows[i].status);
        CHECK_EQ_STR(allow, rows[i].allow);
    }
    memset(longpath, 'a', sizeof(longpath));
    memcpy(longpath, "/_session/", 10);
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK_EQ_INT(endpoint_status(lb, "DELETE", longpath, NULL, NULL), 404);
    kve_loopback_destroy(lb);
}

void kve_suite_session_users(void)
{
    RUN(index_key);
    RUN(pid_of_member);
    RUN(commands);
    RUN(summaries);
    RUN(endpoint_gate);
}
