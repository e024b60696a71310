/* SPDX-License-Identifier: MIT */
/*
 * Redis URL parsing and target resolution. The URL grammar is the one redis-cli and most clients accept:
 * redis://[user[:password]@]host[:port][/db] (rediss:// for TLS) and unix:///path[?db=N]. Hand-written because h2o's URL
 * parser only knows http(s) and hiredis 0.14 has no URL support; the grammar is small and table-tested.
 */
#include "proxy/redis_target.h"
#include "proxy/common.h"
#include "proxy/tls_client.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <openssl/crypto.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* percent-decodes s[0..len) into a new string; NULL if an escape is malformed or a NUL (it would cut the string short:
 * a password "%00secret" would authenticate as the empty one) */
static char *decode_component(const char *s, size_t len)
{
    char *out = kve_malloc(len + 1), *o = out;
    size_t i;
    for (i = 0; i != len; ++i) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) /* an escape needs two more bytes */
                goto Error;
            if ((hi = hexval((unsigned char)s[i + 1])) < 0 || (lo = hexval((unsigned char)s[i + 2])) < 0 || hi + lo == 0)
                goto Error;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
Error:
    free(out);
    return NULL;
}

static int parse_db(const char *s, size_t len, int *db)
{
    long v = 0;
    size_t i;
    if (len == 0 || len > 5)
        return -1;
    for (i = 0; i != len; ++i) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *db = (int)v;
    return 0;
}

static int parse_unix(const char *rest, kve_redis_target_t *out, char *err, size_t errlen)
{
    const char *q = strchr(rest, '?');
    size_t plen = q != NULL ? (size_t)(q - rest) : strlen(rest);

    if (plen == 0 || rest[0] != '/') {
        snprintf(err, errlen, "unix URL needs an absolute path, like unix:///run/redis/redis.sock");
        return -1;
    }
    if (plen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "unix socket path is too long (%zu bytes, at most %zu)", plen,
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return -1;
    }
    if (q != NULL && (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, strlen(q + 4), &out->db) != 0)) {
        snprintf(err, errlen, "unix URL query must be ?db=N, got \"%s\"", q);
        return -1;
    }
    if ((out->path = decode_component(rest, plen)) == NULL) {
        snprintf(err, errlen, "bad percent-escape in the socket path");
        return -1;
    }
    return 0;
}

static int parse_userinfo(const char *s, size_t len, kve_redis_target_t *out)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon != NULL ? (size_t)(colon - s) : len;

    if (ulen != 0 && (out->username = decode_component(s, ulen)) == NULL)
        return -1;
    if (colon != NULL && (out->password = decode_component(colon + 1, len - ulen - 1)) == NULL)
        return -1;
    return 0;
}

static int parse_hostport(const char *s, size_t len, kve_redis_target_t *out)
{
    const char *port = NULL, *host = s;
    size_t hlen = len;
    long p = 0;

    if (len != 0 && s[0] == '[') { /* [ipv6]:port */
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return -1;
        host = s + 1;
        hlen = (size_t)(close - s) - 1;
        if ((size_t)(close - s) + 1 < len) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon != NULL) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (hlen == 0)
        return -1;
    out->port = 6379;
    if (port != NULL) {
        const char *end = s + len;
        if (port == end)
            return -1;
        for (; port != end; ++port) {
            if (!isdigit((unsigned char)*port) || (p = p * 10 + (*port - '0')) > 65535)
                return -1;
        }
        if (p == 0)
            return -1;
        out->port = (int)p;
    }
    out->host = kve_strndup(host, hlen);
    return 0;
}

static int parse_tcp(const char *rest, kve_redis_target_t *out, char *err, size_t errlen)
{
    const char *slash = strchr(rest, '/');
    size_t alen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    const char *at = memrchr(rest, '@', alen);
    const char *hp = at != NULL ? at + 1 : rest;

    if (at != NULL && parse_userinfo(rest, (size_t)(at - rest), out) != 0) {
        snprintf(err, errlen, "bad percent-escape in the user or password of the Redis URL");
        return -1;
    }
    if (parse_hostport(hp, alen - (size_t)(hp - rest), out) != 0) {
        snprintf(err, errlen, "expected host[:port] in the Redis URL, like redis://127.0.0.1:6379/0");
        return -1;
    }
    if (slash != NULL && slash[1] != '\0' && parse_db(slash + 1, strlen(slash + 1), &out->db) != 0) {
        snprintf(err, errlen, "expected a database number after the host, like redis://host:6379/2");
        return -1;
    }
    return 0;
}

