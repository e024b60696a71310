/* SPDX-License-Identifier: MIT */
/*
 * The configuration of a start without a config file, built from the environment (conf/env_config.h). Every value
 * is checked here first so that a bad one is reported by the name of its variable; what the loader checks again
 * (the token length, the Redis URL's form) it then reports against the synthesized text.
 */
#include "conf/env_config.h"
#include "proxy/buf.h"
#include "proxy/common.h"
#include "proxy/json.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define DEFAULT_HOST "127.0.0.1"
#define KV_PATH "/kv"

/* the value of the first of `names` that is set and not empty (NULL if none), and which one it was */
static const char *first_set(kve_env_lookup_t lookup, const char *const *names, size_t n, const char **name)
{
    for (size_t i = 0; i != n; ++i) {
        const char *v = lookup(names[i]);
        if (v != NULL && v[0] != '\0') {
            *name = names[i];
            return v;
        }
    }
    *name = NULL;
    return NULL;
}

/* RFC 6750's b64token: letters, digits and - . _ ~ + /, then '=' padding only */
static int check_token(const char *name, const char *v, char *err, size_t errlen)
{
    size_t len = strlen(v), i;
    for (i = 0; i != len && (isalnum((unsigned char)v[i]) || strchr("-._~+/", v[i]) != NULL); ++i)
        ;
    while (i != len && v[i] == '=')
        ++i;
    if (i != len) {
        snprintf(err, errlen,
                 "%s: a bearer token holds only letters, digits and - . _ ~ + / (then = padding) (RFC 6750); byte %zu is "
                 "0x%02x",
                 name, i + 1, (unsigned char)v[i]);
        return -1;
    }
    if (len < KVE_ENV_TOKEN_MIN || len > KVE_ENV_TOKEN_MAX) {
        snprintf(err, errlen, "%s: a token is %d to %d bytes long (e.g. the output of openssl rand -hex 32), this one %zu", name,
                 KVE_ENV_TOKEN_MIN, KVE_ENV_TOKEN_MAX, len);
        return -1;
    }
    return 0;
}

/* a decimal port 1..65535, digits only */
static int check_port(const char *name, const char *v, unsigned *port, char *err, size_t errlen)
{
    size_t len = strlen(v);
    unsigned long n = 0;
    for (size_t i = 0; i != len; ++i) {
        if (!isdigit((unsigned char)v[i]) || len > 5)
            goto Error;
        n = n * 10 + (v[i] - '0');
    }
    if (n < 1 || n > 65535)
        goto Error;
    *port = (unsigned)n;
    return 0;
Error:
    snprintf(err, errlen, "%s: expected a port number from 1 to 65535, got \"%.16s\"%s", name, v, len > 16 ? "..." : "");
    for (char *p = err; *p != '\0'; ++p) /* the value came from outside: only printable ASCII reaches the terminal */
        *p = (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ? '?' : *p;
    return -1;
}

/* an IPv4 or IPv6 address, or a host name of letters, digits, '-' and '.' */
static int check_host(const char *v, int *v6, char *err, size_t errlen)
{
    unsigned char addr[16];
    size_t len = strlen(v), i;

    *v6 = inet_pton(AF_INET6, v, addr) == 1;
    if (*v6 || inet_pton(AF_INET, v, addr) == 1)
        return 0;
    for (i = 0; i != len && (isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '.'); ++i)
        ;
    if (len > KVE_ENV_HOST_MAX || i != len || v[0] == '-' || v[0] == '.') {
        snprintf(err, errlen, "KVEDGE_HOST: expected an IP address or a host name to listen on (like 127.0.0.1 or ::1)");
        return -1;
    }
    return 0;
}

/* what the loader cannot get wrong but a terminal or a log could: no control bytes, no spaces unless `space`, a bounded
 * length */
static int check_printable(const char *name, const char *v, size_t max, int space, char *err, size_t errlen)
{
    size_t len = strlen(v);
    if (len > max) {
        snprintf(err, errlen, "%s: longer than %zu bytes", name, max);
        return -1;
    }
    for (size_t i = 0; i != len; ++i) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || (v[i] == ' ' && !space)) {
            snprintf(err, errlen, "%s: byte %zu is a control character%s (0x%02x)", name, i + 1, space ? "" : " or a space",
                     (unsigned char)v[i]);
            return -1;
        }
    }
    return 0;
}

