/* SPDX-License-Identifier: MIT */
/* A user's sessions: the index key, public ids from storage hashes, DESTROY / REVOKE_ALL / LIST (see session_users.h). */
#include "handlers/session_users.h"
#include "handlers/session_script.h"
#include "proxy/common.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char digits[] = "0123456789abcdef";

h2o_iovec_t kve_session_users_index(h2o_mem_pool_t *pool, const char *key, const char *uid)
{
    /* "kvs1:{" tag "}:u:" hex(uid) */
    size_t uidlen = strlen(uid), head = 6 + KVE_SESSION_TAG_CHARS, len = head + 4 + 2 * uidlen;
    char *out = h2o_mem_alloc_pool(pool, len + 1);

    KVE_ASSERT(uidlen <= KVE_SESSION_UID_MAX);
    memcpy(out, key, head);
    memcpy(out + head, "}:u:", 4);
    for (size_t i = 0; i != uidlen; ++i) {
        uint8_t b = (uint8_t)uid[i];
        out[head + 4 + 2 * i] = digits[b >> 4], out[head + 5 + 2 * i] = digits[b & 15];
    }
    out[len] = '\0';
    return h2o_iovec_init(out, len);
}

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int kve_session_users_pid(char out[KVE_SESSION_PID_SIZE], const uint8_t *k_pid, size_t klen, const char *hash_hex, size_t len)
{
    uint8_t h[KVE_SESSION_HASH_HEX / 2], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (len != KVE_SESSION_HASH_HEX)
        return -1;
    for (size_t i = 0; i != sizeof(h); ++i) {
        int hi = unhex(hash_hex[2 * i]), lo = unhex(hash_hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        h[i] = (uint8_t)(hi << 4 | lo);
    }
    KVE_ASSERT(HMAC(EVP_sha256(), k_pid, (int)klen, h, sizeof(h), md, &mdlen) != NULL);
    for (size_t i = 0; i != (KVE_SESSION_PID_SIZE - 1) / 2; ++i)
        out[2 * i] = digits[md[i] >> 4], out[2 * i + 1] = digits[md[i] & 15];
    out[KVE_SESSION_PID_SIZE - 1] = '\0';
    return 0;
}

h2o_iovec_t kve_session_users_ua(h2o_mem_pool_t *pool, h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
    h2o_iovec_t v;
    if (i == -1)
        return h2o_iovec_init("", 0);
    v = req->headers.entries[i].value;
    v = h2o_strdup(pool, v.base, KVE_MIN(v.len, KVE_SESSION_UA_MAX));
    for (size_t j = 0; j != v.len; ++j)
        if ((unsigned char)v.base[j] < 0x20 || (unsigned char)v.base[j] > 0x7e)
            v.base[j] = '?';
    return v;
}

h2o_iovec_t kve_session_users_ip(h2o_mem_pool_t *pool, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername != NULL ? req->conn->callbacks->get_peername(req->conn, (void *)&ss) : 0;
    char buf[INET6_ADDRSTRLEN + 8];

    if (len != 0 && ss.ss_family == AF_INET) {
        struct in_addr a = ((struct sockaddr_in *)&ss)->sin_addr;
        a.s_addr &= htonl(0xffffff00);
        if (inet_ntop(AF_INET, &a, buf, sizeof(buf)) != NULL)
            return h2o_concat(pool, h2o_iovec_init(buf, strlen(buf)), h2o_iovec_init(H2O_STRLIT("/24")));
    } else if (len != 0 && ss.ss_family == AF_INET6) {
        struct in6_addr a = ((struct sockaddr_in6 *)&ss)->sin6_addr;
        memset(a.s6_addr + 6, 0, 10);
        if (inet_ntop(AF_INET6, &a, buf, sizeof(buf)) != NULL)
            return h2o_concat(pool, h2o_iovec_init(buf, strlen(buf)), h2o_iovec_init(H2O_STRLIT("/48")));
    }
    return h2o_iovec_init("", 0);
}

/* EVALSHA <sha> <numkeys> <keys...> <args...> of `script` */
static void script_cmd(kve_session_users_cmd_t *c, const kve_kv_script_t *script, size_t numkeys, const h2o_iovec_t *rest, size_t n)
{
    static const char *const counts[] = {"0", "1", "2"};

    KVE_ASSERT(numkeys <= 2 && 3 + n <= KVE_SESSION_USERS_ARGC);
    kve_kv_script_argv(script, 0, c->argv, c->argvlen);
    c->argv[2] = counts[numkeys], c->argvlen[2] = 1;
    for (size_t i = 0; i != n; ++i)
        c->argv[3 + i] = rest[i].base, c->argvlen[3 + i] = rest[i].len;
    c->cmd = KVE_KV_COMMAND(3 + n, c->argv, c->argvlen);
    c->cmd.script = script;
}

void kve_session_users_destroy(h2o_mem_pool_t *pool, kve_session_users_cmd_t *c, const char *key, const char *uid)
{
    h2o_iovec_t keys[2] = {h2o_iovec_init(key, strlen(key))};
    size_t n = 1;
    if (uid != NULL && uid[0] != '\0')
        keys[n++] = kve_session_users_index(pool, key, uid);
    script_cmd(c, &kve_session_scripts()->destroy, n, keys, n);
}

void kve_session_users_revoke_all(h2o_mem_pool_t *pool, kve_session_users_cmd_t *c, const char *key, const char *uid)
{
    h2o_iovec_t keys[2] = {kve_session_users_index(pool, key, uid), h2o_iovec_init(key, strlen(key))};
    script_cmd(c, &kve_session_scripts()->revoke_all, 2, keys, 2);
}

void kve_session_users_list(h2o_mem_pool_t *pool, kve_session_users_cmd_t *c, const char *key, const char *uid, int64_t now_ms)
{
    char buf[24];
    int len = snprintf(buf, sizeof(buf), "%lld", (long long)now_ms);
    h2o_iovec_t args[3] = {kve_session_users_index(pool, key, uid), h2o_iovec_init(key, strlen(key)),
                           h2o_strdup(pool, buf, (size_t)len)};
    script_cmd(c, &kve_session_scripts()->list, 2, args, 3);
}