int kve_redis_url_is_rest(const char *url)
{
    return url != NULL && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

int kve_redis_parse_url(const char *url, kve_redis_target_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(url, "unix://", 7) == 0) {
        if (parse_unix(url + 7, out, err, errlen) == 0)
            return 0;
    } else if (strncmp(url, "redis://", 8) == 0) {
        if (parse_tcp(url + 8, out, err, errlen) == 0)
            return 0;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        out->tls = 1;
        if (parse_tcp(url + 9, out, err, errlen) == 0)
            return 0;
    } else {
        snprintf(err, errlen,
                 "expected \"embedded\", a redis://, rediss:// or unix:// URL, or an http(s):// URL of a KV REST store");
    }
    kve_redis_target_dispose(out);
    return -1;
}

static int resolve_host(kve_redis_target_t *target, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res;
    char numeric[NI_MAXHOST];
    int ret;

    hints.ai_socktype = SOCK_STREAM;
    if ((ret = getaddrinfo(target->host, NULL, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve Redis host \"%s\": %s", target->host, gai_strerror(ret));
        return -1;
    }
    ret = getnameinfo(res->ai_addr, res->ai_addrlen, numeric, sizeof(numeric), NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (ret != 0) {
        snprintf(err, errlen, "cannot resolve Redis host \"%s\": %s", target->host, gai_strerror(ret));
        return -1;
    }
    free(target->host);
    target->host = kve_strdup(numeric);
    return 0;
}

SSL_CTX *kve_redis_tls_ctx_create(const kve_redis_conf_t *conf, const char *url_host, char *err, size_t errlen)
{
    const char *name = conf->tls_server_name != NULL && conf->tls_server_name[0] != '\0' ? conf->tls_server_name : url_host;
    SSL_CTX *ctx;

    if ((conf->tls_cert_file != NULL) != (conf->tls_key_file != NULL)) {
        snprintf(err, errlen, "a client certificate needs both tls_cert_file and tls_key_file");
        return NULL;
    }
    if ((ctx = kve_tls_client_ctx_create(name, strlen(name), conf->ca_file, err, errlen)) == NULL)
        return NULL;
    if (conf->tls_cert_file != NULL &&
        kve_tls_client_ctx_use_certificate(ctx, conf->tls_cert_file, conf->tls_key_file, err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* a rediss:// target: its context, and the name it verifies (what the URL says, before resolve_host) */
static int init_tls(kve_redis_target_t *target, const kve_redis_conf_t *conf, char *err, size_t errlen)
{
    if ((target->ssl_ctx = kve_redis_tls_ctx_create(conf, target->host, err, errlen)) == NULL)
        return -1;
    target->tls_server_name =
        kve_strdup(conf->tls_server_name != NULL && conf->tls_server_name[0] != '\0' ? conf->tls_server_name : target->host);
    return 0;
}

int kve_redis_target_init(kve_redis_target_t *target, const kve_redis_conf_t *conf, const char *embedded_path, char *err,
                          size_t errlen)
{
    if (strcmp(conf->url, "embedded") == 0) {
        memset(target, 0, sizeof(*target));
        target->path = kve_strdup(embedded_path);
    } else if (kve_redis_parse_url(conf->url, target, err, errlen) != 0) {
        return -1;
    } else if ((target->tls && init_tls(target, conf, err, errlen) != 0) ||
               (target->host != NULL && resolve_host(target, err, errlen) != 0)) {
        kve_redis_target_dispose(target);
        return -1;
    }
    if (conf->username != NULL && conf->username[0] != '\0') {
        free(target->username);
        target->username = kve_strdup(conf->username);
    }
    if (conf->password != NULL && conf->password[0] != '\0') {
        free(target->password);
        target->password = kve_strdup(conf->password);
    }
    return 0;
}

void kve_redis_target_forget_password(kve_redis_target_t *target)
{
    if (target->password != NULL) {
        OPENSSL_cleanse(target->password, strlen(target->password));
        free(target->password);
    }
    target->password = NULL;
}

void kve_redis_target_dispose(kve_redis_target_t *target)
{
    free(target->path);
    free(target->host);
    free(target->username);
    free(target->tls_server_name);
    if (target->ssl_ctx != NULL)
        SSL_CTX_free(target->ssl_ctx);
    kve_redis_target_forget_password(target);
    memset(target, 0, sizeof(*target));
}