/* a value written into the YAML text as it is: UTF-8 of characters YAML allows (libyaml refuses the others) */
static int check_yaml_printable(const char *name, const char *v, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t len = strlen(v), i = 0, n, bad;
    uint32_t cp;

    while (i != len) {
        if (s[i] < 0x80) {
            ++i;
            continue;
        }
        if ((n = kve_json_utf8_sequence(s + i, len - i, &bad)) == 0)
            goto Error;
        cp = s[i] & (0x7f >> n);
        for (size_t j = 1; j != n; ++j)
            cp = cp << 6 | (s[i + j] & 0x3f);
        if ((cp < 0xa0 && cp != 0x85) || (cp >= 0xd800 && cp < 0xe000) || cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
            goto Error;
        i += n;
    }
    return 0;
Error:
    snprintf(err, errlen, "%s: byte %zu is not UTF-8 of a printable character", name, i + 1);
    return -1;
}

/* KVEDGE_DATA_DIR, or kvedge-data in the current directory; made absolute so that it does not depend on where the
 * loader resolves relative paths of a file that has no folder */
static int data_dir(kve_env_lookup_t lookup, char *out, size_t size, char *err, size_t errlen)
{
    static const char *const names[] = {"KVEDGE_DATA_DIR"};
    const char *name, *v = first_set(lookup, names, 1, &name);
    char cwd[PATH_MAX];

    if (v != NULL &&
        (check_printable(name, v, KVE_ENV_PATH_MAX, 1, err, errlen) != 0 || check_yaml_printable(name, v, err, errlen) != 0))
        return -1;
    if (v != NULL && v[0] == '/') {
        snprintf(out, size, "%s", v);
        return 0;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(err, errlen, "cannot tell the current directory for data_dir (set KVEDGE_DATA_DIR)");
        return -1;
    }
    if ((size_t)snprintf(out, size, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, v != NULL ? v : "kvedge-data") >= size) {
        snprintf(err, errlen, "%s: the data directory's path is too long", v != NULL ? name : "data_dir");
        return -1;
    }
    /* the current directory's name could hold anything */
    name = "data_dir (the current directory; set KVEDGE_DATA_DIR)";
    return check_printable(name, out, size, 1, err, errlen) != 0 || check_yaml_printable(name, out, err, errlen) != 0 ? -1 : 0;
}

/*
 * `s` (checked: no control bytes, printable UTF-8) as a YAML double-quoted scalar; `$` doubled so the loader's ${ENV}
 * substitution gives it back as is, and the characters YAML takes for line breaks (NEL, LS, PS; a quoted scalar
 * folds them) escaped
 */
static void put_quoted(kve_buf_t *buf, const char *s)
{
    static const struct {
        const char *utf8, *escape;
    } breaks[] = {{"\xc2\x85", "\\N"}, {"\xe2\x80\xa8", "\\L"}, {"\xe2\x80\xa9", "\\P"}};
    size_t i;

    kve_buf_putc(buf, '"');
    while (*s != '\0') {
        for (i = 0; i != KVE_ARRAY_SIZE(breaks) && strncmp(s, breaks[i].utf8, strlen(breaks[i].utf8)) != 0; ++i)
            ;
        if (i != KVE_ARRAY_SIZE(breaks)) {
            kve_buf_append(buf, breaks[i].escape, 2);
            s += strlen(breaks[i].utf8);
            continue;
        }
        if (*s == '"' || *s == '\\')
            kve_buf_putc(buf, '\\');
        else if (*s == '$')
            kve_buf_putc(buf, '$');
        kve_buf_putc(buf, *s++);
    }
    kve_buf_putc(buf, '"');
}

/* the values to write, all checked */
typedef struct st_values_t {
    const char *host, *redis_name, *ro_name;
    unsigned port;
    int v6;
    char data_dir[KVE_ENV_PATH_MAX + PATH_MAX + 16];
} values_t;

static int read_values(kve_env_config_t *out, values_t *v, kve_env_lookup_t lookup, char *err, size_t errlen)
{
    static const char *const port_names[] = {"KVEDGE_PORT", "PORT"}, *const redis_names[] = {"KVEDGE_REDIS_URL", "REDIS_URL"},
                             *const host_names[] = {"KVEDGE_HOST"}, *const ro_names[] = {"KV_REST_API_READ_ONLY_TOKEN"};
    const char *name, *s, *redis;

    if (check_token("KV_REST_API_TOKEN", out->token, err, errlen) != 0)
        return -1;
    if ((out->read_only_token = first_set(lookup, ro_names, 1, &v->ro_name)) != NULL &&
        check_token(v->ro_name, out->read_only_token, err, errlen) != 0)
        return -1;
    v->port = DEFAULT_PORT;
    if ((s = first_set(lookup, port_names, 2, &name)) != NULL && check_port(name, s, &v->port, err, errlen) != 0)
        return -1;
    if ((v->host = first_set(lookup, host_names, 1, &name)) == NULL)
        v->host = DEFAULT_HOST;
    if (check_host(v->host, &v->v6, err, errlen) != 0)
        return -1;
    if ((redis = first_set(lookup, redis_names, 2, &v->redis_name)) != NULL &&
        check_printable(v->redis_name, redis, KVE_ENV_URL_MAX, 0, err, errlen) != 0)
        return -1;
    return data_dir(lookup, v->data_dir, sizeof(v->data_dir), err, errlen);
}

static char *render(const values_t *v)
{
    kve_buf_t buf = KVE_BUF_INIT;

    kve_buf_printf(&buf, "# kvedge configuration built from the environment (no -c). Save it with\n"
                         "#   kvedge --print-config > kvedge.yaml\n"
                         "# and run kvedge -c kvedge.yaml; every key is in docs/configuration.md. The tokens (and the Redis\n"
                         "# URL) stay in the environment: ${NAME} is read when kvedge starts.\n"
                         "listen:\n  - host: ");
    put_quoted(&buf, v->host);
    kve_buf_printf(&buf, "\n    port: %u\ndata_dir: ", v->port);
    put_quoted(&buf, v->data_dir);
    if (v->redis_name != NULL)
        kve_buf_printf(&buf, "\nredis: ${%s}\n", v->redis_name);
    else
        kve_buf_printf(&buf, "\nredis: embedded              # kvedge runs its own redis-server, data in data_dir\n");
    kve_buf_printf(&buf, "admin:\n  path: /                    # /healthz, /readyz, /metrics\n"
                         "kv:\n  path: " KV_PATH "\n  tokens:\n    - token: ${KV_REST_API_TOKEN}\n      name: KV_REST_API_TOKEN\n");
    if (v->ro_name != NULL)
        kve_buf_printf(&buf, "    - token: ${%s}\n      access: read-only\n      name: %s\n", v->ro_name, v->ro_name);
    kve_buf_reserve(&buf, 1)[0] = '\0';
    return buf.base;
}

/* where a client on this host reaches the API: a wildcard address is reached on loopback */
static void build_kv_url(kve_env_config_t *out, const values_t *v)
{
    const char *host = v->host;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (v->v6 && (strcmp(host, "::") == 0 || strcmp(host, "::0") == 0))
        host = "::1";
    snprintf(out->kv_url, sizeof(out->kv_url), "http://%s%s%s:%u" KV_PATH, v->v6 ? "[" : "", host, v->v6 ? "]" : "", v->port);
}

int kve_env_config_build(kve_env_config_t *out, kve_env_lookup_t lookup, char *err, size_t errlen)
{
    static const char *const token_names[] = {"KV_REST_API_TOKEN"};
    const char *name;
    values_t v = {NULL};

    memset(out, 0, sizeof(*out));
    if ((out->token = first_set(lookup, token_names, 1, &name)) == NULL)
        return 1;
    if (read_values(out, &v, lookup, err, errlen) != 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->yaml = render(&v);
    build_kv_url(out, &v);
    return 0;
}

void kve_env_config_print_env(const kve_env_config_t *env, FILE *out)
{
    fprintf(out, "KV_REST_API_URL=%s\nKV_REST_API_TOKEN=%s\n", env->kv_url, env->token);
    if (env->read_only_token != NULL)
        fprintf(out, "KV_REST_API_READ_ONLY_TOKEN=%s\n", env->read_only_token);
}

void kve_env_config_print_numbered(const kve_env_config_t *env, FILE *out)
{
    const char *line = env->yaml, *end;
    for (unsigned n = 1; *line != '\0'; ++n, line = *end != '\0' ? end + 1 : end) {
        end = line + strcspn(line, "\n");
        fprintf(out, "%5u | %.*s\n", n, (int)(end - line), line);
    }
}

void kve_env_config_dispose(kve_env_config_t *env)
{
    free(env->yaml);
    memset(env, 0, sizeof(*env));
}
