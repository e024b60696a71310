/* SPDX-License-Identifier: MIT */
/*
 * The console's login and logout (see console_routes.h). The login form posts the token in an
 * application/x-www-form-urlencoded body (never in a URL, so never in the access log); it is compared in constant
 * time with admin.token and admin.read_only_token. Failed logins are logged (peer address, never the token) and
 * limited per process: after KVE_CONSOLE_MAX_FAILURES failures within KVE_CONSOLE_FAILURE_WINDOW seconds, every
 * login is answered 429 without looking at the token until the window ends (a guess rate of 5 per 10 s for the
 * whole process, whatever the number of clients; the right token also waits, which is the price).
 */
#include "handlers/console_parse.h"
#include "handlers/console_routes.h"
#include "proxy/common.h"
#include "proxy/log.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <netdb.h>
#include <sys/socket.h>
#include <time.h>

#define KVE_CONSOLE_MAX_FAILURES 5
#define KVE_CONSOLE_FAILURE_WINDOW 10
#define MAX_TOKEN 4096

static pthread_mutex_t failures_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    time_t window_start;
    unsigned count, refused;
} failures;

/* 0 when logins are open; else 1, or 2 for the first refusal of the window (logged once, not once per request); `fail`
 * counts one more failure */
static int limited(int fail)
{
    time_t now = time(NULL);
    int ret = 0;
    pthread_mutex_lock(&failures_lock);
    if (now - failures.window_start >= KVE_CONSOLE_FAILURE_WINDOW)
        failures.window_start = now, failures.count = 0, failures.refused = 0;
    failures.count += fail;
    if (!fail && failures.count >= KVE_CONSOLE_MAX_FAILURES)
        ret = failures.refused++ == 0 ? 2 : 1;
    pthread_mutex_unlock(&failures_lock);
    return ret;
}

static void peer_address(h2o_req_t *req, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (void *)&ss);
    snprintf(out, size, "?");
    if (len != 0) {
        size_t n = h2o_socket_getnumerichost((void *)&ss, len, out);
        out[n != SIZE_MAX ? n : 0] = '\0';
    }
}

/* 1 read-write, 2 read-only, 0 neither (both compared, in constant time) */
static int which_token(kve_console_t *self, const char *token, size_t len)
{
    int rw = self->token != NULL && kve_secure_equal(token, len, self->token, self->token_len);
    int ro = self->read_only_token != NULL && kve_secure_equal(token, len, self->read_only_token, self->read_only_token_len);
    return rw ? 1 : ro ? 2 : 0;
}

static void set_cookie(h2o_req_t *req, kve_console_t *self, const char *value, uint64_t max_age)
{
    int tls = req->scheme == &H2O_URL_SCHEME_HTTPS;
    size_t cap = strlen(self->path) + KVE_CONSOLE_SECRET_HEX + 128;
    char *cookie = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(cookie, cap, "kvedge_console=%s; Path=%s; Max-Age=%llu; HttpOnly; SameSite=Strict%s", value, self->path,
                     (unsigned long long)max_age, tls ? "; Secure" : "");
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, cookie, (size_t)n);
}

void kve_console_login(kve_console_call_t *call)
{
    h2o_req_t *req = call->req;
    kve_console_t *self = call->console;
    char token[MAX_TOKEN + 1], peer[NI_MAXHOST];
    long len;
    int who, limit;
    kve_console_session_t s;

    peer_address(req, peer, sizeof(peer));
    if ((limit = limited(0)) != 0) {
        if (limit == 2)
            kve_log(KVE_LOG_WARN, "console", "login from %s refused: too many failed logins, logins refused for up to %d s", peer,
                    KVE_CONSOLE_FAILURE_WINDOW);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("10"));
        kve_console_send_error(req, 429, "too many failed logins: try again later");
        return;
    }
    len = kve_console_form_value(req->entity.base, req->entity.len, "token", token, sizeof(token));
    who = len > 0 ? which_token(self, token, (size_t)len) : 0;
    OPENSSL_cleanse(token, sizeof(token));
    if (who == 0) {
        limited(1);
        kve_log(KVE_LOG_WARN, "console", "failed login from %s: %s", peer, len > 0 ? "wrong token" : "no token in the form");
        kve_console_send_error(req, 401, "wrong token");
        return;
    }
    if (kve_console_session_create(who == 2, self->session_ttl_ms, &s) != 0) {
        kve_console_send_error(req, 503, "no random bytes for a session");
        return;
    }
    kve_log(KVE_LOG_INFO, "console", "login from %s (%s session)", peer, who == 2 ? "read-only" : "read-write");
    set_cookie(req, self, s.id, self->session_ttl_ms / 1000);
    OPENSSL_cleanse(&s, sizeof(s));
    kve_console_send_redirect(req, 303, "See Other", self->path);
}

void kve_console_logout(kve_console_call_t *call)
{
    kve_console_session_end(call->session->id, KVE_CONSOLE_SECRET_HEX);
    set_cookie(call->req, call->console, "", 0);
    kve_console_send_json(call->req, 200, H2O_STRLIT("{\"ok\":true}"));
}

void kve_console_logout_all(kve_console_call_t *call)
{
    kve_console_session_end_all();
    kve_log(KVE_LOG_INFO, "console", "every console session ended");
    set_cookie(call->req, call->console, "", 0);
    kve_console_send_json(call->req, 200, H2O_STRLIT("{\"ok\":true}"));
}
